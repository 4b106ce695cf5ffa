"""The outbox and the worker against a real SMTP server (aiosmtpd, started here): two Sends
at once queue each message once, two workers at once deliver each message once, a server
that refuses and then accepts gets every message once, a 5xx is a visible failure, one
contact's messages arrive in order, and hostile names round-trip in the To header."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import func, select

from crmlite.database import utcnow, write_intent
from crmlite.extensions import db
from crmlite.models import (
    CampaignEmail,
    CampaignType,
    EmailSend,
    MarketingList,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Role,
    SendStatus,
)
from crmlite.services import (
    campaign_emails,
    campaign_sending,
    delivery,
    marketing_lists,
    outbox,
    worker,
)
from crmlite.services.campaigns import save_campaign
from crmlite.services.mailer import Mailer, MailSettings
from crmlite.services.outbox import Outgoing
from tests.conftest import page_token

BASE = "https://crm.example.com"
SENDER = "Spring <crm@example.com>"


class Sink:
    """An aiosmtpd handler keeping what it receives, in order. ``refuse`` answers RCPT for
    an address with a code; ``busy`` answers the next n RCPTs with 421 (try later)."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.refuse: dict[str, str] = {}
        self.busy = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            if self.busy > 0:
                self.busy -= 1
                return "421 4.3.2 Too busy, try again later"
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append(message)  # type: ignore[arg-type]
        return "250 Message accepted"

    def to(self) -> list[str]:
        return [m["To"].addresses[0].addr_spec for m in self.received]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def mailer(port: int) -> Mailer:
    return Mailer(
        MailSettings(server="127.0.0.1", port=port, use_tls=False, rate_per_second=0, timeout=5)
    )


@pytest.fixture()
def mailing(app, make_member, make_contact) -> tuple[CampaignEmail, MarketingList]:
    """A campaign e-mail and a group of 21 reachable contacts."""
    owner = make_member(name="Olive Owner", role=Role.MANAGER)
    email_type = db.session.scalars(select(CampaignType).where(CampaignType.name == "Email")).one()
    campaign = save_campaign(None, type_id=email_type.id, owner_id=owner.id, name="Spring mail")
    contacts = [make_contact(f"Lead{i}", "Smith", email=f"lead{i}@example.com") for i in range(21)]
    group = marketing_lists.create_list("Leads", by=owner)
    marketing_lists.add_contacts(group, [c.id for c in contacts])
    email = campaign_emails.save_email(
        None,
        campaign_id=campaign.id,
        subject="Hello {{ first_name }}",
        body_text="Hello {{ name }}, see https://example.com/offer",
        body_html="",
        by=owner,
    )
    db.session.commit()
    return email, group


