"""Behind a reverse proxy (issue #14): with TRUSTED_PROXIES the rate limits count each visitor
by the address the proxy saw, not the proxy's own; without it X-Forwarded-For is ignored, so
spoofing it escapes nothing. Several workers share one count through a Redis store."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from crmlite import config
from crmlite.extensions import db
from crmlite.models import Campaign, CampaignType, FormSubmission, Member, Role
from crmlite.services import calendar_feed, tracking
from crmlite.services.campaigns import save_campaign
from tests.conftest import sign_in

ROOT = Path(__file__).resolve().parent.parent
PROXY = "127.0.0.1"  # nginx on the same machine, as the README sets it up
LEAD = {"name": "Jason Rivas", "company": "CharTec", "phone": "", "message": "", "website": ""}


def visitor(app: Flask, address: str, *, forwarded_for: str | None = None) -> FlaskClient:
    """A browser whose requests reach crmlite through the proxy, which appends the address
    it saw to X-Forwarded-For (nginx: ``$proxy_add_x_forwarded_for``)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    client.environ_base["HTTP_X_FORWARDED_FOR"] = (
        f"{forwarded_for}, {address}" if forwarded_for else address
    )
    return client


def failed_sign_ins(client: FlaskClient, times: int) -> list[int]:
    """Wrong passwords from one address, each for another account (so the per-account
    throttle, tested in test_sign_in_throttle, stays out of the way)."""
    return [
        sign_in(client, f"nobody-{uuid.uuid4().hex[:8]}@example.com", "wrong-password").status_code
        for _ in range(times)
    ]


@pytest.fixture()
def member(make_member) -> Member:
    return make_member(email="cory@example.com", role=Role.MANAGER)


@pytest.fixture()
def form_url(app, member: Member) -> str:
    website = db.session.scalars(select(CampaignType).where(CampaignType.name == "Website")).one()
    campaign: Campaign = save_campaign(None, type_id=website.id, owner_id=member.id)
    db.session.commit()
    return f"/t/f/{tracking.form_token(campaign)}"


# -------------------------------------------------------------------------- sign-in limit


def test_behind_the_proxy_one_visitors_wrong_passwords_do_not_lock_out_the_team(
    make_app, member: Member
) -> None:
    app = make_app(TRUSTED_PROXIES=1)
    attacker = visitor(app, "203.0.113.7")
    assert failed_sign_ins(attacker, 10) == [200] * 10
    assert failed_sign_ins(attacker, 1) == [429]
    # A colleague at another address signs in: the proxy's address is not the bucket.
    colleague = visitor(app, "198.51.100.20")
    assert sign_in(colleague, member.email).status_code == 302


def test_behind_the_proxy_a_forged_forwarded_for_does_not_escape_the_limit(
    make_app, member: Member
) -> None:
    """nginx appends the address it saw; only that last hop is trusted, whatever the
    visitor wrote before it."""
    app = make_app(TRUSTED_PROXIES=1)
    statuses = [
        failed_sign_ins(visitor(app, "203.0.113.7", forwarded_for=f"10.0.0.{n}"), 1)[0]
        for n in range(11)
    ]
    assert statuses == [200] * 10 + [429]


def test_without_trusted_proxies_forwarded_for_is_ignored(client, member: Member) -> None:
    """Connected directly (TRUSTED_PROXIES=0, the default), X-Forwarded-For is whatever the
    visitor wrote: changing it on every attempt still counts against the one real address."""
    statuses = []
    for n in range(11):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"10.0.0.{n}"
        statuses += failed_sign_ins(client, 1)
    assert statuses == [200] * 10 + [429]


# ------------------------------------------------------------------------ public form limit


def submissions() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(FormSubmission.id))) or 0


def test_behind_the_proxy_the_public_form_limit_is_per_visitor(make_app, form_url: str) -> None:
    """Before: every visitor came from the proxy's address, so the sixth visitor of a minute
    (and the 51st of a day) was turned away. Now 51 visitors each send their message."""
    app = make_app(TRUSTED_PROXIES=1)
    for n in range(51):
        client = visitor(app, f"203.0.113.{n + 1}")
        response = client.post(form_url, data={**LEAD, "email": f"lead{n}@example.com"})
        assert response.status_code == 303, (n, response.status_code)
    assert submissions() == 51
    # One visitor sending again and again is still limited, at five a minute.
    repeat = visitor(app, "203.0.113.1")
    statuses = [
        repeat.post(form_url, data={**LEAD, "email": f"again{n}@example.com"}).status_code
        for n in range(5)
    ]
    assert statuses == [303, 303, 303, 303, 429]
    assert submissions() == 55


# ------------------------------------------------------------------- what the proxy tells


FEED_URL_RE = re.compile(r'id="feed-url"[^>]*value="([^"]+)"')


def feed_address(client: FlaskClient, headers: dict[str, str]) -> tuple[str, Any]:
    """The calendar feed address the subscription page shows, and the response."""
    page = client.get("/calendar/subscription", headers=headers)
    assert page.status_code == 200, page.status_code
    match = FEED_URL_RE.search(page.get_data(as_text=True))
    assert match, "no feed address on the page"
    return match.group(1), page


