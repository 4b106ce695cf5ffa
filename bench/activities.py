"""Benchmark: the activity list (a member's open activities, and the team's this week).

Target (issue #4): under 30 ms p95 on SQLite with a constant number of SQL statements, for
a member with 10,000 activities in the database.

    .venv/bin/python -m bench.activities [--engines sqlite,postgresql] [--activities 500000]
"""

from __future__ import annotations

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
from crmlite.models import Activity
from crmlite.services.members import find_by_email


def run(engine: str, activities: int) -> list[Result]:
    print(f"activity list benchmark: {engine}", flush=True)
    with bench_database(engine, "activities") as url:
        # 50 members share the activities: ~10,000 each for 500,000.
        app = filled_app(url, opportunities=5_000, activities=activities, members=50)
        client = signed_in_client(app)
        with app.app_context():
            member = find_by_email("bench-1@example.com")
            assert member is not None
            member_id = member.id
            mine = db.session.scalar(
                select(func.count(Activity.id)).where(Activity.assigned_to_id == member_id)
            )
        data = f"{activities:,} activities, {mine:,} the member's"
        results = [
            measure(
                app, "activity list: my open", engine, data, lambda _i: client.get("/activities/")
            ),
            measure(
                app,
                "activity list: my overdue",
                engine,
                data,
                lambda _i: client.get("/activities/?when=overdue"),
            ),
            measure(
                app,
                "activity list: my done",
                engine,
                data,
                lambda _i: client.get("/activities/?when=done"),
            ),
        ]
        close_connections(app)
    return results


def main() -> None:
    engines_main(
        __doc__,
        "activities.json",
        lambda engine, args: run(engine, args.activities),
        engines="sqlite,postgresql",
        activities=500_000,
    )


if __name__ == "__main__":
    main()