def in_threads(app: Flask, count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(n)`` in ``count`` threads at once, each in its own app context and
    session, as separate processes would; errors are raised here."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            with app.app_context():
                token = write_intent.set(True)
                try:
                    start.wait(10)
                    results[n] = work(n)
                finally:
                    write_intent.reset(token)
                    db.session.remove()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    db.session.rollback()
    return results


def count(model: Any, *conditions: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


def test_two_sends_at_once_queue_each_contact_once(app, mailing) -> None:
    """Two tabs (or two managers) pressing Send on the same e-mail at the same moment."""
    email, group = mailing
    email_id, group_id = email.id, group.id  # read here: the threads have their own sessions

    def press_send(_n: int) -> int:
        found = db.session.get(CampaignEmail, email_id)
        queued = campaign_sending.queue_for_delivery(found, group_id, base=BASE, sender=SENDER)
        db.session.commit()
        return queued.queued

    queued = in_threads(app, 3, press_send)
    assert sum(queued) == 21
    assert count(EmailSend, EmailSend.email_id == email_id) == 21
    assert count(OutboxMessage) == 21
    assert len(set(db.session.scalars(select(OutboxMessage.to_address)))) == 21


def test_the_send_request_only_queues_in_a_fixed_number_of_statements(
    client, signed_in, mailing, make_contact, queries
) -> None:
    email, group = mailing
    signed_in(Role.MANAGER)
    url = f"/marketing/emails/{email.id}"
    token = page_token(client, url)
    with queries() as counted:
        response = client.post(f"{url}/send", data={"list_id": str(group.id), "csrf_token": token})
    assert response.status_code == 302
    few = counted.count
    assert count(OutboxMessage, OutboxMessage.status == "queued") == 21

    more = [make_contact(f"More{i}", email=f"more{i}@example.com") for i in range(40)]
    marketing_lists.add_contacts(group, [c.id for c in more])
    db.session.commit()
    with queries() as counted:
        client.post(f"{url}/send", data={"list_id": str(group.id), "csrf_token": token})
    assert counted.count == few  # 40 more contacts, not one statement more
    assert count(OutboxMessage) == 61


def test_two_workers_at_once_deliver_each_message_once(app, mailing, smtp) -> None:
    sink, port = smtp
    email, group = mailing
    campaign_sending.queue_for_delivery(email, group.id, base=BASE, sender=SENDER)
    db.session.commit()

    def work(_n: int) -> int:
        with mailer(port) as chosen:
            return delivery.deliver(chosen, sender=SENDER).sent

    sent = in_threads(app, 2, work)
    assert sum(sent) == 21
    assert sorted(sink.to()) == sorted(f"lead{i}@example.com" for i in range(21))
    assert count(OutboxMessage, OutboxMessage.status == "sent") == 21
    assert count(EmailSend, EmailSend.status == SendStatus.SENT.value) == 21
    message_ids = {m["Message-ID"] for m in sink.received}
    assert len(message_ids) == 21


def test_a_server_that_refuses_then_accepts_gets_every_message_once(app, mailing, smtp) -> None:
    sink, port = smtp
    email, group = mailing
    campaign_sending.queue_for_delivery(email, group.id, base=BASE, sender=SENDER)
    db.session.commit()
    sink.busy = 3  # three 421s in a row: each stops a run (and the rest waits its turn)
    moment = utcnow()
    runs = []
    for _ in range(10):
        with mailer(port) as chosen:
            done = delivery.deliver(chosen, sender=SENDER, now=lambda at=moment: at)
        runs.append(done)
        if not count(OutboxMessage, OutboxMessage.status.in_(outbox.WAITING)):
            break
        moment += timedelta(minutes=5)  # past every backoff so far
    assert ["421" in r.stopped for r in runs[:3]] == [True, True, True]
    assert sorted(sink.to()) == sorted(f"lead{i}@example.com" for i in range(21))
    assert count(OutboxMessage, OutboxMessage.status == "sent") == 21
    retried = db.session.scalars(select(OutboxMessage).where(OutboxMessage.attempts > 1)).all()
    # The first message met all three refusals: sent on its fourth attempt, error cleared.
    assert [(r.attempts, r.last_error) for r in retried] == [(4, "")]


def test_a_temporary_failure_backs_off_and_gives_up_after_the_last_attempt(
    app, mailing, smtp
) -> None:
    sink, port = smtp
    email, group = mailing
    campaign_sending.queue_for_delivery(email, group.id, base=BASE, sender=SENDER)
    db.session.commit()
    first = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    assert first is not None
    sink.busy = 10_000
    moment = utcnow()
    waits = []
    for _ in range(outbox.MAX_ATTEMPTS):
        with mailer(port) as chosen:
            delivery.deliver(chosen, sender=SENDER, now=lambda at=moment: at, limit=1)
        db.session.refresh(first)
        if first.status == "queued":
            waits.append(first.not_before - moment)
            moment = first.not_before
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert first.status == "failed" and first.last_error.startswith("gave up after 10 attempts")
    send = db.session.get(EmailSend, first.email_send_id)
    assert send is not None and send.status == SendStatus.FAILED.value


def test_a_5xx_is_a_permanent_failure_shown_on_the_page(
    app, client, signed_in, mailing, smtp
) -> None:
    sink, port = smtp
    email, group = mailing
    sink.refuse["lead3@example.com"] = "550 5.1.1 No such user here"
    campaign_sending.queue_for_delivery(email, group.id, base=BASE, sender=SENDER)
    db.session.commit()
    with mailer(port) as chosen:
        done = delivery.deliver(chosen, sender=SENDER)
    assert (done.sent, done.failed, done.stopped) == (20, 1, "")
    signed_in(Role.MANAGER)
    page = client.get(f"/marketing/emails/{email.id}").get_data(as_text=True)
    assert 'id="count-failed">1<' in page and 'id="count-sent">20<' in page
    assert "550 No such user here" in page or "550 5.1.1 No such user here" in page
    assert "Done, with failures" in page
    # Never tried again: a later run sends nothing more.
    with mailer(port) as chosen:
        assert (
            delivery.deliver(
                chosen, sender=SENDER, now=lambda: utcnow() + timedelta(days=1)
            ).handled
            == 0
        )


def test_one_contacts_messages_go_in_the_order_they_were_queued(app, make_contact, smtp) -> None:
    sink, port = smtp
    people = [make_contact(f"P{i}", email=f"p{i}@example.com") for i in range(6)]
    for day in (0, 3, 6):
        outbox.enqueue_many(
            (
                Outgoing(
                    key=f"track:{p.id}:{day}",
                    kind=OutboxKind.TRACK,
                    to_address=p.email,
                    subject=f"Day {day}",
                    body_text="Hello",
                    contact_id=p.id,
                )
                for p in people
            ),
            domain="example.com",
        )
    db.session.commit()

    def work(_n: int) -> int:
        total = 0
        while True:
            with mailer(port) as chosen:
                done = delivery.deliver(chosen, sender=SENDER, limit=2)
            total += done.sent
            if not done.handled:
                return total

    assert sum(in_threads(app, 2, work)) == 18
    for person in people:
        subjects = [
            m["Subject"] for m in sink.received if m["To"].addresses[0].addr_spec == person.email
        ]
        assert subjects == ["Day 0", "Day 3", "Day 6"], person.email


HOSTILE_NAMES = [
    "Seán O'Brien, Jr.",
    "Zoë <i>Q</i>",
    'Ann "The Hammer" Lee',
    "Dr. Ärger; <x@evil.example>",
    "李小龙",
    "a" * 150,
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_round_trip_in_the_to_header(app, make_contact, smtp, name: str) -> None:
    sink, port = smtp
    first, _, last = name.partition(" ")
    contact = make_contact(first[:100], last[:100], email="target@example.com")
    outbox.enqueue(
        Outgoing(
            key="name-test",
            kind=OutboxKind.TRACK,
            to_address=contact.email,
            to_name=contact.name,
            subject="Hi",
            body_text="Hello",
            contact_id=contact.id,
        ),
        domain="example.com",
    )
    db.session.commit()
    with mailer(port) as chosen:
        assert delivery.deliver(chosen, sender=SENDER).sent == 1
    (message,) = sink.received
    (to,) = message["To"].addresses  # one recipient, not two
    assert to.addr_spec == "target@example.com"
    assert to.display_name == contact.name
    assert message["Cc"] is None and message["Bcc"] is None


def test_a_message_whose_worker_died_is_sent_again_with_the_same_message_id(
    app, mailing, smtp
) -> None:
    sink, port = smtp
    email, group = mailing
    campaign_sending.queue_for_delivery(email, group.id, base=BASE, sender=SENDER)
    db.session.commit()
    taken = outbox.claim(5)  # a worker claims five, then dies
    assert len(taken) == 5
    with mailer(port) as chosen:
        assert delivery.deliver(chosen, sender=SENDER).sent == 16  # not the claimed ones
    later = utcnow() + outbox.LEASE + timedelta(seconds=1)
    with mailer(port) as chosen:
        assert delivery.deliver(chosen, sender=SENDER, now=lambda: later).sent == 5
    stored = {
        m.to_address: m.message_id
        for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(taken)))
    }
    for message in sink.received:
        address = message["To"].addresses[0].addr_spec
        if address in stored:
            assert message["Message-ID"] == stored[address]
    assert len(sink.received) == 21


def test_the_worker_keeps_going_and_waits_longer_while_the_server_is_down() -> None:
    assert worker.pause_after(0, 5) == 5
    assert [worker.pause_after(n, 5) for n in (1, 2, 3)] == [10, 20, 40]
    assert worker.pause_after(20, 5) == worker.MAX_PAUSE


def test_the_worker_loop_sends_then_stops_when_asked(app, mailing, smtp, monkeypatch) -> None:
    sink, port = smtp
    email, group = mailing
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", False)
    campaign_sending.queue_for_delivery(email, group.id, base=BASE, sender=SENDER)
    db.session.commit()
    stop = threading.Event()
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if count(OutboxMessage, OutboxMessage.status == "sent") == 21:
            stop.set()

    settings = worker.WorkerSettings(poll_seconds=0.1, base=BASE)
    timer = threading.Timer(30, stop.set)  # a safety net: the test fails below, not hangs
    timer.start()
    try:
        worker.run(settings, stop=stop, log=log)
    finally:
        timer.cancel()
    assert len(sink.received) == 21
    assert any(line.startswith("outbox: ") and "sent" in line for line in lines)
    statuses = set(db.session.scalars(select(OutboxMessage.status)))
    assert statuses == {OutboxStatus.SENT.value}


def test_the_outbox_page_shows_failures_and_a_failed_message_can_be_tried_again(
    app, client, signed_in, mailing, smtp
) -> None:
    sink, port = smtp
    email, group = mailing
    sink.refuse["lead3@example.com"] = "550 5.1.1 No such user here"
    campaign_sending.queue_for_delivery(email, group.id, base=BASE, sender=SENDER)
    db.session.commit()
    with mailer(port) as chosen:
        delivery.deliver(chosen, sender=SENDER)
    failed = db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed")).one()

    signed_in(Role.MANAGER)  # reps are refused: see test_permissions_matrix
    page = client.get("/marketing/outbox").get_data(as_text=True)
    row = re.search(rf'<tr id="message-{failed.id}">(.*?)</tr>', page, re.S)
    assert row and "lead3@example.com" in row.group(1) and "550" in row.group(1)
    campaign_row = re.search(r'<tr id="kind-campaign">(.*?)</tr>', page, re.S)
    assert campaign_row
    # Queued, Sending, Sent, Failed, Skipped
    assert re.findall(r'<td class="num">([^<]*)</td>', campaign_row.group(1)) == [
        "0",
        "0",
        "20",
        "1",
        "0",
    ]

    del sink.refuse["lead3@example.com"]  # the address was sorted out
    token = page_token(client, "/marketing/outbox")
    client.post(f"/marketing/outbox/{failed.id}/retry", data={"csrf_token": token})
    db.session.refresh(failed)
    assert (failed.status, failed.attempts, failed.last_error) == ("queued", 0, "")
    assert campaign_sending.send_counts(email.id).failed == 0
    with mailer(port) as chosen:
        assert delivery.deliver(chosen, sender=SENDER).sent == 1
    assert sink.to().count("lead3@example.com") == 1
    again = client.post(f"/marketing/outbox/{failed.id}/retry", data={"csrf_token": token})
    assert again.status_code == 302
    assert "Only a failed message can be tried again." in client.get("/marketing/outbox").get_data(
        as_text=True
    )
    assert (
        client.post("/marketing/outbox/999999/retry", data={"csrf_token": token}).status_code == 404
    )
