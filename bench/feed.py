"""Benchmark: the calendar feed of a member with 2,000 events (issue #19).

Targets: the feed put together from its stored events in ≤ 100 ms, unchanged (304) in
≤ 5 ms; one changed activity costs one event's build. The member's events get notes (one
in two, by several authors), companies, contacts and opportunities, as a busy rep's do.

    .venv/bin/python -m bench.feed [--engines sqlite,postgresql] [--events 2000]
"""

from __future__ import annotations

import gc
import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update

from bench.harness import (
    Result,
    bench_database,
    close_connections,
    engines_main,
    filled_app,
    measure,
)
from crmlite.database import analyze
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    ActivityStatus,
    ActivityType,
    Company,
    Contact,
    Member,
    Opportunity,
    StoredCalendarEvent,
)
from crmlite.services.calendar_feed import FEED_FUTURE_DAYS, FEED_PAST_DAYS, start_subscription
from crmlite.services.members import find_by_email
from crmlite.services.team import get_team, local_today
from crmlite.web.calendar import feeds


def _add_events(member: Member, wanted: int, tz: ZoneInfo) -> None:
    """Activities for the member in the feed's window until it shows `wanted` of them."""
    rng = random.Random(19)
    today = local_today(tz)
    first, last = today - timedelta(days=FEED_PAST_DAYS), today + timedelta(days=FEED_FUTURE_DAYS)

    def ids(model: type) -> list[int]:
        return list(db.session.scalars(select(model.id).limit(2_000)))  # type: ignore[attr-defined]

    types, companies = ids(ActivityType), ids(Company)
    contacts, opportunities, authors = ids(Contact), ids(Opportunity), ids(Member)[:5]
    shown = (
        db.session.scalar(
            select(func.count(Activity.id)).where(
                Activity.assigned_to_id == member.id,
                Activity.due_on >= first,
                Activity.due_on <= last,
                Activity.email_from == "",
            )
        )
        or 0
    )
    now = datetime.now(UTC)
    rows = []
    for n in range(max(0, wanted - shown)):
        day = first + timedelta(days=rng.randrange((last - first).days + 1))
        timed = rng.random() < 0.6
        start = datetime.combine(day, time(rng.randrange(8, 17), rng.choice((0, 30))), tz)
        closed = day < today and rng.random() < 0.7
        rows.append(
            {
                "subject": f"Bench feed event {n} – call about the renewal",
                "type_id": rng.choice(types),
                "status": ActivityStatus.CLOSED.value if closed else ActivityStatus.OPEN.value,
                "company_id": rng.choice(companies),
                "contact_id": rng.choice(contacts),
                "phone": "(866) 544-2772",
                "opportunity_id": rng.choice(opportunities) if rng.random() < 0.5 else None,
                "campaign_id": None,
                "assigned_to_id": member.id,
                "assigned_by_id": None,
                "due_on": day,
                "starts_at": start.astimezone(UTC) if timed else None,
                "ends_at": (start + timedelta(minutes=45)).astimezone(UTC) if timed else None,
                "reminder_minutes": 15 if timed else None,
                "place": rng.choice(("On-Site", "Phone", "Remote")),
                "closed_at": now if closed else None,
                "closed_by_id": member.id if closed else None,
                "points_earned": 1 if closed else None,
                "email_from": "",
                "email_to": "",
                "email_message_id": None,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    made = list(db.session.scalars(insert(Activity).returning(Activity.id), rows))
    notes = [
        {
            "activity_id": activity_id,
            "author_id": rng.choice(authors),
            "created_at": now - timedelta(hours=k),
            "body": f"Spoke about the renewal; note {k}. " * 4,
        }
        for activity_id in made[::2]
        for k in range(rng.randrange(1, 4))
    ]
    if notes:
        db.session.execute(insert(ActivityNote), notes)
    db.session.commit()
    analyze(db.session())
    db.session.commit()


def run(engine: str, events: int) -> list[Result]:
    print(f"feed benchmark: {engine}", flush=True)
    with bench_database(engine, "feed") as url:
        app = filled_app(url, opportunities=5_000, activities=100_000, members=50)
        client = app.test_client()  # a calendar app: no session
        with app.app_context():
            tz = ZoneInfo(get_team().time_zone)
            me = find_by_email("bench-1@example.com")
            assert me is not None
            _add_events(me, events, tz)
            me = find_by_email("bench-1@example.com")
            assert me is not None
            url_path = f"/calendar/feed/{start_subscription(me)}.ics"
            me_id = me.id
            db.session.commit()

        def get(headers: dict[str, str] | None = None, status: int = 200) -> bytes:
            response = client.get(url_path, headers=headers or {})
            assert response.status_code == status, response.status_code
            return response.data

        shown = get().count(b"BEGIN:VEVENT")
        data = f"{shown:,} events in the feed"

        def first_build(_i: int) -> None:
            with app.app_context():
                db.session.execute(delete(StoredCalendarEvent))
                db.session.commit()
            feeds.clear()
            get()

        def from_store(_i: int) -> None:
            feeds.clear()  # as another process, or after a change elsewhere in the window
            get()

        with app.app_context():
            changeable = list(
                db.session.scalars(
                    select(Activity.id)
                    .where(Activity.assigned_to_id == me_id, Activity.subject.like("Bench feed%"))
                    .limit(200)
                )
            )

        def one_changed(i: int) -> None:
            with app.app_context():
                db.session.execute(
                    update(Activity)
                    .where(Activity.id == changeable[i % len(changeable)])
                    .values(subject=f"Bench feed event, changed {i}", version=Activity.version + 1)
                )
                db.session.commit()
            get()

        def settled() -> None:
            """As wsgi.py does in production: long-lived objects stay out of full GC passes,
            and what the runs before left (the first builds' events) is collected now rather
            than in the middle of the next measurement."""
            gc.collect()
            gc.freeze()

        results = []
        for name, request, runs, warmup in (
            ("feed, first build (nothing stored)", first_build, 5, 1),
            ("feed, from stored events", from_store, 30, 5),
            ("feed, one activity changed (+UPDATE)", one_changed, 30, 5),
            ("feed, unchanged (process cache)", lambda _i: get(), 60, 5),
        ):
            settled()
            results.append(measure(app, name, engine, data, request, runs, warmup))
        etag = client.get(url_path).headers["ETag"]
        settled()
        results.append(
            measure(
                app,
                "feed, unchanged (ETag, 304)",
                engine,
                data,
                lambda _i: get({"If-None-Match": etag}, 304),
            )
        )
        close_connections(app)
    return results


def main() -> None:
    engines_main(
        __doc__,
        "feed.json",
        lambda engine, args: run(engine, args.events),
        engines="sqlite,postgresql",
        events=2_000,
    )


if __name__ == "__main__":
    main()
