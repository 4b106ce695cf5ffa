"""Benchmark: what webhooks cost a request, and how fast the worker delivers them.

- A card moved to Won through the web stack, with no webhook and with three webhooks
  subscribed to every event (each move then queues a stage change and the won hand-off for
  each: 6 deliveries, the won payload read in a constant number of statements).
- The worker delivering 1,000 queued events to a local HTTP receiver (its own process, as a
  real receiver would be), signed, one POST each: deliveries per second.

    .venv/bin/python -m bench.webhooks [--engines sqlite,postgresql] [--deliveries 1000]
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
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
from bench.outbox import free_port
from crmlite.extensions import db
from crmlite.models import Member, Opportunity, SalesStage, WebhookDelivery, WebhookSubscription
from crmlite.services import statuses, webhooks
from crmlite.services.team import get_team, local_today

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def start_receiver(port: int) -> subprocess.Popen[bytes]:
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return receiver
        time.sleep(0.1)
    receiver.terminate()
    raise RuntimeError("the receiver did not start")


def subscribe(url: str, count: int) -> list[int]:
    admin = db.session.scalars(select(Member).order_by(Member.id)).first()
    assert admin is not None
    ids = []
    for _ in range(count):
        subscription = webhooks.save_subscription(
            None,
            webhooks.SubscriptionValues(
                url=url, events=tuple(webhooks.EVENT_TYPES), allow_private=True
            ),
            by=admin,
        )
        ids.append(subscription.id)
    db.session.commit()
    return ids


def run(engine: str, deliveries: int) -> list[Result | dict[str, object]]:
    print(f"webhooks benchmark: {engine}", flush=True)
    results: list[Result | dict[str, object]] = []
    with bench_database(engine, "webhooks") as url:
        app = filled_app(url, opportunities=2_000, activities=0, members=20)
        client = signed_in_client(app)
        with app.app_context():
            won = db.session.scalars(select(SalesStage.id).where(SalesStage.is_won)).one()
            today = local_today(ZoneInfo(get_team().time_zone))
            open_ids = list(
                db.session.scalars(select(Opportunity.id).where(statuses.is_open()).limit(300))
            )
        port = free_port()
        receiver = start_receiver(port)
        try:
            ids = iter(open_ids)

            def move_to_won(_i: int) -> None:
                opportunity_id = next(ids)
                with app.app_context():
                    opportunity = db.session.get(Opportunity, opportunity_id)
                    assert opportunity is not None
                    version = opportunity.version
                    db.session.rollback()
                response = client.post(
                    f"/board/opportunities/{opportunity_id}/move",
                    data={
                        "stage_id": won,
                        "version": version,
                        "prompt": "won",
                        "won_amount": "6200.00",
                        "won_on": today.isoformat(),
                        "open_activities": "cancel",
                    },
                    headers={"HX-Request": "true"},
                )
                assert response.status_code == 200
                assert b"board-prompt" not in response.data, "the move asked a question"

            data = "2,000 opportunities"
            results.append(
                measure(app, "move to Won, no webhook", engine, data, move_to_won, runs=100)
            )
            with app.app_context():
                subscribe(f"http://127.0.0.1:{port}/in", 3)
            results.append(
                measure(app, "move to Won, 3 webhooks", engine, data, move_to_won, runs=100)
            )
            with app.app_context():
                queued = db.session.scalar(select(func.count(WebhookDelivery.id))) or 0
                won_now = db.session.scalar(
                    select(func.count(Opportunity.id)).where(Opportunity.stage_id == won)
                )
                print(f"  {won_now} won, {queued} deliveries queued by the moves", flush=True)
                subscription = db.session.scalars(select(WebhookSubscription)).first()
                assert subscription is not None
                admin = db.session.scalars(select(Member).order_by(Member.id)).first()
                assert admin is not None
                while queued < deliveries:
                    queued += webhooks.send_test(subscription, by=admin)
                db.session.commit()
                started = time.perf_counter()
                done = webhooks.deliver()
                seconds = time.perf_counter() - started
            assert done.sent == queued, (done, queued)
            rate = queued / seconds
            print(
                f"  worker delivered {queued:,} webhooks ({engine}): {seconds:.1f} s, "
                f"{rate:.0f} deliveries/s",
                flush=True,
            )
            results.append(
                {
                    "engine": engine,
                    "deliveries": queued,
                    "seconds": round(seconds, 2),
                    "deliveries_per_second": round(rate, 1),
                }
            )
        finally:
            receiver.terminate()
            receiver.wait(10)
            close_connections(app)
    return results


def main() -> None:
    engines_main(
        __doc__,
        "webhooks.json",
        lambda engine, args: run(engine, args.deliveries),
        deliveries=1_000,
    )


if __name__ == "__main__":
    main()
