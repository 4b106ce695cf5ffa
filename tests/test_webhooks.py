"""Webhooks (issue #17): Standard Webhooks signatures (the spec's example and the receiver's
own check), delivery to a real HTTP receiver on loopback, a receiver failing twice then
answering (retried with backoff on a fake clock), the SSRF rule on save and at delivery
time, admins only, the won hand-off payload, and events queued once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from standardwebhooks import Webhook, WebhookVerificationError

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import (
    AuditEntry,
    ForecastLine,
    Member,
    Opportunity,
    OpportunityType,
    Role,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from crmlite.services import (
    activities,
    events,
    funnel,
    outbox,
    webhook_targets,
    webhooks,
)
from crmlite.services.companies import ContactValues, save_contact
from crmlite.services.opportunities import create_opportunity
from crmlite.services.webhook_targets import TargetRefused
from crmlite.services.worker import WorkerSettings, run_round
from tests.conftest import page_token, stage

UTC_ZONE = ZoneInfo("UTC")
PUBLIC_IP = "93.184.216.34"


# ---------------------------------------------------------------- helpers


class Receiver:
    """An HTTP server on 127.0.0.1 keeping each request; answers with ``codes`` in turn
    (then 200)."""

    def __init__(self, codes: list[int] | None = None) -> None:
        self.codes = list(codes or [])
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.received.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/crm?team=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def subscribe(
    url: str = "https://hooks.example.com/crm",
    event_names: tuple[str, ...] = tuple(webhooks.EVENT_TYPES),
    *,
    by: Member,
    allow_private: bool = False,
    active: bool = True,
) -> WebhookSubscription:
    subscription = webhooks.save_subscription(
        None,
        webhooks.SubscriptionValues(
            url=url, events=event_names, allow_private=allow_private, active=active
        ),
        by=by,
        resolver=lambda host, port: [PUBLIC_IP],
    )
    db.session.commit()
    return subscription


def deliveries(event_type: str | None = None) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if event_type:
        query = query.where(WebhookDelivery.event_type == event_type)
    return list(db.session.scalars(query))


@pytest.fixture()
def admin(make_member) -> Member:
    return make_member(name="Ada Admin", role=Role.ADMIN, email="ada@example.com")


@pytest.fixture()
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name resolves to a public address (no DNS needed in the tests)."""
    monkeypatch.setattr(webhook_targets, "system_resolver", lambda host, port: [PUBLIC_IP])


# ---------------------------------------------------------------- signatures


