"""Tracking: signed tokens (forgery, tampering, expiry), link rewriting and the redirect
whitelist, the open pixel, tracked links and unsubscribe, the skip rules and the mailer's
rate bound; the request tests feed every public endpoint bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import itsdangerous
import pytest
from sqlalchemy import func, select

from crmlite import links
from crmlite.extensions import db
from crmlite.models import (
    CampaignEmail,
    CampaignType,
    Contact,
    EmailEvent,
    EmailSend,
    OutboxKind,
    OutboxMessage,
    Role,
    SendStatus,
)
from crmlite.services import (
    campaign_emails,
    campaign_sending,
    delivery,
    marketing_lists,
    members,
    tracking,
)
from crmlite.services import outbox as outbox_service
from crmlite.services.campaigns import save_campaign
from crmlite.services.mailer import (
    Mailer,
    MailSettings,
    RateBound,
    SkipReason,
    skip_reason,
)

BASE = "http://crm.test"
HTML = (
    "<html><body><p>Hello {{ first_name }}</p>"
    '<a href="https://example.com/offer">Offer</a> '
    '<a href="https://example.com/b?x=1&amp;y=2">B</a> '
    '<a href="mailto:sales@example.com">Write</a></body></html>'
)


@pytest.fixture()
def outbox(app, tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "outbox"
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", str(folder))
    return folder


@pytest.fixture()
def sent(app, outbox: Path):
    """A campaign e-mail sent to Al (sent), Un (unsubscribed) and Bo (no address);
    returns Al's send."""
    owner = members.create_member(
        email="owner@example.com", name="Olive Owner", password="x" * 12, role=Role.MANAGER
    )
    email_type = db.session.scalars(select(CampaignType).where(CampaignType.name == "Email")).one()
    campaign = save_campaign(None, type_id=email_type.id, owner_id=owner.id)
    al = Contact(first_name="Al", last_name="Smith", email="al@example.com")
    un = Contact(first_name="Un", email="un@example.com", unsubscribed_at=datetime.now(UTC))
    bo = Contact(first_name="Bo", email="")
    db.session.add_all([al, un, bo])
    db.session.flush()
    group = marketing_lists.create_list("Everyone", by=owner)
    marketing_lists.add_contacts(group, [al.id, un.id, bo.id])
    email = campaign_emails.save_email(
        None,
        campaign_id=campaign.id,
        subject="Hi {{ first_name }}",
        body_text="Hello {{ name }}, see https://example.com/offer.",
        body_html=HTML,
        by=owner,
    )
    db.session.commit()
    send_now(email, group.id, outbox)
    return db.session.scalars(select(EmailSend).where(EmailSend.contact_id == al.id)).one()


def send_now(email: CampaignEmail, list_id: int, outbox: Path) -> delivery.Delivered:
    """Send as the page and the worker do: queue, then deliver into the outbox folder."""
    campaign_sending.queue_for_delivery(email, list_id, base=BASE, sender="crm@example.com")
    db.session.commit()
    with Mailer(MailSettings(outbox=outbox, rate_per_second=0)) as mailer:
        return delivery.deliver(mailer, sender="crm@example.com")


def token_signed_days_ago(send: EmailSend, purpose: str, days: int, monkeypatch) -> str:
    stamp = int((datetime.now(UTC) - timedelta(days=days)).timestamp())
    with monkeypatch.context() as patch:
        patch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: stamp)
        return tracking.send_token(send, purpose)


def path_of(url: str) -> str:
    assert url.startswith(BASE)
    return url[len(BASE) :]


# ---------------------------------------------------------------------------- unit tests


