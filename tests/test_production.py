"""Production hardening (issue #14): HSTS over TLS, host checking with TRUSTED_HOSTS, and
every absolute link built by one function: PUBLIC_URL when set, the request's own address
inside a request otherwise, and a clear error outside one (no silent fallback)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crmlite import config, links
from crmlite.extensions import db
from crmlite.models import Campaign, CampaignType, Member, OutboxMessage, Role, Track, TrackStepRun
from crmlite.services import calendar_feed, tracking, tracks
from crmlite.services import outbox as outbox_service
from crmlite.services.campaigns import save_campaign
from crmlite.web import tracks as tracks_web
from tests.conftest import page_token, sign_in

PUBLIC = "https://crm.example.com"
FEED_URL_RE = re.compile(r'id="feed-url"[^>]*value="([^"]+)"')
FORM_URL_RE = re.compile(r'id="web-form-url">([^<]+)<')


@pytest.fixture()
def outbox(app, tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "outbox"
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", str(folder))
    return folder


@pytest.fixture()
def subscriber(make_member) -> Member:
    member = make_member(role=Role.REP)
    calendar_feed.start_subscription(member)
    db.session.commit()
    return member


# --------------------------------------------------------------------------------- HSTS

HSTS = "max-age=31536000; includeSubDomains"


def test_no_hsts_over_plain_http(client) -> None:
    assert "Strict-Transport-Security" not in client.get("/sign-in").headers


def test_hsts_when_the_request_came_over_https(client) -> None:
    response = client.get("/sign-in", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"] == HSTS


def test_hsts_when_the_preferred_scheme_is_https(client, app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "PREFERRED_URL_SCHEME", "https")
    assert client.get("/sign-in").headers["Strict-Transport-Security"] == HSTS
    # On public pages too (the form, the tracking links).
    assert client.get("/t/f/forged").headers["Strict-Transport-Security"] == HSTS


def test_hsts_can_be_tuned(client, app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "STRICT_TRANSPORT_SECURITY", "max-age=300")
    response = client.get("/sign-in", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"] == "max-age=300"
    monkeypatch.setitem(app.config, "STRICT_TRANSPORT_SECURITY", "")
    assert (
        "Strict-Transport-Security"
        not in client.get("/sign-in", base_url="https://localhost").headers
    )


# ------------------------------------------------------------------------ TRUSTED_HOSTS


def test_trusted_hosts_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("TRUSTED_HOSTS", "crm.example.com, .example.org,")
    assert config.TestConfig().TRUSTED_HOSTS == ["crm.example.com", ".example.org"]
    monkeypatch.delenv("TRUSTED_HOSTS")
    assert config.TestConfig().TRUSTED_HOSTS is None  # any host


def test_a_request_for_another_host_is_400(make_app) -> None:
    client = make_app(TRUSTED_HOSTS=["crm.example.com"]).test_client()
    assert client.get("/sign-in", base_url="https://crm.example.com").status_code == 200
    for host in ("evil.example", "crm.example.com.evil.example", "localhost"):
        response = client.get("/sign-in", base_url=f"https://{host}")
        assert response.status_code == 400, host
        assert "not served at that address" in response.get_data(as_text=True)
    assert client.post("/t/f/x", base_url="https://evil.example").status_code == 400


def test_behind_a_proxy_the_forwarded_host_is_checked(make_app) -> None:
    client = make_app(TRUSTED_PROXIES=1, TRUSTED_HOSTS=["crm.example.com"]).test_client()
    ok = client.get("/sign-in", headers={"X-Forwarded-Host": "crm.example.com"})
    assert ok.status_code == 200
    assert client.get("/sign-in", headers={"X-Forwarded-Host": "evil.example"}).status_code == 400


# ---------------------------------------------------------------------------- PUBLIC_URL


def test_links_use_public_url_inside_a_request_too(client, app, subscriber, monkeypatch) -> None:
    """Before: the feed address came from the request's Host header even with PUBLIC_URL
    set, so a request to an internal name (here localhost) handed out that name."""
    monkeypatch.setitem(app.config, "PUBLIC_URL", PUBLIC + "/")
    sign_in(client, subscriber.email)
    page = client.get("/calendar/subscription")
    (address,) = FEED_URL_RE.findall(page.get_data(as_text=True))
    assert address == f"{PUBLIC}/calendar/feed/{subscriber.calendar_token}.ics"


def test_without_public_url_a_request_uses_its_own_address(client, signed_in) -> None:
    manager = signed_in(Role.MANAGER)
    website = db.session.scalars(select(CampaignType).where(CampaignType.name == "Website")).one()
    campaign: Campaign = save_campaign(None, type_id=website.id, owner_id=manager.id)
    db.session.commit()
    page = client.get(f"/campaigns/{campaign.id}", base_url="https://localhost:8443")
    (address,) = FORM_URL_RE.findall(page.get_data(as_text=True))
    assert address == f"https://localhost:8443/t/f/{tracking.form_token(campaign)}"


def test_outside_a_request_links_need_public_url(app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "PUBLIC_URL", "")
    with pytest.raises(links.PublicUrlMissing, match="Set PUBLIC_URL"):
        links.absolute_url("public.form", token="x")
    monkeypatch.setitem(app.config, "PUBLIC_URL", PUBLIC + "/crm/")
    assert links.absolute_url("public.form", token="x") == f"{PUBLIC}/crm/t/f/x"


MONDAY = date(2026, 1, 5)  # track steps run on business days only


@pytest.fixture()
def email_due_today(make_member, make_contact, monkeypatch) -> None:
    """Shane joins a track on a Monday, "today", whose first step, that day, is an e-mail."""
    make_member(name="Cory Ferguson", role=Role.MANAGER)
    contact = make_contact(first_name="Shane", email="shane@example.com")
    track = db.session.scalars(select(Track).where(Track.name == "Healthcare Practices")).one()
    tracks.enroll(contact.id, track.id, starts_on=MONDAY)
    db.session.commit()
    monkeypatch.setattr(tracks_web, "local_today", lambda _tz: MONDAY)  # for "Run now"


def step_runs() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(TrackStepRun.id))) or 0


def queued_unsubscribe_links() -> list[str]:
    db.session.rollback()
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    return [outbox_service.headers_of(row)["List-Unsubscribe"] for row in rows]


def test_the_track_runner_refuses_to_queue_without_public_url(
    app, email_due_today, monkeypatch
) -> None:
    """Before: the runner sent the e-mail without its unsubscribe link. Now it stops before
    claiming anything, says what to set, and runs everything once it is set."""
    monkeypatch.setitem(app.config, "PUBLIC_URL", "")
    run = ["crm", "tracks", "run", "--date", MONDAY.isoformat()]
    result = app.test_cli_runner().invoke(args=run)
    assert result.exit_code != 0
    assert "Set PUBLIC_URL" in result.output
    assert step_runs() == 0 and queued_unsubscribe_links() == []

    result = app.test_cli_runner().invoke(args=["crm", "worker", "--once"])
    assert result.exit_code != 0 and "Set PUBLIC_URL" in result.output
    assert step_runs() == 0

    monkeypatch.setitem(app.config, "PUBLIC_URL", PUBLIC)
    result = app.test_cli_runner().invoke(args=run)
    assert result.exit_code == 0, result.output
    assert step_runs() >= 1
    (link,) = queued_unsubscribe_links()
    assert link.startswith(f"<{PUBLIC}/t/u/")


def test_track_emails_queued_from_a_request_without_public_url_use_its_address(
    client, signed_in, email_due_today
) -> None:
    """ "Run now" on the Tracks page: inside a request, the request's own address."""
    signed_in(Role.MANAGER)
    token = page_token(client, "/tracks/")
    response = client.post(
        "/tracks/run",
        data={"csrf_token": token},
        base_url="https://localhost:8443",
        headers={"Referer": "https://localhost:8443/tracks/"},  # checked over https
    )
    assert response.status_code == 302
    (link,) = queued_unsubscribe_links()
    assert link.startswith("<https://localhost:8443/t/u/")


