"""Benchmark: the funnel board and a card move.

Targets (issue #3): the board with 10,000 open opportunities under 50 ms p95 on SQLite on a
2-core machine, a move under 20 ms; a constant number of SQL statements per request.

    .venv/bin/python -m bench.board [--engines sqlite,postgresql] [--sizes 1000,10000]
"""

from __future__ import annotations

import itertools
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
from crmlite.models import Opportunity
from crmlite.services import funnel, next_steps, statuses
from crmlite.services.team import get_team, local_today


def run(engine: str, size: int) -> list[Result]:
    print(f"board benchmark: {engine}, {size:,} open opportunities", flush=True)
    # bench.data makes most opportunities open; ask for enough to have `size` open ones.
    total = int(size * 1.4)
    with bench_database(engine, f"board{size}") as url:
        app = filled_app(url, opportunities=total, activities=size * 10)
        client = signed_in_client(app)
        with app.app_context():
            open_count = db.session.scalar(
                select(func.count(Opportunity.id)).where(statuses.is_open())
            )
            stages = [stage.id for stage in funnel.open_stages()]
            today = local_today(ZoneInfo(get_team().time_zone))
            # Cards that can move between open stages without a question: they have a next step.
            movable = list(
                db.session.scalars(
                    select(Opportunity.id)
                    .where(statuses.is_open(), next_steps.has_next_step(today))
                    .limit(200)
                )
            )
        data = f"{open_count:,} open opportunities"
        results = [measure(app, "board", engine, data, lambda _i: client.get("/board/"))]
        results.append(
            measure(
                app,
                "board filtered (search)",
                engine,
                data,
                lambda _i: client.get("/board/?q=dental"),
            )
        )

        targets = itertools.cycle(stages)

        def move(i: int) -> None:
            opportunity_id = movable[i % len(movable)]
            with app.app_context():
                opportunity = db.session.get(Opportunity, opportunity_id)
                assert opportunity is not None
                version = opportunity.version
                db.session.rollback()
            response = client.post(
                f"/board/opportunities/{opportunity_id}/move",
                data={"stage_id": next(targets), "version": version},
                headers={"HX-Request": "true"},
            )
            assert response.status_code == 200

        results.append(measure(app, "card move (incl. version read)", engine, data, move, runs=100))
        close_connections(app)
    return results


def main() -> None:
    engines_main(
        __doc__,
        "board.json",
        lambda engine, args: [
            result for size in args.sizes.split(",") for result in run(engine, int(size))
        ],
        engines="sqlite,postgresql",
        sizes="1000,10000",
    )


if __name__ == "__main__":
    main()