def test_tokens_round_trip_and_are_bound_to_their_purpose(sent: EmailSend) -> None:
    for purpose in (tracking.OPEN, tracking.CLICK, tracking.UNSUBSCRIBE):
        assert tracking.load_send(tracking.send_token(sent, purpose), purpose) == sent
    with pytest.raises(tracking.BadToken):  # an open token does not unsubscribe
        tracking.load_send(tracking.send_token(sent, tracking.OPEN), tracking.UNSUBSCRIBE)
    with pytest.raises(tracking.BadToken):
        tracking.load_send(tracking.send_token(sent, tracking.UNSUBSCRIBE), tracking.CLICK)


def test_forged_and_tampered_tokens_are_refused(app, sent: EmailSend) -> None:
    token = tracking.send_token(sent, tracking.OPEN)
    other_key = itsdangerous.URLSafeTimedSerializer("not-our-key", salt="crmlite.tracking.open")
    forged = other_key.dumps([sent.id, sent.token])
    # The right key but a made-up secret: a token cannot be moved to another send.
    guessed = tracking._timed(tracking.OPEN).dumps([sent.id, "guess"])
    for bad in (forged, guessed, token[:-2] + "xx", token + "x", "", "abc", "a.b.c"):
        with pytest.raises(tracking.BadToken):
            tracking.load_send(bad, tracking.OPEN)
    # A send that no longer exists.
    gone = tracking._timed(tracking.OPEN).dumps([sent.id + 1000, sent.token])
    with pytest.raises(tracking.BadToken):
        tracking.load_send(gone, tracking.OPEN)


def test_open_and_click_tokens_expire_but_unsubscribe_tokens_never_do(
    app, sent: EmailSend, monkeypatch
) -> None:
    assert app.config["TRACKING_MAX_AGE_DAYS"] == 365
    recent = token_signed_days_ago(sent, tracking.CLICK, 364, monkeypatch)
    assert tracking.load_send(recent, tracking.CLICK) == sent
    old = token_signed_days_ago(sent, tracking.CLICK, 366, monkeypatch)
    with pytest.raises(tracking.ExpiredToken) as expired:
        tracking.load_send(old, tracking.CLICK)
    assert expired.value.send == sent
    unsubscribe = tracking.send_token(sent, tracking.UNSUBSCRIBE)
    in_ten_years = datetime.now(UTC) + timedelta(days=3650)
    assert tracking.load_send(unsubscribe, tracking.UNSUBSCRIBE, now=in_ten_years) == sent


def test_links_are_extracted_once_in_order_web_links_only() -> None:
    links = tracking.extract_links(HTML, "Also https://example.com/offer and https://x.org/t.")
    assert links == [
        "https://example.com/offer",
        "https://example.com/b?x=1&y=2",
        "https://x.org/t",
    ]


def test_rewriting_replaces_known_links_and_adds_pixel_and_footer() -> None:
    known = {"https://example.com/offer": "http://crm.test/t/c/T/0"}
    html = tracking.rewrite_html(
        HTML, known.get, pixel="http://crm.test/t/o/P", footer='<p><a href="U">Unsub</a></p>'
    )
    assert 'href="http://crm.test/t/c/T/0"' in html
    assert 'href="https://example.com/b?x=1&amp;y=2"' in html  # unknown: left as written
    assert 'href="mailto:sales@example.com"' in html
    assert html.index("Unsub") < html.index('src="http://crm.test/t/o/P"') < html.index("</body>")
    text = tracking.rewrite_text("See https://example.com/offer. Or https://other.org", known.get)
    assert text == "See http://crm.test/t/c/T/0. Or https://other.org"


