"""Benchmark: the calendar week (and the month, a drag move and the calendar feed).

Target: the week view of a member with 10,000 activities in the database under 30 ms p95
on SQLite, with a constant number of SQL statements.

    .venv/bin/python -m bench.calendar [--engines sqlite,postgresql] [--activities 500000]
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bench.harness import (
    Result,
    bench_database,
    close_connections,
    engines_main,
    filled_app,
    measure,
    signed_in_client,
)
from crmlite.extensions import db
from crmlite.models import Activity, ActivityStatus, Member
from crmlite.services.calendar import week_start
from crmlite.services.calendar_feed import FEED_FUTURE_DAYS, FEED_PAST_DAYS, start_subscription
from crmlite.services.members import find_by_email
from crmlite.services.team import get_team, local_today
from crmlite.web.calendar import feeds


def run(engine: str, activities: int) -> list[Result]:
    print(f"calendar benchmark: {engine}", flush=True)
    with bench_database(engine, "calendar") as url:
        # 50 members share the activities: ~10,000 each for 500,000.
        app = filled_app(url, opportunities=5_000, activities=activities, members=50)
        client = signed_in_client(app)  # bench-1, a manager
        with app.app_context():
            today = local_today(ZoneInfo(get_team().time_zone))
            monday = week_start(today)
            me = find_by_email("bench-1@example.com")
            assert me is not None
            others = list(
                db.session.scalars(
                    select(Member.id).where(Member.id != me.id).order_by(Member.id).limit(2)
                )
            )

            def count(*where) -> int:
                return db.session.scalar(select(func.count(Activity.id)).where(*where)) or 0

            mine = count(Activity.assigned_to_id == me.id)
            in_week = count(
                Activity.assigned_to_id == me.id,
                Activity.due_on >= monday,
                Activity.due_on < monday + timedelta(days=7),
            )
            in_feed = count(
                Activity.assigned_to_id == me.id,
                Activity.due_on >= today - timedelta(days=FEED_PAST_DAYS),
                Activity.due_on <= today + timedelta(days=FEED_FUTURE_DAYS),
            )
            movable = list(
                db.session.scalars(
                    select(Activity.id).where(
                        Activity.assigned_to_id == me.id,
                        Activity.status == ActivityStatus.OPEN.value,
                        Activity.starts_at.is_not(None),
                        Activity.due_on >= monday,
                        Activity.due_on < monday + timedelta(days=5),
                    )
                )
            )
            feed = f"/calendar/feed/{start_subscription(me)}.ics"
            me_id = me.id
            db.session.commit()
        data = f"{mine:,} of the member's, {in_week} this week"
        side_by_side = "/calendar/?" + "&".join(f"member_id={i}" for i in (me_id, *others))
        results = [
            measure(app, "week", engine, data, lambda _i: client.get("/calendar/")),
            measure(
                app,
                "week, 3 members side by side",
                engine,
                data,
                lambda _i: client.get(side_by_side),
            ),
            measure(app, "month", engine, data, lambda _i: client.get("/calendar/month")),
        ]

        def move(i: int) -> None:
            activity_id = movable[i % len(movable)]
            with app.app_context():
                activity = db.session.get(Activity, activity_id)
                assert activity is not None
                version = activity.version
                db.session.rollback()
            # To 13:00 or 14:30 on a day of the same week.
            response = client.post(
                f"/calendar/activities/{activity_id}/move",
                data={
                    "due_on": (monday + timedelta(days=i % 5)).isoformat(),
                    "start": "13:00" if i % 2 else "14:30",
                    "version": version,
                    "week": monday.isoformat(),
                },
                headers={"HX-Request": "true"},
            )
            assert response.status_code == 200
            assert b"Nothing moved" not in response.data

        if movable:
            results.append(measure(app, "drag move (incl. version read)", engine, data, move))

        def assemble_feed(_i: int) -> None:
            feeds.clear()  # as after a change: put together again from the stored events
            client.get(feed)

        # The feed's own benchmark (first build, one change, 304) is bench.feed.
        results += [
            measure(
                app, f"feed, stored events ({in_feed:,})", engine, data, assemble_feed, runs=20
            ),
            measure(app, "feed, unchanged (cached)", engine, data, lambda _i: client.get(feed)),
        ]
        close_connections(app)
    return results


def main() -> None:
    engines_main(
        __doc__,
        "calendar.json",
        lambda engine, args: run(engine, args.activities),
        engines="sqlite,postgresql",
        activities=500_000,
    )


if __name__ == "__main__":
    main()