def test_the_signature_matches_the_standard_webhooks_example() -> None:
    """The example published with the Standard Webhooks specification."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    at = datetime.fromtimestamp(1614265330, tz=UTC)
    payload = '{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    headers = webhooks.signed_headers(secret, msg_id, at, payload)
    assert headers == {
        "webhook-id": msg_id,
        "webhook-timestamp": "1614265330",
        "webhook-signature": expected,
    }
    # The same by hand: HMAC-SHA256 of "id.timestamp.body" with the base64-decoded secret.
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.1614265330.{payload}".encode(), hashlib.sha256).digest()
    assert "v1," + base64.b64encode(digest).decode() == expected


def test_a_receiver_verifies_with_the_secret_and_refuses_a_forgery() -> None:
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    payload = webhooks.body("webhook.test", utcnow(), {"amount": "6200.00", "name": "Tows R Us"})
    headers = webhooks.signed_headers(secret, "msg_1", utcnow(), payload)
    assert Webhook(secret).verify(payload, headers)["data"] == {
        "amount": "6200.00",
        "name": "Tows R Us",
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(payload, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(payload.replace("6200.00", "9999.00"), headers)


# ---------------------------------------------------------------- the SSRF rule


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://[::1]:8080/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://240.0.0.1/", "reserved"),
        ("http://100.64.0.1/", "reserved"),
        ("ftp://hooks.example.com/", "Only http"),
        ("file:///etc/passwd", "Only http"),
        ("gopher://hooks.example.com/", "Only http"),
        ("https://user:secret@hooks.example.com/", "user name"),
        ("https:///no-host", "host name"),
        ("", "Enter the URL"),
        ("https://hooks.example.com/a b", "spaces"),
    ],
)
def test_targets_inside_the_network_and_odd_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(TargetRefused, match=why):
        webhook_targets.check_url(url, allow_private=False, resolver=lambda h, p: [PUBLIC_IP])


def test_a_name_is_refused_when_any_of_its_addresses_is_inside() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return [PUBLIC_IP, "10.0.0.7"]

    with pytest.raises(TargetRefused, match=r"hooks\.example\.com \(10\.0\.0\.7\) is a private"):
        webhook_targets.check_url(
            "https://hooks.example.com/", allow_private=False, resolver=resolver
        )


def test_public_targets_pass_and_private_ones_only_when_allowed() -> None:
    target = webhook_targets.check_url(
        "https://Hooks.Example.com:8443/in?x=1",
        allow_private=False,
        resolver=lambda h, p: [PUBLIC_IP],
    )
    assert (target.scheme, target.host, target.port, target.path, target.address) == (
        "https",
        "hooks.example.com",
        8443,
        "/in?x=1",
        PUBLIC_IP,
    )
    inside = webhook_targets.check_url("http://127.0.0.1:9000/", allow_private=True)
    assert inside.address == "127.0.0.1"
    with pytest.raises(TargetRefused, match="Only http"):
        webhook_targets.check_url("ftp://127.0.0.1/", allow_private=True)


# ---------------------------------------------------------------- the pages and rights


def test_saving_a_target_inside_is_a_form_error_and_nothing_is_saved(
    client: FlaskClient, signed_in
) -> None:
    signed_in(Role.ADMIN)
    token = page_token(client, "/setup/webhooks/")
    typed = "http://169.254.169.254/latest/meta-data/"
    response = client.post(
        "/setup/webhooks/",
        data={"csrf_token": token, "url": typed, "events": ["opportunity.won"], "active": "y"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "link-local address (such as the cloud metadata service)" in html
    assert 'class="field-error" id="url-error"' in html
    assert f'value="{typed}"' in html  # what was typed is kept
    assert db.session.scalar(select(WebhookSubscription.id)) is None


def test_an_unknown_event_or_none_is_a_form_error(
    client: FlaskClient, signed_in, public_dns
) -> None:
    signed_in(Role.ADMIN)
    token = page_token(client, "/setup/webhooks/")
    for events_sent in ([], ["opportunity.exploded"]):
        response = client.post(
            "/setup/webhooks/",
            data={"csrf_token": token, "url": "https://hooks.example.com/", "events": events_sent},
        )
        assert response.status_code == 200
        assert 'id="events-error"' in response.get_data(as_text=True)
    assert db.session.scalar(select(WebhookSubscription.id)) is None


def test_an_admin_adds_a_webhook_sees_its_secret_and_private_targets_are_audited(
    client: FlaskClient, signed_in, public_dns
) -> None:
    ada = signed_in(Role.ADMIN, name="Ada Admin")
    token = page_token(client, "/setup/webhooks/")
    response = client.post(
        "/setup/webhooks/",
        data={
            "csrf_token": token,
            "url": "https://hooks.example.com/crm",
            "events": ["opportunity.won", "contact.created"],
            "active": "y",
        },
    )
    assert response.status_code == 303
    subscription = db.session.scalars(select(WebhookSubscription)).one()
    assert subscription.event_names == ["opportunity.won", "contact.created"]
    assert not subscription.allow_private
    page = client.get(f"/setup/webhooks/{subscription.id}").get_data(as_text=True)
    assert subscription.secret in page
    # Pointing it inside, with private targets allowed: saved, and audited.
    response = client.post(
        f"/setup/webhooks/{subscription.id}",
        data={
            "csrf_token": token,
            "url": "http://10.0.0.5:8080/crm",
            "events": ["opportunity.won"],
            "active": "y",
            "allow_private": "y",
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(WebhookSubscription, subscription.id).allow_private
    summaries = list(
        db.session.scalars(
            select(AuditEntry.summary)
            .where(AuditEntry.kind == "webhook_changed")
            .order_by(AuditEntry.id)
        )
    )
    assert summaries == [
        "Ada Admin added the webhook “https://hooks.example.com/crm”",
        "Ada Admin changed the webhook “http://10.0.0.5:8080/crm” (private targets allowed)",
    ]
    assert ada.id is not None


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REP])
def test_managers_and_reps_may_not_see_or_change_webhooks(
    client: FlaskClient, signed_in, make_member, role: Role
) -> None:
    subscription = subscribe(by=make_member(role=Role.ADMIN))
    signed_in(role)
    token = page_token(client, "/")
    assert client.get("/setup/webhooks/").status_code == 403
    assert client.get(f"/setup/webhooks/{subscription.id}").status_code == 403
    for url in (
        "/setup/webhooks/",
        f"/setup/webhooks/{subscription.id}",
        f"/setup/webhooks/{subscription.id}/test",
        f"/setup/webhooks/{subscription.id}/delete",
    ):
        response = client.post(url, data={"csrf_token": token, "url": "https://x.example/"})
        assert response.status_code == 403, url
    assert deliveries() == []
    assert db.session.get(WebhookSubscription, subscription.id) is not None


def test_send_test_event_queues_a_test_delivery(client: FlaskClient, signed_in) -> None:
    ada = signed_in(Role.ADMIN)
    subscription = subscribe(by=ada, event_names=("contact.created",))
    token = page_token(client, f"/setup/webhooks/{subscription.id}")
    response = client.post(f"/setup/webhooks/{subscription.id}/test", data={"csrf_token": token})
    assert response.status_code == 303
    (queued,) = deliveries()
    assert queued.event_type == "webhook.test"
    assert json.loads(queued.payload)["data"]["webhook_id"] == subscription.id


# ---------------------------------------------------------------- delivery


def test_delivery_to_a_local_receiver_is_signed_and_logged(
    client: FlaskClient, signed_in, make_member
) -> None:
    ada = signed_in(Role.ADMIN)
    with Receiver() as receiver:
        subscription = subscribe(receiver.url, ("opportunity.created",), by=ada, allow_private=True)
        cory = make_member(name="Cory Ferguson")
        opportunity = create_opportunity(
            name="Tows R Us - Managed Services - Complete",
            by=cory,
            company_name="Tows R Us",
            contact_name="Shane Swanson",
            revenue=Decimal("6200.00"),
        )
        db.session.commit()
        run = webhooks.deliver()
    assert (run.sent, run.failed, run.retrying) == (1, 0, 0)
    (request,) = receiver.received
    assert request["path"] == "/hooks/crm?team=1"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["host"] == receiver.url.split("/")[2]
    (delivery,) = deliveries()
    assert headers["webhook-id"] == delivery.message_id
    event = Webhook(subscription.secret).verify(request["body"], headers)
    assert event["type"] == "opportunity.created"
    data = event["data"]["opportunity"]
    assert data["id"] == opportunity.id
    assert data["stage"] == "Prospect"
    assert data["revenue"] == "6200.00"
    assert data["company"]["name"] == "Tows R Us"
    assert data["contact"]["name"] == "Shane Swanson"
    assert data["owner"]["name"] == "Cory Ferguson"
    db.session.expire_all()
    assert db.session.get(WebhookDelivery, delivery.id).status == "sent"
    page = client.get(f"/setup/webhooks/{subscription.id}").get_data(as_text=True)
    log = page[page.index('id="webhook-log"') :]
    assert "opportunity.created" in log and ">200<" in log and "delivered" in log


def test_a_receiver_failing_twice_gets_it_on_the_third_attempt_with_backoff(admin: Member) -> None:
    t0 = utcnow()
    clock = {"now": t0}
    with Receiver(codes=[500, 503]) as receiver:
        subscription = subscribe(receiver.url, ("contact.created",), by=admin, allow_private=True)
        webhooks.send_test(subscription, by=admin, now=t0)
        db.session.commit()

        def deliver_at(offset: timedelta) -> webhooks.Run:
            clock["now"] = t0 + offset
            return webhooks.deliver(now=lambda: clock["now"])

        assert deliver_at(timedelta(0)).retrying == 1
        (row,) = deliveries()
        assert row.attempts == 1 and row.not_before == t0 + timedelta(minutes=1)
        assert row.last_error.startswith("HTTP 500")
        assert deliver_at(timedelta(seconds=59)).handled == 0  # not due yet
        assert deliver_at(timedelta(minutes=1)).retrying == 1
        db.session.expire_all()
        assert deliveries()[0].not_before == t0 + timedelta(minutes=3)  # 2 minutes later
        assert deliver_at(timedelta(minutes=2, seconds=59)).handled == 0
        assert deliver_at(timedelta(minutes=3)).sent == 1
        assert deliver_at(timedelta(hours=1)).handled == 0
    db.session.expire_all()
    (row,) = deliveries()
    assert (row.status, row.attempts, row.response_code) == ("sent", 3, 200)
    assert row.sent_at == t0 + timedelta(minutes=3)
    # The same message each time: one webhook-id, each attempt signed at its own time.
    ids = {r["headers"]["webhook-id"] for r in receiver.received}
    stamps = [int(r["headers"]["webhook-timestamp"]) for r in receiver.received]
    assert ids == {row.message_id} and len(receiver.received) == 3
    assert stamps == [int((t0 + timedelta(minutes=m)).timestamp()) for m in (0, 1, 3)]
    last = receiver.received[-1]
    assert Webhook(subscription.secret).verify(last["body"], last["headers"])["type"] == (
        "webhook.test"
    )
    log = [
        (line.attempt.attempt, line.attempt.response_code, line.attempt.outcome)
        for line in webhooks.attempts_of(subscription.id)
    ]
    assert log == [(3, 200, "sent"), (2, 503, "retrying"), (1, 500, "retrying")]


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        (400, "failed", "failed"),
        (410, "failed", "failed"),
        (301, "failed", "failed"),
        (408, "queued", "retrying"),
        (429, "queued", "retrying"),
        (502, "queued", "retrying"),
    ],
)
def test_what_each_answer_means(admin: Member, code: int, status: str, outcome: str) -> None:
    subscription = subscribe(by=admin, event_names=("contact.created",))
    webhooks.send_test(subscription, by=admin)
    db.session.commit()
    run = webhooks.deliver(
        resolver=lambda h, p: [PUBLIC_IP],
        send=lambda target, body, headers, timeout: webhooks.Answer(code, "nope"),
    )
    assert run.outcomes == [outcome]
    db.session.expire_all()
    (row,) = deliveries()
    assert (row.status, row.response_code) == (status, code)
    assert row.last_error == f"HTTP {code} nope"


def test_no_answer_is_retried_and_the_last_attempt_fails_for_good(admin: Member) -> None:
    subscription = subscribe(by=admin, event_names=("contact.created",))
    webhooks.send_test(subscription, by=admin)
    db.session.commit()

    def timeout(target: Any, body: bytes, headers: Any, seconds: float) -> webhooks.Answer:
        raise TimeoutError("timed out")

    clock = {"now": utcnow()}
    for _ in range(outbox.MAX_ATTEMPTS):
        run = webhooks.deliver(
            now=lambda: clock["now"], resolver=lambda h, p: [PUBLIC_IP], send=timeout
        )
        assert run.handled == 1
        clock["now"] += outbox.MAX_BACKOFF
    db.session.expire_all()
    (row,) = deliveries()
    assert (row.status, row.attempts, row.response_code) == ("failed", 10, None)
    assert "gave up after 10 attempts: TimeoutError: timed out" in row.last_error


def test_delivery_is_refused_when_the_name_points_inside_by_then(admin: Member) -> None:
    """Saved while hooks.example.com was public; at delivery time it resolves inside (DNS
    rebinding): refused, nothing sent, the reason in the log."""
    subscription = subscribe(by=admin, event_names=("contact.created",))
    webhooks.send_test(subscription, by=admin)
    db.session.commit()
    sent: list[Any] = []
    run = webhooks.deliver(
        resolver=lambda h, p: ["10.0.0.5"],
        send=lambda *args: sent.append(args) or webhooks.Answer(200),
    )
    assert run.failed == 1 and sent == []
    db.session.expire_all()
    (row,) = deliveries()
    assert row.status == "failed"
    assert "hooks.example.com (10.0.0.5) is a private address" in row.last_error
    (line,) = webhooks.attempts_of(subscription.id)
    assert line.attempt.response_code is None and "refused" in line.attempt.error


def test_the_connection_goes_to_the_checked_address(admin: Member) -> None:
    """The name resolves once, is checked, and that very address is connected to (the
    receiver on 127.0.0.1 answers for "hooks.internal", which no DNS knows)."""
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        subscription = subscribe(
            f"http://127.0.0.1:{port}/in", ("contact.created",), by=admin, allow_private=True
        )
        subscription.url = f"http://hooks.internal:{port}/in"
        webhooks.send_test(subscription, by=admin)
        db.session.commit()
        run = webhooks.deliver(resolver=lambda h, p: ["127.0.0.1"])
    assert run.sent == 1
    assert receiver.received[0]["headers"]["Host"] == f"hooks.internal:{port}"


def test_a_paused_webhook_keeps_its_deliveries_waiting(admin: Member) -> None:
    subscription = subscribe(by=admin, event_names=("contact.created",), active=False)
    webhooks.send_test(subscription, by=admin)
    db.session.commit()
    assert webhooks.deliver(send=lambda *a: webhooks.Answer(200)).handled == 0
    subscription.active = True
    db.session.commit()
    run = webhooks.deliver(resolver=lambda h, p: [PUBLIC_IP], send=lambda *a: webhooks.Answer(204))
    assert run.sent == 1


# ---------------------------------------------------------------- what is queued, once


def test_the_won_payload_carries_the_hand_off(
    admin: Member, make_member, make_company, make_contact
) -> None:
    subscribe(by=admin, event_names=("opportunity.won", "opportunity.stage_changed"))
    cory = make_member(name="Cory Ferguson", email="cory@example.com")
    company = make_company(
        "Tows R Us",
        street="1600 Mill Rock Way",
        city="Bakersfield",
        region="CA",
        postal_code="93311",
        country="United States",
    )
    shane = make_contact("Shane", "Swanson", email="shane@towsrus.example", company_id=company.id)
    product = db.session.scalars(select(OpportunityType).order_by(OpportunityType.id)).first()
    deal = Opportunity(
        name="Tows R Us - Managed Services - Complete",
        stage_id=stage("Commitment").id,
        status_id=funnel.status().id,
        revenue=Decimal("6200.00"),
        cost=Decimal("1200.00"),
        account_manager_id=cory.id,
        company_id=company.id,
        contact_id=shane.id,
    )
    db.session.add(deal)
    db.session.flush()
    db.session.add_all(
        [
            ForecastLine(
                opportunity_id=deal.id,
                product_id=product.id,
                description="3 sites",
                revenue=Decimal("5000.00"),
                cost=Decimal("1200.00"),
            ),
            ForecastLine(
                opportunity_id=deal.id,
                description="Onboarding",
                revenue=Decimal("1200.00"),
                cost=Decimal("0.00"),
                include_in_forecast=False,
            ),
        ]
    )
    db.session.commit()
    funnel.move_to_stage(
        deal,
        stage("Won"),
        by=cory,
        expected_version=deal.version,
        tz=UTC_ZONE,
        won_amount=Decimal("6000.00"),
        won_on=date.today(),
    )
    db.session.commit()
    (won,) = deliveries("opportunity.won")
    event = json.loads(won.payload)
    assert event["type"] == "opportunity.won"
    assert event["timestamp"].endswith("Z")
    data = event["data"]
    assert data["opportunity"]["name"] == "Tows R Us - Managed Services - Complete"
    assert data["opportunity"]["stage"] == "Won" and data["opportunity"]["status"] == "Won"
    assert data["amounts"] == {
        "won_amount": "6000.00",
        "revenue": "6200.00",
        "cost": "1200.00",
        "margin": "5000.00",
        "margin_percent": "80.6",
    }
    assert data["company"]["name"] == "Tows R Us"
    assert data["company"]["address"]["postal_code"] == "93311"
    assert data["contact"]["email"] == "shane@towsrus.example"
    assert data["owner"] == {
        "id": cory.id,
        "name": "Cory Ferguson",
        "email": "cory@example.com",
        "title": "",
    }
    assert data["won_by"]["id"] == cory.id
    lines = data["forecast_lines"]
    assert [(line["product"], line["revenue"], line["cost"], line["margin"]) for line in lines] == [
        (product.name, "5000.00", "1200.00", "3800.00"),
        (None, "1200.00", "0.00", "1200.00"),
    ]
    assert [line["include_in_forecast"] for line in lines] == [True, False]
    (moved,) = deliveries("opportunity.stage_changed")
    assert json.loads(moved.payload)["data"]["from_stage"] == "Commitment"


def test_an_event_reported_twice_or_a_retried_move_is_queued_once(
    client: FlaskClient, signed_in, make_opportunity
) -> None:
    ada = signed_in(Role.ADMIN)
    subscribe(by=ada, event_names=("opportunity.lost", "opportunity.stage_changed"))
    deal = make_opportunity(stage_name="Discovery", account_manager_id=ada.id)
    version = deal.version
    token = page_token(client, "/board/")
    data = {
        "stage_id": stage("Lost").id,
        "version": version,
        "prompt": "lost",
        "lost_reason": "Went with the status quo",
        "open_activities": "cancel",
    }
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    for _ in range(2):  # the same request sent again (a double click, a retry)
        response = client.post(f"/board/opportunities/{deal.id}/move", data=data, headers=headers)
        assert response.status_code == 200
    assert len(deliveries("opportunity.lost")) == 1
    assert len(deliveries("opportunity.stage_changed")) == 1
    # The same event published again (a handler run twice) adds nothing either.
    db.session.expire_all()
    lost = db.session.get(Opportunity, deal.id)
    (row,) = deliveries("opportunity.lost")
    at = datetime.fromisoformat(json.loads(row.payload)["timestamp"].replace("Z", "+00:00"))
    again = events.Lost(lost, by=ada, at=at, today=at.date())
    webhooks.on_lost(again)
    webhooks.on_lost(again)
    assert len(deliveries("opportunity.lost")) == 1


def test_each_event_is_queued_from_its_service_for_the_webhooks_naming_it(
    admin: Member, make_member, make_activity
) -> None:
    everything = subscribe(by=admin)
    only_contacts = subscribe("https://contacts.example.com/", ("contact.created",), by=admin)
    cory = make_member(name="Cory Ferguson")
    contact = save_contact(None, ContactValues(first_name="Jason", last_name="Rivas"))
    call = make_activity(cory, subject="1st Appointment with Jason", code="SA")
    activities.close_activity(call, by=cory)
    db.session.commit()
    queued = {(d.event_type, d.subscription_id) for d in deliveries()}
    assert queued == {
        ("contact.created", everything.id),
        ("contact.created", only_contacts.id),
        ("activity.completed", everything.id),
    }
    (done,) = deliveries("activity.completed")
    data = json.loads(done.payload)["data"]
    assert data["activity"]["subject"] == "1st Appointment with Jason"
    assert data["activity"]["type"]["code"] == "SA" and data["activity"]["points"] == 10
    assert data["completed_by"]["name"] == "Cory Ferguson"
    created = json.loads(deliveries("contact.created")[0].payload)["data"]["contact"]
    assert created["id"] == contact.id and created["name"] == "Jason Rivas"


def test_the_web_form_queues_its_events(client: FlaskClient, admin: Member, make_member) -> None:
    from crmlite.models import Campaign, CampaignType
    from crmlite.services.tracking import WebLead, submit_web_form

    subscribe(
        by=admin, event_names=("web_form.submitted", "contact.created", "opportunity.created")
    )
    kind = db.session.scalars(select(CampaignType).order_by(CampaignType.id)).first()
    campaign = Campaign(name="Website - Website - 2026", type_id=kind.id, owner_id=admin.id)
    db.session.add(campaign)
    db.session.commit()
    lead = WebLead(
        name="Jason Rivas",
        email="jason@chartec.example",
        company="CharTec",
        message="A phone system upgrade",
    )
    submission = submit_web_form(campaign, lead, tz=UTC_ZONE)
    db.session.commit()
    assert sorted(d.event_type for d in deliveries()) == [
        "contact.created",
        "opportunity.created",
        "web_form.submitted",
    ]
    data = json.loads(deliveries("web_form.submitted")[0].payload)["data"]
    assert data["submission"]["id"] == submission.id
    assert data["submission"]["message"] == "A phone system upgrade"
    assert data["campaign"]["name"] == "Website - Website - 2026"
    assert data["opportunity_id"] == submission.opportunity_id


def test_nothing_is_built_when_no_webhook_listens(admin: Member, queries) -> None:
    subscribe(by=admin, event_names=("contact.created",))
    with queries() as counted:
        assert (
            webhooks.queue("opportunity.won", "k", lambda: pytest.fail("built"), at=utcnow()) == 0
        )
    assert counted.count == 1


def test_the_webhook_page_reads_a_constant_number_of_queries(
    client: FlaskClient, signed_in, queries
) -> None:
    ada = signed_in(Role.ADMIN)
    subscription = subscribe(by=ada, event_names=("contact.created",))

    def page_queries() -> int:
        with queries() as counted:
            assert client.get(f"/setup/webhooks/{subscription.id}").status_code == 200
        return counted.count

    webhooks.send_test(subscription, by=ada)
    db.session.commit()
    few = page_queries()
    for _ in range(5):
        webhooks.send_test(subscription, by=ada)
    db.session.commit()
    webhooks.deliver(resolver=lambda h, p: [PUBLIC_IP], send=lambda *a: webhooks.Answer(500))
    assert db.session.scalar(select(WebhookAttempt.id)) is not None
    assert page_queries() == few


def test_a_webhook_deleted_while_its_receiver_answers_ends_quietly(admin: Member) -> None:
    subscription = subscribe(by=admin, event_names=("contact.created",))
    webhooks.send_test(subscription, by=admin)
    db.session.commit()

    def deleted_meanwhile(*args: Any) -> webhooks.Answer:
        db.session.execute(delete(WebhookSubscription))
        db.session.commit()
        return webhooks.Answer(200)

    run = webhooks.deliver(resolver=lambda h, p: [PUBLIC_IP], send=deleted_meanwhile)
    assert run.handled == 0
    assert deliveries() == [] and db.session.scalar(select(WebhookAttempt.id)) is None


def test_the_won_payload_reads_a_constant_number_of_statements(
    admin: Member, make_opportunity, make_member, queries
) -> None:
    cory = make_member(name="Cory Ferguson")

    def statements(lines: int) -> int:
        deal = make_opportunity(stage_name="Won", account_manager_id=cory.id)
        for n in range(lines):
            db.session.add(ForecastLine(opportunity_id=deal.id, revenue=Decimal(n)))
        db.session.commit()
        with queries() as counted:
            data = webhooks.won_data(deal, cory)
        assert len(data["forecast_lines"]) == lines
        return counted.count

    # The deal itself (expired by the commit), what is around it, lines, team, extra contacts.
    assert statements(1) == statements(8) == 5


def test_the_worker_command_delivers_webhooks(app, admin: Member, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://crm.example.com/")
    with Receiver() as receiver:
        subscription = subscribe(receiver.url, ("contact.created",), by=admin, allow_private=True)
        save_contact(None, ContactValues(first_name="Jason", last_name="Rivas"))
        webhooks.send_test(subscription, by=admin)
        db.session.commit()
        worker = app.test_cli_runner().invoke(args=["crm", "worker", "--once"])
    assert worker.exit_code == 0, worker.output
    assert "webhooks: 2 delivered, 0 failed, 0 to retry" in worker.output
    assert sorted(json.loads(r["body"])["type"] for r in receiver.received) == [
        "contact.created",
        "webhook.test",
    ]


def test_a_worker_round_delivers_one_batch_of_webhooks_then_the_mail(
    app, admin: Member, monkeypatch
) -> None:
    monkeypatch.setattr(webhooks, "BATCH", 2)
    with Receiver() as receiver:
        subscription = subscribe(receiver.url, ("contact.created",), by=admin, allow_private=True)
        for _ in range(3):
            webhooks.send_test(subscription, by=admin)
        db.session.commit()
        first = run_round(WorkerSettings(once=True), run_tracks=False)
        second = run_round(WorkerSettings(once=True), run_tracks=False)
    assert (first.webhooks.sent, second.webhooks.sent) == (2, 1)
    assert len(receiver.received) == 3
