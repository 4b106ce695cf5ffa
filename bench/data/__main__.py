"""``python -m bench.data``: the bench data set in the database the app is configured for."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench.data import generate
from crmlite import create_app
from crmlite.extensions import db
from crmlite.services.defaults import load_defaults


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.data`: load the defaults, then generate into the app's database."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.data",
        description="Generate a large, realistic data set fast (bulk inserts) for the "
        "benchmarks, in the database the app is configured for (DATABASE_URL).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--opportunities", type=_at_least(0), default=10_000, help="how many")
    parser.add_argument("--activities", type=_at_least(0), default=100_000, help="how many")
    parser.add_argument("--members", type=_at_least(1), default=50, help="bench-N@example.com")
    parser.add_argument("--seed", type=int, default=7, help="the same seed, the same data")
    args = parser.parse_args(argv)
    with create_app().app_context():
        load_defaults()
        db.session.commit()
        generate(
            opportunities=args.opportunities,
            activities=args.activities,
            members=args.members,
            seed=args.seed,
            echo=print,
        )


def _at_least(minimum: int) -> Callable[[str], int]:
    def whole(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        return value

    return whole


if __name__ == "__main__":
    main()
