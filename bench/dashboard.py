"""Benchmark: the sales dashboard.

Target (issue #6): the dashboard with 100,000 opportunities and 50 members under 200 ms
p95 on SQLite, server side, with a constant number of SQL statements.

Measured: the page a manager opens (this quarter, the whole team), the same figures for
another quarter as the switch asks for them (htmx), a rep's own page, the summary by
location and business unit over the year (on the page and its print view), and the funnel,
which the page loads in place in a second request (this quarter and the whole year for
the team, and a rep's own year).

    .venv/bin/python -m bench.dashboard [--engines sqlite,postgresql] [--opportunities 100000]
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

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
from crmlite.services.periods import quarter_of
from crmlite.services.team import get_team, local_today

HTMX = {"HX-Request": "true", "HX-Target": "dashboard"}


def run(engine: str, opportunities: int, activities: int, members: int) -> list[Result]:
    print(f"dashboard benchmark: {engine}, {opportunities:,} opportunities", flush=True)
    with bench_database(engine, "dashboard") as url:
        app = filled_app(url, opportunities=opportunities, activities=activities, members=members)
        if engine == "postgresql":
            # What autovacuum does to a live database after a bulk load: statistics for the
            # planner and a visibility map, so covering indexes are read without the table.
            with app.app_context(), db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE"
                )
        manager = signed_in_client(app, "bench-1@example.com")  # every tenth is a manager
        rep = signed_in_client(app, "bench-2@example.com")
        with app.app_context():
            today = local_today(ZoneInfo(get_team().time_zone))
        year, quarter = today.year, quarter_of(today)
        previous = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
        data = f"{opportunities:,} opportunities, {members} members"
        results = [
            measure(app, "dashboard (manager)", engine, data, get_ok(manager, "/dashboard/")),
            measure(
                app,
                "dashboard switch, last quarter",
                engine,
                data,
                get_ok(
                    manager,
                    f"/dashboard/?year={previous[0]}&quarter={previous[1]}&basis=margin",
                    HTMX,
                ),
            ),
            measure(app, "dashboard (rep)", engine, data, get_ok(rep, "/dashboard/")),
            measure(
                app,
                "dashboard, places over the year",
                engine,
                data,
                get_ok(manager, f"/dashboard/?year={year}&quarter={quarter}&period=year", HTMX),
            ),
            measure(
                app,
                "places print view, the year",
                engine,
                data,
                get_ok(manager, f"/dashboard/places?year={year}&quarter={quarter}&period=year"),
                runs=30,
            ),
            measure(
                app,
                "funnel, this quarter",
                engine,
                data,
                get_ok(manager, f"/dashboard/funnel?year={year}&quarter={quarter}", HTMX),
                runs=30,
            ),
            measure(
                app,
                "funnel, the whole year",
                engine,
                data,
                get_ok(
                    manager, f"/dashboard/funnel?year={year}&quarter={quarter}&period=year", HTMX
                ),
                runs=20,
            ),
            measure(
                app,
                "funnel, a rep's own year",
                engine,
                data,
                get_ok(rep, f"/dashboard/funnel?year={year}&quarter={quarter}&period=year", HTMX),
                runs=30,
            ),
        ]
        close_connections(app)
    return results


def main() -> None:
    engines_main(
        __doc__,
        "dashboard.json",
        lambda engine, args: run(engine, args.opportunities, args.activities, args.members),
        opportunities=100_000,
        activities=200_000,
        members=50,
    )


if __name__ == "__main__":
    main()
