"""Benchmark: the board under load, as production serves it: gunicorn (3 sync workers, the
production configuration, the database the benchmark fills) and 16 clients asking for the
board at once for a while, each signed in as a member of the bench team.

Reports requests per second, the latency each client saw (p50/p95) and the errors (issue #16:
twice the throughput measured before it, 24 requests/s, with no errors).

    .venv/bin/python -m bench.board_load [--engines sqlite,postgresql] [--size 10000]
        [--seconds 20] [--clients 16] [--workers 3]

The clients are threads of this process (http.client, a new connection per request, as
gunicorn's sync workers close them); they share the 2 cores with the server, as a browser
on the same machine would.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.data import BENCH_PASSWORD
from bench.harness import bench_database, close_connections, engines_main, filled_app

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _request(
    port: int, method: str, path: str, cookie: str = "", body: str = ""
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": cookie} if cookie else {}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body or None, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _cookies(response: http.client.HTTPResponse) -> str:
    return "; ".join(
        header.split(";", 1)[0] for header in response.headers.get_all("Set-Cookie") or []
    )


def sign_in(port: int, email: str) -> str:
    """Sign in through the real form (CSRF and all); the session cookie to send."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/sign-in")
    page = conn.getresponse()
    html = page.read().decode()
    conn.close()
    cookie = _cookies(page)
    token = CSRF.search(html)
    assert token, "no CSRF token on the sign-in page"
    form = urlencode({"csrf_token": token.group(1), "email": email, "password": BENCH_PASSWORD})
    answer = _request(port, "POST", "/sign-in", cookie, form)
    assert answer.status == 302, f"sign-in failed: {answer.status}"
    return _cookies(answer) or cookie


def serve(url: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-secret-key-bench-secret-key",
        "CRMLITE_ENV": "production",
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "LOGIN_ACCOUNT_RATE_LIMIT": "1000 per minute",
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [
            str(gunicorn),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("gunicorn did not start")


def load(port: int, cookies: list[str], seconds: float) -> dict[str, Any]:
    """Every client asks for the board again as soon as it has it, for ``seconds``."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(cookie: str) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                status = _request(port, "GET", "/board/", cookie).status
            except OSError as error:
                status, detail = 0, str(error)
            else:
                detail = str(status)
            took = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(took)
                if status != 200:
                    errors.append(detail)

    threads = [threading.Thread(target=client, args=(cookie,)) for cookie in cookies]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 1),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
    }


def run(engine: str, size: int, seconds: int, clients: int, workers: int) -> dict[str, Any]:
    print(f"board under load: {engine}, {size:,} open opportunities", flush=True)
    with bench_database(engine, f"load{size}") as url:
        app = filled_app(url, opportunities=int(size * 1.4), activities=size * 10)
        close_connections(app)
        server, port = serve(url, workers)
        try:
            cookies = [sign_in(port, f"bench-{1 + n % 40}@example.com") for n in range(clients)]
            load(port, cookies, 3)  # every worker warm
            result = load(port, cookies, seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result.update(
        name=f"board under load ({workers} workers, {clients} clients)",
        engine=engine,
        data=f"{size:,} open opportunities",
    )
    print(
        f"  {result['per_second']} requests/s, p50 {result['p50_ms']} ms, "
        f"p95 {result['p95_ms']} ms, {result['errors']} errors",
        flush=True,
    )
    return result


def main() -> None:
    engines_main(
        __doc__,
        "board_load.json",
        lambda engine, args: [run(engine, args.size, args.seconds, args.clients, args.workers)],
        engines="sqlite,postgresql",
        size=10000,
        seconds=20,
        clients=16,
        workers=3,
    )


if __name__ == "__main__":
    main()