@pytest.fixture()
def subscriber(make_member) -> Member:
    member = make_member(role=Role.REP)
    calendar_feed.start_subscription(member)
    db.session.commit()
    return member


def test_behind_the_proxy_scheme_and_host_come_from_the_proxy(make_app, subscriber) -> None:
    client = make_app(TRUSTED_PROXIES=1).test_client()
    sign_in(client, subscriber.email)
    address, page = feed_address(
        client,
        {
            "X-Forwarded-For": "203.0.113.7",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "crm.example.com",
        },
    )
    assert address == f"https://crm.example.com/calendar/feed/{subscriber.calendar_token}.ics"
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")


def test_without_trusted_proxies_forwarded_host_and_proto_are_ignored(client, subscriber) -> None:
    sign_in(client, subscriber.email)
    address, page = feed_address(
        client, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
    )
    assert address == f"http://localhost/calendar/feed/{subscriber.calendar_token}.ics"
    assert "Strict-Transport-Security" not in page.headers


def test_trusted_proxy_headers_can_leave_the_host_alone(make_app, subscriber) -> None:
    """A proxy that sets no X-Forwarded-Host: TRUSTED_PROXY_HEADERS=for,proto."""
    client = make_app(TRUSTED_PROXIES=1, TRUSTED_PROXY_HEADERS=("for", "proto")).test_client()
    sign_in(client, subscriber.email)
    address, _ = feed_address(
        client, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
    )
    assert address == f"https://localhost/calendar/feed/{subscriber.calendar_token}.ics"


@pytest.mark.parametrize("bad", ["-1", "two", "1.5"])
def test_a_bad_trusted_proxies_setting_is_a_clear_error(monkeypatch, bad: str) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", bad)
    with pytest.raises(RuntimeError, match="TRUSTED_PROXIES must be"):
        config.TestConfig()


# ---------------------------------------------------------------- a store shared by workers

REDIS_URL = os.environ.get("CRMLITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LIMIT = "3 per minute"  # fewer attempts than the default's ten keep the workers quick

# Another gunicorn worker: its own process, its own app, its own connection to the store.
OTHER_WORKER = """
import json, sys, uuid
from crmlite import create_app
from crmlite.config import TestConfig
from crmlite.extensions import db
from tests.conftest import sign_in

db_url, storage, address, attempts = sys.argv[1:5]
app = create_app(TestConfig(db_url), RATELIMIT_STORAGE_URI=storage, LOGIN_RATE_LIMIT=sys.argv[5])
client = app.test_client()
client.environ_base["REMOTE_ADDR"] = address
codes = [
    sign_in(client, f"nobody-{uuid.uuid4().hex[:8]}@example.com", "wrong-password").status_code
    for _ in range(int(attempts))
]
with app.app_context():
    db.engine.dispose()
print(json.dumps(codes))
"""


def redis_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture()
def redis_url() -> str:
    if not redis_reachable(REDIS_URL):
        message = f"Redis is not reachable at {REDIS_URL} (set CRMLITE_TEST_REDIS_URL)"
        if os.environ.get("CRMLITE_REQUIRE_REDIS") == "1":
            pytest.fail(message + " (CRMLITE_REQUIRE_REDIS=1: the shared store must be tested)")
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture()
def address() -> str:
    """A client address no other test run has used: the store keeps counts for an hour."""
    return str(ipaddress.IPv6Address("2001:db8::") + uuid.uuid4().int % 2**64)


def other_worker(db_url: str, storage: str, address: str, attempts: int) -> list[int]:
    """Failed sign-ins from ``address`` in another worker process; the status of each."""
    done = subprocess.run(
        [sys.executable, "-c", OTHER_WORKER, db_url, storage, address, str(attempts), LIMIT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_workers_sharing_a_redis_store_share_one_count(
    make_app, db_url: str, redis_url: str, address: str
) -> None:
    this_worker = make_app(RATELIMIT_STORAGE_URI=redis_url, LOGIN_RATE_LIMIT=LIMIT).test_client()
    this_worker.environ_base["REMOTE_ADDR"] = address
    assert failed_sign_ins(this_worker, 2) == [200] * 2
    # The other worker has seen the two failures: one more, then no.
    assert other_worker(db_url, redis_url, address, 2) == [200, 429]
    # And this one has seen the other's.
    assert failed_sign_ins(this_worker, 1) == [429]
    this_worker.environ_base["REMOTE_ADDR"] = "2001:db8::1:1"
    assert failed_sign_ins(this_worker, 1) == [200]  # another address is not affected


def test_workers_with_the_memory_store_each_count_alone(make_app, db_url: str, address) -> None:
    """Why the README asks for Redis with several workers: each one's memory is its own, so
    three workers let three times the attempts through."""
    this_worker = make_app(RATELIMIT_STORAGE_URI="memory://", LOGIN_RATE_LIMIT=LIMIT).test_client()
    this_worker.environ_base["REMOTE_ADDR"] = address
    assert failed_sign_ins(this_worker, 4) == [200] * 3 + [429]
    assert other_worker(db_url, "memory://", address, 3) == [200] * 3
