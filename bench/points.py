"""Benchmark: the points leaderboard and one member's points summary.

Target (issue #5): under 200 ms p95 on SQLite, server side, with 1,000,000 activities in the
database and a team of 50; a constant number of SQL statements per request.

    .venv/bin/python -m bench.points [--engines sqlite,postgresql] [--activities 1000000]

Generating the data takes ~100 s on SQLite for a million activities (~170 s on PostgreSQL,
which is then vacuumed, as autovacuum would be by the time anyone reads the points). Last
month is measured (a full month of closed activities: what is printed at month end) as well
as this month (with its open activities listed under the summary).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bench.harness import (
    Result,
    bench_database,
    close_connections,
    engines_main,
    filled_app,
    get_ok,
    measure,
    signed_in_client,
)
from crmlite.extensions import db
from crmlite.models import Activity
from crmlite.services.members import find_by_email
from crmlite.services.periods import Month
from crmlite.services.team import get_team, local_today


def run(engine: str, activities: int, members: int) -> list[Result]:
    print(f"points benchmark: {engine}, {activities:,} activities, {members} members", flush=True)
    with bench_database(engine, "points") as url:
        app = filled_app(url, opportunities=10_000, activities=activities, members=members)
        if engine == "postgresql":
            # Autovacuum would have run long before anyone asks for a month's points; it
            # sets the visibility map that lets the totals come from the index alone.
            with app.app_context(), db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM (ANALYZE) activities"
                )
        # bench-1 is a manager (every tenth bench member is): they may see everyone.
        client = signed_in_client(app)
        with app.app_context():
            tz = ZoneInfo(get_team().time_zone)
            this_month = Month.of(local_today(tz))
            last_month = this_month.previous()
            assert last_month is not None
            member = find_by_email("bench-2@example.com")
            assert member is not None, "the bench data has bench-2, a rep"
            member_id = member.id
            start, end = last_month.bounds(tz)
            closed_last_month = db.session.scalar(
                select(func.count(Activity.id)).where(
                    Activity.closed_at >= start, Activity.closed_at < end
                )
            )
            db.session.rollback()
        data = (
            f"{activities:,} activities, {members} members, "
            f"{closed_last_month:,} closed in {last_month.key}"
        )
        results = [
            measure(app, "points: team, last month", engine, data,
                    get_ok(client, f"/points/?month={last_month.key}")),
            measure(app, "points: team, this month", engine, data,
                    get_ok(client, "/points/")),
            measure(app, "points: member, last month", engine, data,
                    get_ok(client, f"/points/members/{member_id}?month={last_month.key}")),
            measure(app, "points: member, this month", engine, data,
                    get_ok(client, f"/points/members/{member_id}")),
            measure(app, "points: member summary refresh", engine, data,
                    get_ok(client, f"/points/members/{member_id}/summary")),
            measure(app, "points: print all, last month", engine, data,
                    get_ok(client, f"/points/print?month={last_month.key}"), runs=20),
        ]  # fmt: skip
        close_connections(app)
    return results


def main() -> None:
    engines_main(
        __doc__,
        "points.json",
        lambda engine, args: run(engine, args.activities, args.members),
        activities=1_000_000,
        members=50,
    )


if __name__ == "__main__":
    main()