def test_names_are_filled_in_and_escaped_in_html_only() -> None:
    templates = campaign_emails.compile_email(
        "Hi {{ first_name }}", "Dear {{ name }} of {{ company }}", "<p>{{ name }}</p>"
    )
    context = campaign_emails.context_for("<b>Al</b>", "O'Neil & Co", "al@x.org", "A<B>")
    rendered = campaign_emails.render(templates, context)
    assert rendered.subject == "Hi <b>Al</b>"
    assert rendered.text == "Dear <b>Al</b> O'Neil & Co of A<B>"
    assert rendered.html == "<p>&lt;b&gt;Al&lt;/b&gt; O&#39;Neil &amp; Co</p>"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Hello {{ frist_name }}", "Placeholders you can use"),
        ("Hello {{ name ", "Line 1"),
        ("{{ ''.__class__.__mro__ }}", "cannot be used"),
    ],
)
def test_templates_refuse_unknown_placeholders_bad_syntax_and_sandbox_escapes(
    source: str, message: str
) -> None:
    with pytest.raises(campaign_emails.EmailRefused) as refused:
        campaign_emails.compile_email("Subject", source, "")
    assert message in str(refused.value)
    assert refused.value.field == "body_text"


def test_skip_rules() -> None:
    now = datetime.now(UTC)
    assert skip_reason(Contact(first_name="A", email="a@x.org")) is None
    assert skip_reason(Contact(first_name="A", email="")) == SkipReason.NO_ADDRESS
    assert skip_reason(Contact(first_name="A", email="  ")) == SkipReason.NO_ADDRESS
    assert (
        skip_reason(Contact(first_name="A", email="a@x.org", unsubscribed_at=now))
        == SkipReason.UNSUBSCRIBED
    )


