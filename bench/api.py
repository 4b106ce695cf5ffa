"""Benchmark: the JSON API (issue #17): a page of 100 opportunities, the next page by its
cursor, one opportunity, and a field change with If-Match.

    .venv/bin/python -m bench.api [--engines sqlite,postgresql] [--size 10000]
"""

from __future__ import annotations

import gc
import itertools

from sqlalchemy import select

from bench.harness import Result, bench_database, close_connections, engines_main, measure
from bench.harness import filled_app as _filled_app
from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import Member, Opportunity
from crmlite.services import api_tokens

API = "/api/v1"


def run(engine: str, size: int) -> list[Result]:
    print(f"API benchmark: {engine}, {size:,} opportunities", flush=True)
    with bench_database(engine, f"api{size}") as url:
        app = _filled_app(url, opportunities=size, activities=size * 3)
        with app.app_context():
            member = db.session.scalars(
                select(Member).where(Member.email == "bench-1@example.com")
            ).one()
            _token, secret = api_tokens.create_token(
                member, name="bench", scope="read-write", now=utcnow()
            )
            ids = list(
                db.session.scalars(select(Opportunity.id).order_by(Opportunity.id).limit(200))
            )
            db.session.commit()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {secret}"}
        gc.collect()
        gc.freeze()
        data = f"{size:,} opportunities"

        def get(url: str) -> None:
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)

        first = client.get(f"{API}/opportunities?limit=100", headers=headers).get_json()
        assert len(first["data"]) == 100
        results = [
            measure(
                app,
                "API list of 100 opportunities",
                engine,
                data,
                lambda _i: get(f"{API}/opportunities?limit=100"),
            ),
            measure(
                app,
                "API next page of 100 (cursor)",
                engine,
                data,
                lambda _i: get(first["next"]),
            ),
            measure(
                app,
                "API list of 100, filtered (q, status)",
                engine,
                data,
                lambda _i: get(f"{API}/opportunities?limit=100&status=open&q=a"),
            ),
            measure(
                app,
                "API one opportunity",
                engine,
                data,
                lambda i: get(f"{API}/opportunities/{ids[i % len(ids)]}"),
            ),
        ]
        ratings = itertools.cycle(["Hot", "Medium", "Cold"])

        def change(i: int) -> None:
            url = f"{API}/opportunities/{ids[i % len(ids)]}"
            tag = client.get(url, headers=headers).headers["ETag"]
            response = client.patch(
                url, json={"rating": next(ratings)}, headers={**headers, "If-Match": tag}
            )
            assert response.status_code == 200, response.get_json()

        results.append(
            measure(app, "API change (GET + PATCH If-Match)", engine, data, change, runs=60)
        )
        close_connections(app)
    return results


def main() -> None:
    engines_main(
        __doc__,
        "api.json",
        lambda engine, args: run(engine, args.size),
        engines="sqlite,postgresql",
        size=10000,
    )


if __name__ == "__main__":
    main()
