"""Benchmark: pressing Send for a group of 10,000 contacts, then the worker draining the
outbox into a local SMTP sink (aiosmtpd's Sink, in its own process).

Targets (issue #15): the Send request queues all 10,000 in under 2 s; the worker keeps up
with the configured rate (MAIL_RATE_PER_SECOND, 5 by default): its own ceiling, with no
rate limit, is reported in messages per second.

    .venv/bin/python -m bench.outbox [--engines sqlite,postgresql] [--recipients 10000]
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from bench.data import table_of
from bench.harness import bench_database, engines_main, filled_app, signed_in_client
from crmlite.database import count_queries
from crmlite.extensions import db
from crmlite.models import (
    Campaign,
    CampaignEmail,
    CampaignType,
    Contact,
    MarketingList,
    MarketingListMember,
    Member,
    OutboxMessage,
    Role,
)
from crmlite.services import campaign_emails, campaign_sending, delivery
from crmlite.services.mailer import Mailer, MailSettings

SENDER = "Bench <bench@example.com>"
SINK = ["-c", "aiosmtpd.handlers.Sink"]


def start_sink(port: int) -> subprocess.Popen[bytes]:
    """aiosmtpd's Sink handler in its own process (as a real mail server would be: not
    sharing this process's interpreter), accepting and dropping every message."""
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", *SINK],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return sink
        time.sleep(0.1)
    sink.terminate()
    raise RuntimeError("the SMTP sink did not start")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fill(recipients: int) -> tuple[int, int, str]:
    """A campaign e-mail, a group of ``recipients`` new contacts; returns their ids and a
    manager's address to sign in with."""
    now = datetime.now(UTC)
    contacts = table_of(Contact)
    ids = list(
        db.session.scalars(
            insert(contacts).returning(contacts.c.id, sort_by_parameter_order=True),
            [
                {
                    "first_name": f"Reader{n}",
                    "last_name": "Bench",
                    "email": f"reader{n}@example.com",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(recipients)
            ],
        )
    )
    group = MarketingList(name="Bench readers")
    email_type = db.session.scalars(select(CampaignType).where(CampaignType.name == "Email")).one()
    campaign = Campaign(name="Bench mailing", type_id=email_type.id)
    db.session.add_all([group, campaign])
    db.session.flush()
    db.session.execute(
        insert(table_of(MarketingListMember)),
        [{"list_id": group.id, "contact_id": i, "added_at": now} for i in ids],
    )
    manager = db.session.scalars(
        select(Member).where(Member.role == Role.MANAGER.value).order_by(Member.id)
    ).first()
    assert manager is not None
    email = campaign_emails.save_email(
        None,
        campaign_id=campaign.id,
        subject="Hello {{ first_name }}",
        body_text="Hello {{ name }},\n\nSee https://example.com/offer.\n",
        body_html="",
        by=manager,
    )
    db.session.commit()
    return email.id, group.id, manager.email


def run(engine: str, recipients: int) -> dict[str, object]:
    with bench_database(engine, "outbox") as url:
        app = filled_app(url, opportunities=300, activities=0, members=20)
        with app.app_context():
            email_id, group_id, manager_email = fill(recipients)
        client = signed_in_client(app, manager_email)
        with app.app_context(), count_queries(db.engine) as counted:
            started = time.perf_counter()
            response = client.post(
                f"/marketing/emails/{email_id}/send", data={"list_id": str(group_id)}
            )
            send_seconds = time.perf_counter() - started
        assert response.status_code == 302, response.status_code
        with app.app_context():
            queued = db.session.scalar(select(func.count(OutboxMessage.id)))
            assert queued == recipients, queued
        print(
            f"  Send for {recipients:,} contacts ({engine}): {send_seconds * 1000:.0f} ms, "
            f"{counted.count} statements",
            flush=True,
        )

        port = free_port()
        sink = start_sink(port)
        try:
            settings = MailSettings(
                server="127.0.0.1", port=port, use_tls=False, rate_per_second=0, timeout=10
            )
            with app.app_context(), Mailer(settings) as mailer:
                started = time.perf_counter()
                done = delivery.deliver(mailer, sender=SENDER)
                drain_seconds = time.perf_counter() - started
                email = db.session.get(CampaignEmail, email_id)
                assert email is not None
                counts = campaign_sending.send_counts(email_id)
        finally:
            sink.terminate()
            sink.wait(10)
        assert done.sent == recipients == counts.sent, (done, counts)
        rate = recipients / drain_seconds
        print(
            f"  worker drained {recipients:,} into the SMTP sink ({engine}): "
            f"{drain_seconds:.1f} s, {rate:.0f} messages/s",
            flush=True,
        )
        with app.app_context():
            db.engine.dispose()
    return {
        "engine": engine,
        "recipients": recipients,
        "send_request_ms": round(send_seconds * 1000, 1),
        "send_request_statements": counted.count,
        "drain_seconds": round(drain_seconds, 2),
        "messages_per_second": round(rate, 1),
    }


def main() -> None:
    engines_main(
        __doc__,
        "outbox.json",
        lambda engine, args: [run(engine, args.recipients)],
        recipients=10_000,
    )


if __name__ == "__main__":
    main()
