"""Shared benchmark plumbing: a throw-away database filled by ``bench.data.generate``,
a signed-in test client, and timing with percentiles and SQL statement counts.

Timings are server side: the whole request through Flask (routing, queries, rendering),
in-process, without the network.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.data import BENCH_PASSWORD, generate
from crmlite import create_app
from crmlite.config import TestConfig
from crmlite.database import count_queries
from crmlite.extensions import db
from crmlite.services.defaults import load_defaults

RESULTS = Path(__file__).parent / "results"


@dataclass
class Result:
    name: str
    engine: str
    data: str
    runs: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    queries: int

    def line(self) -> str:
        return (
            f"{self.name:<34} {self.engine:<10} {self.data:<34} p50 {self.p50_ms:7.1f} ms  "
            f"p95 {self.p95_ms:7.1f} ms  queries {self.queries}"
        )


@contextmanager
def bench_database(engine: str, label: str) -> Iterator[str]:
    """A fresh database: a temp SQLite file, or a new PostgreSQL database next to
    BENCH_POSTGRES_URL (default: the local server's `test` database)."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench-{label}.sqlite"
        return
    base = make_url(
        os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    name = f"crmlite_bench_{label}_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_or_loaded(engine: str, label: str, loaded: str) -> Iterator[str]:
    """A fresh database (``bench_database``), or ``loaded``: the URL of one a bench load
    filled earlier (a million opportunities take SQLite 20 minutes to load), measured as
    it is and kept."""
    if loaded:
        yield loaded
        return
    with bench_database(engine, label) as url:
        yield url


def loaded_app(url: str) -> Flask:
    """The app on a database filled earlier by ``bench.data`` (``python -m bench.data``)."""
    return create_app(TestConfig(url), WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)


def filled_app(url: str, *, opportunities: int, activities: int, members: int = 50) -> Flask:
    app = create_app(TestConfig(url), WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    with app.app_context():
        db.create_all()
        load_defaults()
        db.session.commit()
        started = time.perf_counter()
        generate(
            opportunities=opportunities,
            activities=activities,
            members=members,
            seed=7,
            echo=lambda _msg: None,
        )
        print(
            f"  generated {opportunities:,} opportunities and {activities:,} activities "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    return app


def close_connections(app: Flask) -> None:
    """Close the app's pooled connections, so its database can be dropped."""
    with app.app_context():
        db.engine.dispose()


def signed_in_client(app: Flask, email: str = "bench-1@example.com") -> FlaskClient:
    client = app.test_client()
    response = client.post("/sign-in", data={"email": email, "password": BENCH_PASSWORD})
    assert response.status_code == 302, f"bench sign-in failed ({response.status_code})"
    # As wsgi.py does in production: long-lived objects stay out of full GC passes.
    gc.collect()
    gc.freeze()
    return client


def get_ok(
    client: FlaskClient, url: str, headers: dict[str, str] | None = None
) -> Callable[[int], None]:
    """A request for `measure`: GET `url`, failing unless the answer is 200."""

    def request(_i: int) -> None:
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200, (url, response.status_code)

    return request


def measure(
    app: Flask,
    name: str,
    engine: str,
    data: str,
    request: Callable[[int], Any],
    runs: int = 60,
    warmup: int = 5,
) -> Result:
    """Time `request(i)` `runs` times after `warmup` calls; count the SQL of the last one."""
    return measure_together(app, {name: request}, engine, data, runs=runs, warmup=warmup)[0]


def measure_together(
    app: Flask,
    requests: dict[str, Callable[[int], Any]],
    engine: str,
    data: str,
    runs: int = 60,
    warmup: int = 5,
) -> list[Result]:
    """Time several requests taking turns (one of each, `runs` times, after `warmup` of
    each), so that a page and the floor it is compared with meet the machine's same
    moments: a machine slowing down for a while slows both alike. The SQL of each one's
    last call is counted."""
    for i in range(warmup):
        for request in requests.values():
            request(i)
    timings: dict[str, list[float]] = {name: [] for name in requests}
    for i in range(runs):
        for name, request in requests.items():
            started = time.perf_counter()
            request(warmup + i)
            timings[name].append((time.perf_counter() - started) * 1000)
    results = []
    for name, request in requests.items():
        with app.app_context(), count_queries(db.engine) as counted:
            request(warmup + runs)
        times = sorted(timings[name])
        results.append(
            Result(
                name,
                engine,
                data,
                runs,
                round(statistics.median(times), 2),
                round(times[int(len(times) * 0.95) - 1], 2),
                round(times[-1], 2),
                counted.count,
            )
        )
    return results


def save(results: Sequence[Result | dict[str, Any]], file_name: str) -> None:
    """Write the results to bench/results/`file_name` and print the timed ones."""
    RESULTS.mkdir(exist_ok=True)
    rows = [asdict(r) if isinstance(r, Result) else r for r in results]
    (RESULTS / file_name).write_text(json.dumps(rows, indent=2))
    for result in results:
        if isinstance(result, Result):
            print(result.line())


def engines_main(
    doc: str | None,
    file_name: str,
    run: Callable[[str, argparse.Namespace], Sequence[Result | dict[str, Any]]],
    *,
    engines: str = "sqlite",
    **options: int | str,
) -> None:
    """A benchmark's command line: `--engines` (comma-separated) and a `--name` flag per
    option, typed by its default; `run(engine, args)` for each engine, then `save`."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--engines", default=engines)
    for name, default in options.items():
        parser.add_argument(f"--{name}", type=type(default), default=default)
    args = parser.parse_args()
    results: list[Result | dict[str, Any]] = []
    for engine in args.engines.split(","):
        results += run(engine, args)
    save(results, file_name)
