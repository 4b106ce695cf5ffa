"""Benchmark: one track runner pass over 10,000 active enrollments with 1,000 steps due.

Target (issue #8): under 10 s on SQLite. Half the due steps schedule an activity, half queue
an e-mail in the outbox (sending is the worker's, measured by bench.outbox); the 9,000 other
enrollments start later, so the runner must look at them and find nothing due. "Today" is
the next business day (nothing is due on a weekend).

    .venv/bin/python -m bench.tracks [--engines sqlite,postgresql]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from bench.data import table_of
from bench.harness import bench_database, engines_main, filled_app
from crmlite.extensions import db
from crmlite.models import Contact, Member, Track, TrackEnrollment
from crmlite.services import track_runner
from crmlite.services.business_days import first_business_day_from
from crmlite.services.team import get_team, local_today

ENROLLMENTS = 10_000
DUE = 1_000


def run(engine: str) -> dict[str, object]:
    with bench_database(engine, "tracks") as url:
        app = filled_app(url, opportunities=18_000, activities=0, members=50)
        with app.app_context():
            tz = ZoneInfo(get_team().time_zone)
            today = first_business_day_from(local_today(tz))
            contacts = list(
                db.session.scalars(select(Contact.id).order_by(Contact.id).limit(ENROLLMENTS))
            )
            assert len(contacts) == ENROLLMENTS, f"only {len(contacts)} contacts"
            member = db.session.scalar(select(Member.id).order_by(Member.id))
            general = db.session.scalar(select(Track.id).where(Track.name == "General Interest"))
            value_add = db.session.scalar(select(Track.id).where(Track.name == "Value-Add Review"))
            now = datetime.now(UTC)
            rows = []
            for index, contact_id in enumerate(contacts):
                due_today = index < DUE
                rows.append(
                    {
                        "track_id": general if index % 2 else value_add,
                        "contact_id": contact_id,
                        "enrolled_by_id": member,
                        "starts_on": today if due_today else today + timedelta(days=1 + index % 20),
                        "status": "active",
                        "paused_days": 0,
                        "created_at": now,
                    }
                )
            db.session.execute(insert(table_of(TrackEnrollment)), rows)
            db.session.commit()
            started = time.perf_counter()
            summary = track_runner.run_due_steps(today, tz, base="https://bench.example.com")
            seconds = time.perf_counter() - started
            active = db.session.scalar(
                select(func.count(TrackEnrollment.id)).where(TrackEnrollment.status == "active")
            )
            result = {
                "engine": engine,
                "enrollments": ENROLLMENTS,
                "active_after": active,
                "steps": summary.steps,
                "activities": summary.activities,
                "emails": summary.emails,
                "failed": summary.failed,
                "seconds": round(seconds, 2),
            }
            print(f"  runner pass ({engine}): {summary.line()} in {seconds:.2f} s", flush=True)
            db.engine.dispose()
    return result


def main() -> None:
    engines_main(__doc__, "tracks.json", lambda engine, _args: [run(engine)])


if __name__ == "__main__":
    main()
