"""Benchmark: the sales dashboard.

Target (issue #6): the dashboard with 100,000 opportunities and 50 members under 200 ms
p95 on SQLite, server side, with a constant number of SQL statements.

Measured: the page a manager opens (this quarter, the whole team), the same figures for
another quarter as the switch asks for them (htmx), a rep's own page, and the funnel,
which the page loads in place in a second request (this quarter and the whole year for
the team, and a rep's own year).

    .venv/bin/python -m bench.dashboard [--engines sqlite,postgresql] [--opportunities 100000]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from bench.harness import Result, bench_database, filled_app, measure, save, signed_in_client
from crmlite.extensions import db
from crmlite.services.dashboard import quarter_of
from crmlite.services.team import local_today

HTMX = {"HX-Request": "true", "HX-Target": "dashboard"}


def run(engine: str, opportunities: int, activities: int, members: int) -> list[Result]:
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
        today = local_today(ZoneInfo("America/Los_Angeles"))
        year, quarter = today.year, quarter_of(today)
        previous = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
        data = f"{opportunities:,} opportunities, {members} members"

        def get(
            client: FlaskClient, url: str, headers: dict[str, str] | None = None
        ) -> Callable[[int], None]:
            def request(_i: int) -> None:
                response = client.get(url, headers=headers or {})
                assert response.status_code == 200, (url, response.status_code)

            return request

        results = [
            measure(app, "dashboard (manager)", engine, data, get(manager, "/dashboard/")),
            measure(
                app,
                "dashboard switch, last quarter",
                engine,
                data,
                get(
                    manager,
                    f"/dashboard/?year={previous[0]}&quarter={previous[1]}&basis=margin",
                    HTMX,
                ),
            ),
            measure(app, "dashboard (rep)", engine, data, get(rep, "/dashboard/")),
            measure(
                app,
                "funnel, this quarter",
                engine,
                data,
                get(manager, f"/dashboard/funnel?year={year}&quarter={quarter}", HTMX),
                runs=30,
            ),
            measure(
                app,
                "funnel, the whole year",
                engine,
                data,
                get(manager, f"/dashboard/funnel?year={year}&quarter={quarter}&period=year", HTMX),
                runs=20,
            ),
            measure(
                app,
                "funnel, a rep's own year",
                engine,
                data,
                get(rep, f"/dashboard/funnel?year={year}&quarter={quarter}&period=year", HTMX),
                runs=30,
            ),
        ]
        with app.app_context():
            db.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engines", default="sqlite")
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=200_000)
    parser.add_argument("--members", type=int, default=50)
    args = parser.parse_args()
    results: list[Result] = []
    for engine in args.engines.split(","):
        print(f"dashboard benchmark: {engine}, {args.opportunities:,} opportunities", flush=True)
        results += run(engine, args.opportunities, args.activities, args.members)
    save(results, "dashboard.json")


if __name__ == "__main__":
    main()
