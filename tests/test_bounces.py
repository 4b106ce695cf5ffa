"""Bounces (issue #15): a captured delivery status notification (RFC 3464, as Postfix writes
it) marks the contacts whose address failed for good, through the service, the form and
``flask crm capture``; a delayed one marks nobody. Nobody bouncing is mailed (skip_reason,
campaign sends recorded as skipped_bounced, track e-mails); the contact's page says so and
"Mail again" (or a new address) clears it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    Campaign,
    CampaignType,
    Company,
    Contact,
    EmailSend,
    Member,
    OutboxKind,
    OutboxMessage,
    Role,
    SendStatus,
)
from crmlite.services import (
    campaign_sending,
    capture,
    delivery,
    marketing_lists,
    outbox,
    tracking,
)
from crmlite.services.campaigns import save_campaign
from crmlite.services.companies import ContactValues, save_contact
from crmlite.services.delivery_reports import Bounce
from crmlite.services.email_reading import parse_email
from crmlite.services.mailer import (
    SKIPPED,
    Mailer,
    MailSettings,
    SkipReason,
    skip_reason,
)
from tests.conftest import page_token
from tests.test_capture import counts, post_capture, run_capture
from tests.test_email_campaigns import send, write_email

EML = Path(__file__).parent / "data" / "eml"
FAILED = (EML / "dsn_failed_postfix.eml").read_bytes()
DELAYED = (EML / "dsn_delayed_postfix.eml").read_bytes()
TZ = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 3, 3, 18, 30, tzinfo=UTC)
REASON = (
    "550 5.1.1 <Shane.Swanson@TowsRUs.com>: Recipient address rejected: "
    "User unknown in virtual mailbox table"
)


@pytest.fixture()
def nick(make_member) -> Member:
    return make_member("Nick Points", Role.ADMIN, email="nick@example.com")


@pytest.fixture()
def shane(make_company, make_contact) -> Contact:
    tows = make_company(name="Tows R Us")
    return make_contact("Shane", "Swanson", email="shane.swanson@towsrus.com", company_id=tows.id)


def fresh(contact: Contact) -> Contact:
    db.session.expire_all()
    return db.session.get(Contact, contact.id)


# ---------------------------------------------------------------- reading the report


def test_a_postfix_bounce_gives_its_permanent_failures() -> None:
    parsed = parse_email(FAILED)
    assert parsed.delivery_report
    assert parsed.bounces == (
        Bounce("shane.swanson@towsrus.com", "5.1.1", REASON),
        Bounce(
            "old-sales@towsrus.com",
            "5.1.1",
            "550 5.1.1 <old-sales@towsrus.com>: Recipient address rejected: "
            "User unknown in virtual mailbox table",
        ),
    )
    assert parsed.bounces[0].reason == REASON
    assert "I'm sorry to have to inform you" in parsed.text


def test_a_delayed_delivery_is_no_bounce_nor_is_an_ordinary_message() -> None:
    delayed = parse_email(DELAYED)
    assert delayed.delivery_report and delayed.bounces == ()
    # "failed" with a 4.x.x status, or 5.x.x for another action, is not a permanent failure.
    for action, status in (("failed", "4.2.2"), ("delivered", "5.0.0"), ("failed", "junk")):
        raw = FAILED.replace(b"Action: failed", f"Action: {action}".encode()).replace(
            b"Status: 5.1.1", f"Status: {status}".encode()
        )
        assert parse_email(raw).bounces == (), (action, status)
    plain = parse_email((EML / "plain.eml").read_bytes())
    assert not plain.delivery_report and plain.bounces == ()


def test_an_encoded_delivery_status_part_is_read_too() -> None:
    head = b"Content-Type: message/delivery-status\r\n\r\n"
    start = FAILED.index(head) + len(head)
    end = FAILED.index(b"\r\n--3F1A2C0123", start)
    encoded = base64.encodebytes(FAILED[start:end]).replace(b"\n", b"\r\n")
    raw = (
        FAILED[: start - 2] + b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + FAILED[end:]
    )
    assert [b.address for b in parse_email(raw).bounces] == [
        "shane.swanson@towsrus.com",
        "old-sales@towsrus.com",
    ]


# ---------------------------------------------------------------- capturing it


def test_capturing_a_bounce_marks_the_contact_and_makes_no_activity(nick, shane) -> None:
    twin = Contact(first_name="Shane", last_name="Again", email="SHANE.swanson@towsrus.com")
    db.session.add(twin)
    db.session.commit()
    result = capture.capture_email(FAILED, captured_by=nick, tz=TZ, now=NOW)
    db.session.commit()
    assert isinstance(result, capture.BounceReport)
    assert result.lines == [
        "Bounce: shane.swanson@towsrus.com marked as bouncing (Shane Swanson, Shane Again)",
        "Bounce: old-sales@towsrus.com is no contact's address; nothing marked",
    ]
    for contact in (fresh(shane), fresh(twin)):
        assert contact.bounced_at == NOW
        assert contact.bounce_reason == REASON
    assert counts() == (0, 0)

    # Captured again later: still bouncing since the first time.
    later = datetime(2026, 3, 9, tzinfo=UTC)
    capture.capture_email(FAILED, captured_by=nick, tz=TZ, now=later)
    assert fresh(shane).bounced_at == NOW


def test_a_delayed_report_marks_nobody(nick, shane) -> None:
    result = capture.capture_email(DELAYED, captured_by=nick, tz=TZ, now=NOW)
    db.session.commit()
    assert isinstance(result, capture.BounceReport)
    assert result.lines == [
        "Delivery report without a permanent failure (e.g. delayed): nothing marked"
    ]
    assert fresh(shane).bounced_at is None
    assert counts() == (0, 0)


def test_flask_crm_capture_marks_the_bouncing_contact(app, nick, shane) -> None:
    result = run_capture(app, DELAYED)
    assert result.exit_code == 0, result.output
    assert fresh(shane).bounced_at is None

    result = run_capture(app, FAILED)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "Bounce: shane.swanson@towsrus.com marked as bouncing (Shane Swanson)"
    )
    assert fresh(shane).bounced_at is not None
    assert fresh(shane).bounce_reason == REASON
    assert db.session.scalars(select(Activity)).first() is None


def test_the_capture_form_reports_the_bounce(client: FlaskClient, signed_in, shane) -> None:
    signed_in(Role.REP)
    text = post_capture(client, file=FAILED).get_data(as_text=True)
    assert "Delivery report captured" in text
    assert "Bounce: shane.swanson@towsrus.com marked as bouncing" in text
    assert f'href="/contacts/{shane.id}"' in text
    assert fresh(shane).bounced_at is not None


# ---------------------------------------------------------------- nobody bouncing is mailed


def test_skip_reason_refuses_a_bouncing_contact() -> None:
    now = datetime.now(UTC)
    assert skip_reason(Contact(first_name="A", email="a@x.org", bounced_at=now)) == (
        SkipReason.BOUNCED
    )
    assert skip_reason(Contact(first_name="A", email="a@x.org")) is None
    both = Contact(first_name="A", email="a@x.org", bounced_at=now, unsubscribed_at=now)
    assert skip_reason(both) == SkipReason.UNSUBSCRIBED
    assert SendStatus.SKIPPED_BOUNCED.label == "Skipped: address bounces"


def test_a_campaign_send_skips_a_bouncing_contact(
    app, make_member, make_contact, tmp_path: Path
) -> None:
    owner = make_member(role=Role.MANAGER)
    campaign = _make_campaign(owner)
    al = make_contact("Al", "Smith", email="al@example.com")
    bo = make_contact("Bo", "Bounce", email="bo@example.com", bounced_at=NOW, bounce_reason="x")
    cy = make_contact("Cy", "Later", email="cy@example.com")
    group = marketing_lists.create_list("Everyone", by=owner)
    marketing_lists.add_contacts(group, [al.id, bo.id, cy.id])
    db.session.commit()
    email = write_email(campaign)
    campaign_sending.queue_sends(email, group.id)
    db.session.commit()
    cy.bounced_at = NOW  # bounces after being queued: skipped when the run reaches it
    db.session.commit()

    with Mailer(MailSettings(outbox=tmp_path / "outbox", rate_per_second=0)) as mailer:
        report = send(email, None, mailer)
    assert (report.sent, report.skipped) == (1, 1)
    statuses = dict(db.session.execute(select(EmailSend.contact_id, EmailSend.status)).all())
    assert statuses == {
        al.id: SendStatus.SENT.value,
        bo.id: SendStatus.SKIPPED_BOUNCED.value,
        cy.id: SendStatus.SKIPPED_BOUNCED.value,
    }
    counts = campaign_sending.send_counts(email.id)
    assert (counts.sent, counts.skipped, counts.total) == (1, 2, 3)
    figures = tracking.email_figures(campaign.id)
    assert (figures.skipped_bounced, figures.skipped) == (2, 2)
    assert [s.reachable for s in marketing_lists.summaries([group.id])] == [1]


def _make_campaign(owner: Member) -> Campaign:
    email_type = db.session.scalars(select(CampaignType).where(CampaignType.name == "Email")).one()
    campaign = save_campaign(None, type_id=email_type.id, owner_id=owner.id, name="Spring mail")
    db.session.commit()
    return campaign


def test_a_track_e_mail_is_not_sent_to_a_bouncing_contact(
    app, make_contact, tmp_path: Path
) -> None:
    contact = make_contact("A", email="a@x.org")
    outbox.enqueue(
        tracking.contact_email(
            key="track:1:1",
            kind=OutboxKind.TRACK,
            contact=contact,
            subject="Hi",
            body="Hello",
            base="https://crm.example.com",
        ),
        domain="x.org",
    )
    contact.bounced_at = NOW  # starts bouncing after the step was queued
    db.session.commit()
    with Mailer(MailSettings(outbox=tmp_path / "outbox", rate_per_second=0)) as mailer:
        done = delivery.deliver(mailer, sender="crm@x.org")
    assert (done.sent, done.skipped) == (0, 1)
    row = db.session.scalars(select(OutboxMessage)).one()
    assert (row.status, row.last_error) == ("skipped", "the address bounces")
    assert SKIPPED[SkipReason.BOUNCED] == "the address bounces"
    assert not (tmp_path / "outbox").exists()


# ---------------------------------------------------------------- the contact's page


def test_the_page_says_since_when_and_mail_again_clears_it(
    client: FlaskClient, signed_in, shane
) -> None:
    shane.bounced_at = NOW
    shane.bounce_reason = REASON
    db.session.commit()
    signed_in(Role.MANAGER)
    page = client.get(f"/contacts/{shane.id}").get_data(as_text=True)
    assert (
        f"E-mail bounces since Tue 2026-03-03: {REASON}".replace("<", "&lt;").replace(">", "&gt;")
        in page
    )
    assert "Mail again" in page
    token = page_token(client, f"/contacts/{shane.id}")
    response = client.post(f"/contacts/{shane.id}/mail-again", data={"csrf_token": token})
    assert response.status_code == 302
    contact = fresh(shane)
    assert (contact.bounced_at, contact.bounce_reason) == (None, "")
    page = client.get(f"/contacts/{shane.id}").get_data(as_text=True)
    assert "E-mail bounces since" not in page and "Mail again" not in page


def test_only_managers_and_the_account_manager_may_mail_again(
    client: FlaskClient, signed_in, make_member, shane
) -> None:
    shane.bounced_at = NOW
    db.session.commit()
    signed_in(Role.REP)
    page = client.get(f"/contacts/{shane.id}").get_data(as_text=True)
    assert "E-mail bounces since" in page and "Mail again" not in page
    token = page_token(client, f"/contacts/{shane.id}")
    response = client.post(f"/contacts/{shane.id}/mail-again", data={"csrf_token": token})
    assert response.status_code == 403
    assert fresh(shane).bounced_at == NOW

    client.post("/sign-out", data={"csrf_token": token})
    rep = signed_in(Role.REP)
    db.session.get(Company, shane.company_id).account_manager_id = rep.id
    db.session.commit()
    token = page_token(client, f"/contacts/{shane.id}")
    assert "Mail again" in client.get(f"/contacts/{shane.id}").get_data(as_text=True)
    response = client.post(f"/contacts/{shane.id}/mail-again", data={"csrf_token": token})
    assert response.status_code == 302
    assert fresh(shane).bounced_at is None


def test_a_new_address_is_no_longer_bouncing(app, shane) -> None:
    shane.bounced_at = NOW
    shane.bounce_reason = REASON
    db.session.commit()
    values = ContactValues(
        "Shane",
        "Swanson",
        title="Owner",
        email="Shane.Swanson@towsrus.com",
        company_id=shane.company_id,
    )
    save_contact(shane, values)  # the same address (other fields edited): still bouncing
    assert fresh(shane).bounced_at == NOW
    save_contact(shane, ContactValues(first_name="Shane", email="shane@towsrus.com"))
    db.session.commit()
    contact = fresh(shane)
    assert (contact.email, contact.bounced_at, contact.bounce_reason) == (
        "shane@towsrus.com",
        None,
        "",
    )
