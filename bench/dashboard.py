"""Benchmark: the sales dashboard.

Targets (issue #19, both engines, 100,000 opportunities and 1,000,000 activities, flat from
10,000 to 1,000,000): the manager's dashboard ≤ 40 ms p50 / 60 ms p95, the quarter switch
≤ 30 ms, the funnel for a year ≤ 40 ms, the summary by location / business unit ≤ 30 ms, a
win or a stage move (roll-ups included) < 20 ms p50. Each size is loaded fresh and measured
as loaded: the load ends with ANALYZE (crmlite.database.analyze), no other vacuum.

Measured: the page a manager opens (this quarter, the whole team), the same figures for
another quarter as the switch asks for them (htmx), a rep's own page, the summary by
location and business unit over the year (on the page and its print view), and the funnel,
which the page loads in place in a second request (this quarter and the whole year for
the team, and a rep's own year).

    .venv/bin/python -m bench.dashboard [--engines sqlite,postgresql] [--sizes 10000,100000]
        [--activities_per_opportunity 10] [--loaded URL]

``--loaded URL`` measures a database filled earlier (``python -m bench.data``; e.g. a
million opportunities, which take SQLite 20 minutes to load) as it is, instead of loading
each size fresh; ``--engines`` then names its engine.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import func, select

from bench.harness import (
    Result,
    close_connections,
    engines_main,
    filled_app,
    fresh_or_loaded,
    get_ok,
    loaded_app,
    measure,
    signed_in_client,
)
from crmlite.extensions import db
from crmlite.models import Member, Opportunity
from crmlite.services import funnel, reference
from crmlite.services.periods import quarter_of
from crmlite.services.team import get_team, local_today

HTMX = {"HX-Request": "true", "HX-Target": "dashboard"}


def run(
    engine: str, opportunities: int, activities: int, members: int, loaded: str = ""
) -> list[Result]:
    print(f"dashboard benchmark: {engine}, {opportunities:,} opportunities", flush=True)
    with fresh_or_loaded(engine, f"dashboard{opportunities}", loaded) as url:
        if loaded:
            app = loaded_app(url)
            with app.app_context():
                opportunities = db.session.scalar(select(func.count(Opportunity.id))) or 0
        else:
            app = filled_app(
                url, opportunities=opportunities, activities=activities, members=members
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
            measure(
                app,
                "win or reopen (roll-ups kept)",
                engine,
                data,
                win_or_reopen(app),
                runs=60,
            ),
        ]
        close_connections(app)
    return results


def win_or_reopen(app: Flask) -> Callable[[int], None]:
    """Alternately win an open deal and reopen it, as the board's move does, committed:
    each changes the roll-ups of its month through the triggers."""
    with app.app_context():
        tz = ZoneInfo(get_team().time_zone)
        ids = list(
            db.session.scalars(
                select(Opportunity.id).where(Opportunity.closed_at.is_(None)).limit(60)
            )
        )

    def request(i: int) -> None:
        with app.app_context():
            opportunity = db.session.get(Opportunity, ids[(i // 2) % len(ids)])
            assert opportunity is not None and opportunity.account_manager_id is not None
            by = db.session.get(Member, opportunity.account_manager_id)
            assert by is not None
            stages = reference.stages()
            to = (
                next(s for s in stages if s.is_won)
                if opportunity.closed_at is None
                else next(s for s in stages if not s.is_closed)
            )
            funnel.move_to_stage(
                opportunity,
                to,
                by=by,
                expected_version=opportunity.version,
                tz=tz,
                checklist_confirmed=True,
                cancel_open_activities=False,
            )
            db.session.commit()

    return request


def main() -> None:
    engines_main(
        __doc__,
        "dashboard.json",
        lambda engine, args: [
            result
            for size in ([0] if args.loaded else args.sizes.split(","))
            for result in run(
                engine,
                int(size),
                int(size) * args.activities_per_opportunity,
                args.members,
                args.loaded,
            )
        ],
        sizes="10000,100000",
        activities_per_opportunity=10,
        members=50,
        loaded="",
    )


if __name__ == "__main__":
    main()
