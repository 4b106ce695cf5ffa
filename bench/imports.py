"""Benchmark: importing a generated 50,000-row contacts file (Pipedrive's column names,
500 companies, a few duplicated rows and bad addresses) through the worker's path —
count, check, write in one transaction, commit, ANALYZE.

Target (issue #17): under 60 s on SQLite on a 2-core machine, memory flat (the file is
streamed, no row is kept once written): the peak of Python's allocations while importing
(tracemalloc) is reported for 10,000 and 50,000 rows; what grows is the file itself (kept
with the job) and the index of e-mail addresses that finds duplicates. The board and the
contacts list are timed before and after the import (which refreshes the planner's
statistics).

    .venv/bin/python -m bench.imports [--engines sqlite,postgresql] [--rows 50000]
"""

from __future__ import annotations

import argparse
import random
import resource
import time
import tracemalloc
from typing import Any
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
from crmlite.models import Contact, ImportJob, Member
from crmlite.services.imports import jobs

TZ = ZoneInfo("America/Los_Angeles")
HEADER = "Person - Name,Person - Email,Person - Phone,Person - Organization,Person - Job title"


def contacts_file(rows: int, seed: int = 17) -> bytes:
    """A Pipedrive-style persons export: one row in 500 repeats an earlier one (a duplicate,
    skipped), one in 1,000 has an address that is not one (refused)."""
    rng = random.Random(seed)
    lines = [HEADER]
    for n in range(rows):
        if n and n % 500 == 0:
            lines.append(lines[rng.randrange(1, len(lines))])
            continue
        email = f"person{n}@example.com" if n % 1000 != 999 else f"person{n}@"
        lines.append(
            f"Person {n} Surname{n % 997},{email},+1 555 {n:07d},"
            f'"Company {n % 500}, Inc.",Title {n % 13}'
        )
    return ("\r\n".join(lines) + "\r\n").encode()


def import_once(content: bytes, by: Member) -> tuple[ImportJob, float]:
    job = jobs.start(content, "persons.csv", "contacts", by=by)
    jobs.set_columns(job, jobs.columns_of(job), "skip")
    jobs.queue(job)
    db.session.commit()
    started = time.perf_counter()
    handled = jobs.run_queued(TZ)
    elapsed = time.perf_counter() - started
    assert handled == 1
    db.session.expire_all()
    done = db.session.get(ImportJob, job.id)
    assert done is not None and done.status == "done", done and done.message
    return done, elapsed


def peak_memory(engine: str, rows: int) -> float:
    """Python's peak allocation (MB) while importing ``rows`` rows into an empty database."""
    with bench_database(engine, f"importmem{rows}") as url:
        app = filled_app(url, opportunities=10, activities=10, members=2)
        with app.app_context():
            by = db.session.scalars(select(Member).order_by(Member.id)).first()
            assert by is not None
            content = contacts_file(rows)
            tracemalloc.start()
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            import_once(content, by)
            peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
        close_connections(app)
    return round(peak / 1024 / 1024, 1)


def run(engine: str, args: argparse.Namespace) -> list[Result | dict[str, Any]]:
    results: list[Result | dict[str, Any]] = []
    content = contacts_file(args.rows)
    with bench_database(engine, "imports") as url:
        app = filled_app(url, opportunities=2_000, activities=5_000, members=20)
        client = signed_in_client(app)
        pages = {"board": get_ok(client, "/board/"), "contacts": get_ok(client, "/contacts")}
        for name, page in pages.items():
            results.append(measure(app, f"{name} page before import", engine, "2k deals", page))
        with app.app_context():
            by = db.session.scalars(select(Member).order_by(Member.id)).first()
            assert by is not None
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            job, elapsed = import_once(content, by)
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            contacts = db.session.scalar(select(func.count(Contact.id)))
            line = {
                "name": "import contacts",
                "engine": engine,
                "rows": args.rows,
                "file_mb": round(len(content) / 1024 / 1024, 1),
                "seconds": round(elapsed, 1),
                "rows_per_second": round(args.rows / elapsed),
                "created": job.created_count,
                "skipped": job.skipped_count,
                "errors": job.error_count,
                "contacts_after": contacts,
                "peak_rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
            }
            print(line, flush=True)
            results.append(line)
        for name, page in pages.items():
            after = f"+{args.rows:,} contacts"
            results.append(measure(app, f"{name} page after import", engine, after, page))
        close_connections(app)
    if engine == "sqlite":
        for rows in (10_000, args.rows):
            peak = peak_memory(engine, rows)
            line = {"name": "import peak memory", "engine": engine, "rows": rows, "peak_mb": peak}
            print(line, flush=True)
            results.append(line)
    return results


if __name__ == "__main__":
    engines_main(__doc__, "imports.json", run, rows=50_000)