def test_the_rate_bound_spaces_messages() -> None:
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    bound = RateBound(2, clock=lambda: clock[0], sleep=sleep)
    for _ in range(5):
        bound.wait()
    assert slept == [0.5, 0.5, 0.5, 0.5]
    assert clock[0] - 100.0 == pytest.approx(2.0)  # 5 messages at 2 a second: 2 s
    clock[0] += 10  # after a pause, the next one goes at once
    bound.wait()
    assert len(slept) == 4
    unbounded = RateBound(0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        unbounded.wait()
    assert len(slept) == 4


def test_the_mailer_waits_between_messages(tmp_path: Path) -> None:
    from crmlite.services.mailer import compose, recipient

    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    settings = MailSettings(outbox=tmp_path, rate_per_second=4)
    mailer = Mailer(settings, rate=RateBound(4, clock=lambda: clock[0], sleep=sleep))
    for n in range(3):
        mailer.send(compose(to=recipient(f"p{n}@x.org"), subject="S", text="T", sender="crm@x.org"))
    assert slept == [0.25, 0.25]
    assert len(list(tmp_path.glob("*.eml"))) == 3


def test_track_emails_carry_the_unsubscribe_link_and_skip_who_left(
    app, outbox: Path, monkeypatch
) -> None:
    monkeypatch.setitem(app.config, "PUBLIC_URL", BASE)
    contact = Contact(first_name="Al", last_name="O'Brien, Jr.", email="al@example.com")
    db.session.add(contact)
    db.session.commit()

    def queue(key: str) -> None:
        outbox_service.enqueue(
            tracking.contact_email(
                key=key, kind=OutboxKind.TRACK, contact=contact, subject="Welcome", body="Hi Al"
            ),
            domain="example.com",
        )
        db.session.commit()

    def deliver() -> delivery.Delivered:
        with Mailer(MailSettings(outbox=outbox, rate_per_second=0)) as mailer:
            return delivery.deliver(mailer, sender="crm@example.com")

    queue("track:1:1")
    queue("track:1:1")  # the same step again: queued once
    assert deliver().sent == 1
    (file,) = outbox.glob("*.eml")
    message = message_from_bytes(file.read_bytes(), policy=policy.default)
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Al O'Brien, Jr.", "al@example.com")
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{BASE}/t/u/")
    assert unsubscribe in message.get_content()
    assert tracking.load_contact_token(unsubscribe.rsplit("/", 1)[1]) == contact

    queue("track:1:2")
    contact.unsubscribed_at = datetime.now(UTC)  # after queueing, before the worker
    db.session.commit()
    assert deliver().skipped == 1
    assert len(list(outbox.glob("*.eml"))) == 1
    row = db.session.scalars(select(OutboxMessage).where(OutboxMessage.key == "track:1:2")).one()
    assert (row.status, row.last_error) == ("skipped", "unsubscribed")


def test_header_injection_through_a_name_is_impossible(app, outbox: Path) -> None:
    from crmlite.services.mailer import compose, recipient

    message = compose(
        to=recipient("x@y.org", "Eve\r\nBcc: victim@example.com"),
        subject="Hi\r\nBcc: victim@example.com",
        text="T",
        sender="crm@x.org",
    )
    assert message["Bcc"] is None
    assert message["Subject"] == "Hi Bcc: victim@example.com"
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None
    (to,) = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Eve Bcc: victim@example.com", "x@y.org")


# ------------------------------------------------------------------------- request tests


def urls_of(send: EmailSend) -> dict[str, str]:
    def url(endpoint: str, **values) -> str:
        return path_of(links.absolute_url(endpoint, base=BASE, **values))

    return {
        "pixel": url("public.pixel", token=tracking.send_token(send, tracking.OPEN)),
        "click0": url("public.click", token=tracking.send_token(send, tracking.CLICK), position=0),
        "unsubscribe": url(
            "public.unsubscribe", token=tracking.send_token(send, tracking.UNSUBSCRIBE)
        ),
    }


def events(send_id: int, kind: str) -> int:
    return db.session.scalar(
        select(func.count(EmailEvent.id)).where(
            EmailEvent.send_id == send_id, EmailEvent.kind == kind
        )
    )


def test_the_pixel_records_every_open_and_stamps_the_first(client, sent: EmailSend) -> None:
    url = urls_of(sent)["pixel"]
    first = client.get(url)
    assert first.status_code == 200
    assert first.mimetype == "image/gif"
    assert first.data.startswith(b"GIF89a")
    assert "no-store" in first.headers["Cache-Control"]
    assert "Set-Cookie" not in first.headers
    opened_at = db.session.get(EmailSend, sent.id).opened_at
    assert opened_at is not None
    client.get(url)
    db.session.expire_all()
    assert db.session.get(EmailSend, sent.id).opened_at == opened_at
    assert events(sent.id, "open") == 2


def test_a_forged_or_expired_pixel_records_nothing(client, sent: EmailSend, monkeypatch) -> None:
    token = tracking.send_token(sent, tracking.OPEN)
    for bad in (token[:-3] + "abc", "nonsense", tracking.send_token(sent, tracking.CLICK)):
        response = client.get(f"/t/o/{bad}")
        assert response.status_code == 404
        assert "not valid" in response.get_data(as_text=True)
    old = token_signed_days_ago(sent, tracking.OPEN, 400, monkeypatch)
    response = client.get(f"/t/o/{old}")
    assert response.status_code == 200 and response.mimetype == "image/gif"
    assert events(sent.id, "open") == 0
    assert db.session.get(EmailSend, sent.id).opened_at is None


def test_a_click_redirects_to_the_link_written_in_the_email(client, sent: EmailSend) -> None:
    token = tracking.send_token(sent, tracking.CLICK)
    response = client.get(f"/t/c/{token}/1")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.com/b?x=1&y=2"
    response = client.get(f"/t/c/{token}/0")
    assert response.headers["Location"] == "https://example.com/offer"
    send = db.session.get(EmailSend, sent.id)
    assert send.clicked_at is not None
    assert send.opened_at is not None  # a click proves the open
    assert events(sent.id, "click") == 2


@pytest.mark.parametrize(
    "suffix",
    [
        "/2",  # the e-mail has two links (0 and 1): no third
        "/99",
        "/-1",
        "/0?url=https://evil.example.com",  # the target never comes from the request
        "/0/https://evil.example.com",
        "/https%3A%2F%2Fevil.example.com",
        "",
    ],
)
def test_a_click_never_redirects_anywhere_else(client, sent: EmailSend, suffix: str) -> None:
    token = tracking.send_token(sent, tracking.CLICK)
    response = client.get(f"/t/c/{token}{suffix}")
    if response.status_code == 302:
        assert response.headers["Location"] == "https://example.com/offer"
    else:
        assert response.status_code == 404
    assert "evil" not in response.headers.get("Location", "")


def test_a_forged_click_is_404_and_an_expired_one_a_clear_page(
    client, sent: EmailSend, monkeypatch
) -> None:
    token = tracking.send_token(sent, tracking.CLICK)
    assert client.get(f"/t/c/{token[:-4]}AAAA/0").status_code == 404
    assert client.get(f"/t/c/{tracking.send_token(sent, tracking.OPEN)}/0").status_code == 404
    old = token_signed_days_ago(sent, tracking.CLICK, 400, monkeypatch)
    response = client.get(f"/t/c/{old}/0")
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "expired" in page and 'href="https://example.com/offer"' in page
    assert client.get(f"/t/c/{old}/7").status_code == 404
    assert events(sent.id, "click") == 0


def test_unsubscribe_asks_then_unsubscribes_for_good(client, sent: EmailSend) -> None:
    url = urls_of(sent)["unsubscribe"]
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "al***@example.com" in html and "al@example.com" not in html
    assert db.session.get(Contact, sent.contact_id).unsubscribed_at is None  # GET changes nothing

    done = client.post(url)  # no CSRF token: the signed token is the proof
    assert done.status_code == 200
    assert "You are unsubscribed" in done.get_data(as_text=True)
    contact = db.session.get(Contact, sent.contact_id)
    assert contact.unsubscribed_at is not None
    assert client.post(url).status_code == 200  # again: nothing more
    assert events(sent.id, "unsubscribe") == 1
    assert "had unsubscribed already" in client.get(url).get_data(as_text=True)


def test_one_click_unsubscribe_from_a_mail_program(client, sent: EmailSend) -> None:
    url = urls_of(sent)["unsubscribe"]
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert db.session.get(Contact, sent.contact_id).unsubscribed_at is not None


def test_an_unsubscribed_contact_is_skipped_by_every_later_send(
    client, sent: EmailSend, outbox: Path
) -> None:
    client.post(urls_of(sent)["unsubscribe"])
    email = db.session.get(CampaignEmail, sent.email_id)
    second = campaign_emails.save_email(
        None,
        campaign_id=email.campaign_id,
        subject="Again",
        body_text="Hello again",
        body_html="",
        by=members.find_by_email("owner@example.com"),
    )
    db.session.commit()
    group_id = sent.list_id
    report = send_now(second, group_id, outbox)
    assert report.sent == 0
    totals = campaign_sending.status_counts(second.id)
    assert totals[SendStatus.SKIPPED_UNSUBSCRIBED.value] == 2


@pytest.mark.parametrize("method", ["get", "post"])
def test_forged_unsubscribe_tokens_are_404(client, sent: EmailSend, method: str) -> None:
    token = tracking.send_token(sent, tracking.UNSUBSCRIBE)
    for bad in (token[:-2] + "zz", tracking.send_token(sent, tracking.OPEN), "x"):
        response = getattr(client, method)(f"/t/u/{bad}")
        assert response.status_code == 404
    assert db.session.get(Contact, sent.contact_id).unsubscribed_at is None


def test_a_contact_token_unsubscribes_too(client, app) -> None:
    contact = Contact(first_name="Tr", email="track@example.com")
    db.session.add(contact)
    db.session.commit()
    response = client.post(f"/t/u/{tracking.contact_token(contact)}")
    assert response.status_code == 200
    assert db.session.get(Contact, contact.id).unsubscribed_at is not None


def test_public_tracking_pages_need_no_sign_in_and_set_no_session(client, sent: EmailSend) -> None:
    for url in urls_of(sent).values():
        response = client.get(url)
        assert response.status_code in (200, 302), url
        assert "Set-Cookie" not in response.headers
