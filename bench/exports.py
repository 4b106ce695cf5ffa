"""Benchmark: exporting the board (every opportunity it shows) as CSV and XLSX, and the
whole database as the portable archive.

Target (issue #17): 10,000 opportunities exported streamed, memory flat — the rows are
read in batches and written as they come, never held all at once. Reports the time per
export (p50/p95 of a few runs), the SQL statements, and the peak of Python's memory
(tracemalloc, one run of its own, which it slows) and the size of the file.

    .venv/bin/python -m bench.exports [--engines sqlite,postgresql] [--size 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from typing import Any

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
from crmlite.services import archive


def _peak(request: Any) -> tuple[float, int]:
    """Peak Python memory (MB) of one call, and the bytes it returned."""
    tracemalloc.start()
    size = request()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return round(peak / 1_000_000, 1), size


def run(engine: str, args: argparse.Namespace) -> list[Result | dict[str, Any]]:
    size = args.size
    print(f"exports benchmark: {engine}, about {size:,} opportunities on the board", flush=True)
    results: list[Result | dict[str, Any]] = []
    with bench_database(engine, f"exports{size}") as url:
        # bench.data closes some deals in past quarters (not on the board): ask for more.
        app = filled_app(url, opportunities=int(size * 1.3), activities=size * 3)
        client = signed_in_client(app)
        first = client.get("/board/export.csv")
        rows = first.get_data(as_text=True).count("\n") - 1
        data = f"{rows:,} opportunities exported"
        for fmt in ("csv", "xlsx"):
            url_path = f"/board/export.{fmt}"

            def export(_i: int, url_path: str = url_path) -> int:
                # Read as a client would, chunk by chunk: the body is never held whole.
                response = client.get(url_path, buffered=False)
                assert response.status_code == 200
                size = sum(len(chunk) for chunk in response.iter_encoded())
                response.close()
                return size

            result = measure(app, f"board export {fmt}", engine, data, export, runs=5, warmup=1)
            peak_mb, file_bytes = _peak(lambda export=export: export(0))
            results.append(result)
            results.append(
                {
                    "name": f"board export {fmt}: memory",
                    "engine": engine,
                    "rows": rows,
                    "peak_python_mb": peak_mb,
                    "file_kb": round(file_bytes / 1000),
                }
            )
            print(f"  {fmt}: peak Python memory {peak_mb} MB, file {file_bytes / 1000:.0f} kB")

        with app.app_context(), tempfile.TemporaryFile() as target:
            started = time.perf_counter()
            manifest = archive.write_archive(target)
            seconds = time.perf_counter() - started
            total = sum(t["rows"] for t in manifest["tables"])
            target.seek(0, 2)
            results.append(
                {
                    "name": "archive of the whole database",
                    "engine": engine,
                    "rows": total,
                    "seconds": round(seconds, 2),
                    "file_kb": round(target.tell() / 1000),
                }
            )
            print(f"  archive: {total:,} rows in {seconds:.2f} s, {target.tell() / 1000:.0f} kB")
            db.session.remove()
        close_connections(app)
    return results


def main() -> None:
    engines_main(__doc__, "exports.json", run, engines="sqlite", size=10_000)


if __name__ == "__main__":
    main()
