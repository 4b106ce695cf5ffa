"""Benchmark: the funnel board beside its floor, the change poll, and a card move.

Targets (issue #16), on both engines, with 10,000 and 100,000 open opportunities: the board
at most 1.3 × the floor measured in the same run, the two taking turns request by request
(``bench/board_floor.py``: a minimal Flask + SQLAlchemy + Jinja page of 300 cards from the
same database), p95 under 30 ms, at most 600 bytes of HTML per card; the change poll under
3 ms; a card move under 15 ms p50; a constant number of SQL statements per request. Under
load: ``bench/board_load.py``.

    .venv/bin/python -m bench.board [--engines sqlite,postgresql] [--sizes 10000,100000]
        [--loaded URL]

``--loaded URL`` measures a database filled earlier by ``python -m bench.data`` as it is
(``--engines`` then names its engine).
"""

from __future__ import annotations

import itertools
import re
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bench.board_floor import floor_app
from bench.harness import (
    Result,
    close_connections,
    engines_main,
    filled_app,
    fresh_or_loaded,
    loaded_app,
    measure,
    measure_together,
    signed_in_client,
)
from crmlite.extensions import db
from crmlite.models import Opportunity
from crmlite.services import board_live, funnel, next_steps, statuses
from crmlite.services.team import get_team, local_today

CARD = re.compile(rb'<li class="board-card.*?</li>', re.S)


def card_bytes(html: bytes) -> dict[str, Any]:
    """How many cards the page holds, and their HTML's bytes per card."""
    cards = CARD.findall(html)
    return {
        "cards": len(cards),
        "bytes_per_card": round(sum(len(card) for card in cards) / max(1, len(cards))),
        "page_bytes": len(html),
    }


def run(engine: str, size: int, loaded: str = "") -> list[Result | dict[str, Any]]:
    print(f"board benchmark: {engine}, {size:,} open opportunities", flush=True)
    # bench.data makes most opportunities open; ask for enough to have `size` open ones.
    total = int(size * 1.4)
    with fresh_or_loaded(engine, f"board{size}", loaded) as url:
        if loaded:
            app = loaded_app(url)
        else:
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
        floor = floor_app(url).test_client()
        results: list[Result | dict[str, Any]] = []
        # Taking turns, request by request: the ratio holds even when the machine's speed
        # drifts during the run (it did by half, minute to minute, on a busy host).
        board, floor_result = measure_together(
            app,
            {
                "board": lambda _i: client.get("/board/"),
                "floor (minimal page, 300 cards)": lambda _i: floor.get("/"),
            },
            engine,
            data,
            runs=120,
        )
        rep = signed_in_client(app, "bench-2@example.com")  # a rep: may move only their own
        results += [
            board,
            floor_result,
            measure(app, "board (rep)", engine, data, lambda _i: rep.get("/board/")),
        ]
        html = client.get("/board/").data
        results.append(
            {
                "name": "board size",
                "engine": engine,
                "data": data,
                "times_floor_p50": round(board.p50_ms / floor_result.p50_ms, 2),
                **card_bytes(html),
            }
        )
        print(f"  board / floor: {board.p50_ms / floor_result.p50_ms:.2f} ×; {card_bytes(html)}")
        with app.app_context():
            version = board_live.version()
        results.append(
            measure(
                app,
                "change poll (nothing changed)",
                engine,
                data,
                lambda _i: client.get(f"/board/changes?since={version}"),
            )
        )
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
            result
            for size in ([0] if args.loaded else args.sizes.split(","))
            for result in run(engine, int(size), args.loaded)
        ],
        engines="sqlite,postgresql",
        sizes="10000,100000",
        loaded="",
    )


if __name__ == "__main__":
    main()
