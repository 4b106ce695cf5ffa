"""Run every benchmark (`make bench`); ENGINES=sqlite,postgresql to include PostgreSQL.

Each one builds its own throw-away database, so this takes a while (the points benchmark
generates 1,000,000 activities)."""

from __future__ import annotations

import os
import subprocess
import sys

BENCHMARKS = [
    "board",
    "calendar",
    "feed",
    "activities",
    "points",
    "dashboard",
    "tracks",
    "api",
    "exports",
]


def main() -> int:
    engines = os.environ.get("ENGINES", "sqlite")
    for name in BENCHMARKS:
        print(f"== bench.{name} ({engines})", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{name}", "--engines", engines], check=False
        )
        if done.returncode:
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