@pytest.mark.parametrize(
    "bad", ["crm.example.com", "ftp://crm.example.com", "https://", "https://x/?a=1"]
)
def test_a_malformed_public_url_is_refused_at_start(monkeypatch, bad: str) -> None:
    monkeypatch.setenv("PUBLIC_URL", bad)
    with pytest.raises(RuntimeError, match="PUBLIC_URL must be"):
        config.TestConfig()


def test_no_absolute_link_is_built_anywhere_else() -> None:
    """One function builds absolute links (crmlite/links.py): nothing else asks Flask for an
    external URL or reads the request's root."""
    root = Path(__file__).resolve().parent.parent
    offending = []
    for path in [*(root / "crmlite").rglob("*.py"), *(root / "templates").rglob("*.html")]:
        if path.name == "links.py" and path.parent.name == "crmlite":
            continue
        text = path.read_text()
        for needle in ("_external", "url_root", "host_url", "request.host"):
            if needle in text:
                offending.append(f"{path.relative_to(root)}: {needle}")
    assert sorted(offending) == [
        # WeasyPrint resolves the print page's stylesheet against it; nothing leaves the server.
        "crmlite/web/points.py: url_root",
        # Compares the Referer's host with this request's (is the page to return to ours?).
        "crmlite/web/sessions.py: request.host",
    ]
