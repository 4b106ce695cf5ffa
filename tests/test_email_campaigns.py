"""E-mail campaigns: contact groups (by hand, by filter, from a CSV), writing e-mails,
sending them (to the outbox, and to a real SMTP server started here), re-runs that continue
where they stopped, the command, and the campaign page's figures."""

from __future__ import annotations

import io
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import (
    Campaign,
    CampaignEmail,
    CampaignType,
    Company,
    Contact,
    EmailSend,
    FormSubmission,
    MarketingList,
    MarketingListMember,
    Member,
    OutboxMessage,
    Role,
    SendStatus,
)
from crmlite.services import campaign_emails, campaign_sending, delivery, marketing_lists, tracking
from crmlite.services.campaigns import save_campaign
from crmlite.services.mailer import Mailer, MailSettings, open_mailer
from tests.conftest import page_token

BASE = "http://crm.test"


@pytest.fixture()
def outbox(app, tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "outbox"
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", str(folder))
    return folder


@pytest.fixture()
def manager(signed_in) -> Member:
    return signed_in(Role.MANAGER, name="Cory Ferguson")


@pytest.fixture()
def campaign(app, make_member) -> Campaign:
    owner = make_member(name="Olive Owner", role=Role.MANAGER)
    email_type = db.session.scalars(select(CampaignType).where(CampaignType.name == "Email")).one()
    campaign = save_campaign(None, type_id=email_type.id, owner_id=owner.id, name="Spring mail")
    db.session.commit()
    return campaign


@pytest.fixture()
def people(app, make_company, make_contact) -> dict[str, Contact]:
    """Al and Cy reachable; Un unsubscribed; Bo without an address."""
    tows = make_company("Tows R Us", industry="Towing", city="Bakersfield")
    chartec = make_company("CharTec", industry="IT", city="Bakersfield")
    return {
        "al": make_contact("<b>Al</b>", "Smith", email="al@example.com", company_id=tows.id),
        "cy": make_contact("Cy", "Jones", email="cy@example.com", company_id=chartec.id),
        "un": make_contact(
            "Un", "Subscribed", email="un@example.com", unsubscribed_at=datetime.now(UTC)
        ),
        "bo": make_contact("Bo", "Nomail", email="", company_id=tows.id),
    }


@pytest.fixture()
def group(app, people, make_member) -> MarketingList:
    owner = make_member(role=Role.MANAGER)
    group = marketing_lists.create_list("Everyone", by=owner)
    marketing_lists.add_contacts(group, [c.id for c in people.values()])
    db.session.commit()
    return group


def write_email(campaign: Campaign, **fields: str) -> CampaignEmail:
    author = db.session.get(Member, campaign.owner_id)
    email = campaign_emails.save_email(
        None,
        campaign_id=campaign.id,
        subject=fields.get("subject", "Spring offer for {{ first_name }}"),
        body_text=fields.get(
            "body_text", "Hello {{ name }},\n\nSee https://example.com/offer.\n\nThe team"
        ),
        body_html=fields.get(
            "body_html",
            '<html><body><p>Hello {{ name }} of {{ company }},</p><p><a href="https://example.com/'
            'offer">The offer</a> and <a href="https://example.com/contact">contact us</a>.</p>'
            "</body></html>",
        ),
        by=author,
    )
    db.session.commit()
    return email


SENDER = "Spring <crm@example.com>"


@dataclass
class Sent:
    """What pressing Send and one worker run did, and the e-mail's totals after."""

    queued: int  # contacts newly recorded
    sent: int
    failed: int
    skipped: int
    stopped: str
    totals: dict[str, int]


def send(
    email: CampaignEmail,
    group: MarketingList | None,
    mailer: Mailer,
    *,
    later: timedelta = timedelta(0),
) -> Sent:
    """Queue (as the Send button does), then one worker run ``later`` from now."""
    queued = campaign_sending.queue_for_delivery(
        email, group.id if group else None, base=BASE, sender=SENDER
    )
    db.session.commit()
    done = delivery.deliver(mailer, sender=SENDER, now=lambda: utcnow() + later)
    return Sent(
        queued.recorded,
        done.sent,
        done.failed,
        done.skipped,
        done.stopped,
        campaign_sending.status_counts(email.id),
    )


def work(app, mailer: Mailer | None = None) -> delivery.Delivered:
    """One run of the worker's delivery, with the app's mail settings."""
    with mailer or open_mailer() as chosen:
        return delivery.deliver(chosen, sender=app.config["MAIL_FROM"])


def sends_by_status(email_id: int) -> dict[str, int]:
    return campaign_sending.status_counts(email_id)


# --------------------------------------------------------------------------- contact groups


def test_groups_are_for_managers(client, signed_in) -> None:
    signed_in(Role.REP)
    assert client.get("/marketing/groups/").status_code == 403
    assert client.post("/marketing/groups/", data={"name": "x"}).status_code in (400, 403)


def test_create_a_group_and_refuse_a_duplicate(client, manager) -> None:
    token = page_token(client, "/marketing/groups/")
    response = client.post(
        "/marketing/groups/", data={"name": " Towing  leads ", "csrf_token": token}
    )
    assert response.status_code == 302
    group = db.session.scalars(select(MarketingList)).one()
    assert group.name == "Towing leads"
    again = client.post("/marketing/groups/", data={"name": "towing LEADS", "csrf_token": token})
    assert again.status_code == 200
    assert "There is a group called towing LEADS already." in again.get_data(as_text=True)
    empty = client.post("/marketing/groups/", data={"name": "  ", "csrf_token": token})
    assert "Enter the group&#39;s name." in empty.get_data(as_text=True)
    assert db.session.scalar(select(func.count(MarketingList.id))) == 1


def test_add_by_hand_search_then_remove(client, manager, people, make_member) -> None:
    group = marketing_lists.create_list("Hand", by=make_member())
    db.session.commit()
    url = f"/marketing/groups/{group.id}"
    token = page_token(client, url)
    results = client.get(f"{url}/search?q=tows", headers={"HX-Request": "true"})
    html = results.get_data(as_text=True)
    assert 'id="contact-search-results"' in html
    assert f"candidate-{people['al'].id}" in html and f"candidate-{people['bo'].id}" in html
    assert f"candidate-{people['cy'].id}" not in html
    assert "&lt;b&gt;Al&lt;/b&gt;" in html  # names are escaped

    response = client.post(
        f"{url}/contacts",
        data={"contact_id": [str(people["al"].id), "999999"], "csrf_token": token},
    )
    assert response.status_code == 302
    # Added once; searching again no longer offers Al.
    client.post(f"{url}/contacts", data={"contact_id": str(people["al"].id), "csrf_token": token})
    assert marketing_lists.summary(group.id).contacts == 1
    again = client.get(f"{url}/search?q=tows").get_data(as_text=True)
    assert f"candidate-{people['al'].id}" not in again

    page = client.get(url).get_data(as_text=True)
    assert f"member-{people['al'].id}" in page
    client.post(f"{url}/contacts/{people['al'].id}/remove", data={"csrf_token": token})
    assert marketing_lists.summary(group.id).contacts == 0


def test_add_by_filter(client, manager, people, make_member) -> None:
    group = marketing_lists.create_list("Towing", by=make_member())
    db.session.commit()
    url = f"/marketing/groups/{group.id}"
    token = page_token(client, url)
    data = {"industry": "Towing", "city": "", "reachable_only": "y", "csrf_token": token}
    response = client.post(f"{url}/filter", data=data, follow_redirects=True)
    assert "1 contact matched; 1 added" in response.get_data(as_text=True)
    members = set(
        db.session.scalars(
            select(MarketingListMember.contact_id).where(MarketingListMember.list_id == group.id)
        )
    )
    assert members == {people["al"].id}  # Bo (no address) left out
    # Everyone in Bakersfield, reachable or not: Al is in already.
    data = {"industry": "", "city": "bakersfield", "csrf_token": token}
    response = client.post(f"{url}/filter", data=data, follow_redirects=True)
    assert "3 contacts matched; 2 added" in response.get_data(as_text=True)
    empty = client.post(f"{url}/filter", data={"csrf_token": token})
    assert "Choose an industry or a city." in empty.get_data(as_text=True)


def test_adding_by_filter_counts_the_contacts_once(app, people, make_member, queries) -> None:
    group = marketing_lists.create_list("Bakersfield", by=make_member())
    marketing_lists.add_contacts(group, [people["al"].id])
    spec = marketing_lists.ContactFilter(city="Bakersfield", reachable_only=False)
    with queries() as counted:
        added = marketing_lists.add_by_filter(group, spec)
    assert (added.matched, added.added, added.already) == (3, 2, 1)
    assert counted.count == 2  # one count, one INSERT … SELECT
    with queries() as counted:
        again = marketing_lists.add_by_filter(group, spec)
    assert (again.matched, again.added, again.already) == (3, 0, 3)
    assert counted.count == 1  # nothing new: nothing to insert
    assert marketing_lists.summary(group.id).contacts == 3


def test_add_from_a_csv_reports_unknown_and_invalid_addresses(
    client, manager, people, make_member
) -> None:
    group = marketing_lists.create_list("Imported", by=make_member())
    marketing_lists.add_contacts(group, [people["cy"].id])
    db.session.commit()
    url = f"/marketing/groups/{group.id}"
    token = page_token(client, url)
    csv = (
        b"name;email\n"
        b"Al;AL@Example.com\n"
        b"Cy;cy@example.com\n"
        b"Ghost;ghost@nowhere.example\n"
        b"Broken;broken@\n"
        b"Al again;al@example.com\n"
    )
    response = post_csv(client, f"{url}/csv", csv, token)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 added, 1 in the group already." in html
    assert "ghost@nowhere.example" in html and "broken@" in html
    assert marketing_lists.summary(group.id).contacts == 2
    # Unknown addresses are reported, never created.
    assert (
        db.session.scalar(select(func.count(Contact.id)).where(Contact.email.like("ghost%"))) == 0
    )


def post_csv(client, url: str, content: bytes, token: str):
    # Encoded in memory: the test client's own encoder leaves a large body's temp file open.
    data = {"csv_file": FileStorage(io.BytesIO(content), "list.csv"), "csrf_token": token}
    boundary, body = encode_multipart(data)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,phone\nAl,555\n", "The file holds no e-mail address."),
        (b"a" * (1024 * 1024 + 10), "larger than 1 MB"),
    ],
)
def test_bad_csv_files_are_refused(
    client, manager, make_member, content: bytes, message: str
) -> None:
    group = marketing_lists.create_list("Bad", by=make_member())
    db.session.commit()
    url = f"/marketing/groups/{group.id}"
    token = page_token(client, url)
    response = post_csv(client, f"{url}/csv", content, token)
    assert message in response.get_data(as_text=True)
    no_file = client.post(f"{url}/csv", data={"csrf_token": token})
    assert "Choose a CSV file." in no_file.get_data(as_text=True)


def test_delete_a_group_keeps_its_contacts(client, manager, group: MarketingList) -> None:
    group_id = group.id
    token = page_token(client, f"/marketing/groups/{group_id}")
    response = client.post(f"/marketing/groups/{group_id}/delete", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.expunge_all()
    assert db.session.get(MarketingList, group_id) is None
    assert db.session.scalar(select(func.count(Contact.id))) == 4


def test_group_pages_404_for_unknown_groups(client, manager) -> None:
    assert client.get("/marketing/groups/999").status_code == 404
    assert client.get("/marketing/groups/999/search?q=a").status_code == 404


# -------------------------------------------------------------------------------- e-mails


def test_write_an_email_and_see_its_preview_and_links(client, manager, campaign) -> None:
    url = f"/marketing/campaigns/{campaign.id}/emails/new"
    token = page_token(client, url)
    data = {
        "subject": "Hi {{ first_name }}",
        "body_text": "Hello {{ first_name }}, see https://example.com/a",
        "body_html": "",
        "csrf_token": token,
    }
    response = client.post(url, data=data)
    assert response.status_code == 302
    email = db.session.scalars(select(CampaignEmail)).one()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Hello Shane, see https://example.com/a" in page
    link = re.search(r'<tr id="link-0">(.*?)</tr>', page, re.S)
    assert link and "https://example.com/a" in link.group(1)
    preview = client.get(f"/marketing/emails/{email.id}/preview")
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert '<a href="https://example.com/a">' in preview.get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"subject": ""}, "Enter a subject."),
        ({"body_text": ""}, "Write the text of the e-mail."),
        ({"body_text": "Hi {{ nme }}"}, "Placeholders you can use"),
        ({"body_html": "<p>{% if %}</p>"}, "Line 1"),
        ({"body_html": "{{ self.__init__.__globals__ }}"}, "cannot be used"),
    ],
)
def test_bad_emails_are_refused_with_clear_errors(
    client, manager, campaign, changes: dict[str, str], message: str
) -> None:
    url = f"/marketing/campaigns/{campaign.id}/emails/new"
    data = {
        "subject": "S",
        "body_text": "T",
        "body_html": "",
        "csrf_token": page_token(client, url),
    }
    response = client.post(url, data={**data, **changes})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert db.session.scalar(select(func.count(CampaignEmail.id))) == 0


def test_an_email_cannot_change_once_sent(client, manager, campaign, group, outbox) -> None:
    email = write_email(campaign)
    with Mailer(MailSettings(outbox=outbox, rate_per_second=0)) as mailer:
        send(email, group, mailer)
    edit = client.get(f"/marketing/emails/{email.id}/edit")
    assert edit.status_code == 302
    with pytest.raises(campaign_emails.EmailRefused):
        campaign_emails.save_email(
            email, campaign_id=campaign.id, subject="x", body_text="y", body_html="", by=manager
        )
    db.session.rollback()
    token = page_token(client, f"/marketing/emails/{email.id}")
    client.post(f"/marketing/emails/{email.id}/delete", data={"csrf_token": token})
    assert db.session.get(CampaignEmail, email.id) is not None


def test_unknown_emails_and_campaigns_are_404(client, manager) -> None:
    for url in (
        "/marketing/emails/999",
        "/marketing/emails/999/edit",
        "/marketing/emails/999/preview",
        "/marketing/campaigns/999/emails/new",
    ):
        assert client.get(url).status_code == 404, url


# -------------------------------------------------------------------------------- sending


def read_outbox(outbox: Path) -> list[EmailMessage]:
    return [
        message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(outbox.glob("*.eml"))
    ]


def test_send_from_the_page_queues_and_the_worker_sends(
    app, client, manager, campaign, group, outbox
) -> None:
    email = write_email(campaign)
    url = f"/marketing/emails/{email.id}"
    token = page_token(client, url)
    response = client.post(f"{url}/send", data={"list_id": str(group.id), "csrf_token": token})
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "2 e-mails queued: they go out now." in page
    assert 'id="count-waiting">2<' in page and 'id="count-skipped">2<' in page
    assert 'hx-trigger="every 2s"' in page  # the figures refresh themselves while waiting
    assert not list(outbox.glob("*.eml"))  # nothing was sent inside the request

    assert work(app).sent == 2
    messages = read_outbox(outbox)
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == [
        "al@example.com",
        "cy@example.com",
    ]
    # The request's own address is used for the links.
    html = messages[0].get_body(("html",)).get_content()
    assert "http://localhost/t/o/" in html and "http://localhost/t/c/" in html
    progress = client.get(f"{url}/progress").get_data(as_text=True)
    assert 'id="count-sent">2<' in progress and "every 2s" not in progress
    assert 'id="send-done">Done.' in progress
    # Sending again mails nobody twice.
    client.post(f"{url}/send", data={"list_id": str(group.id), "csrf_token": token})
    assert "Nothing new to send" in client.get(url).get_data(as_text=True)
    assert work(app).handled == 0
    assert len(read_outbox(outbox)) == 2
    assert sends_by_status(email.id)[SendStatus.SENT.value] == 2


def test_a_bad_group_or_moment_is_refused_next_to_its_field(
    client, manager, campaign, group, outbox
) -> None:
    email = write_email(campaign)
    url = f"/marketing/emails/{email.id}"
    token = page_token(client, url)
    cases = [
        ({"list_id": "999"}, "Contact group: choose one from the list."),
        ({"list_id": "abc"}, "Contact group: choose one from the list."),
        ({"list_id": str(group.id), "later": "y"}, "Choose the day to send on."),
        (
            {"list_id": str(group.id), "later": "y", "send_on": "2020-01-01"},
            "Choose a moment in the future, or send now.",
        ),
        ({"list_id": str(group.id), "later": "y", "send_on": "31/12"}, "Not a valid date value"),
    ]
    for data, message in cases:
        response = client.post(f"{url}/send", data={**data, "csrf_token": token})
        html = response.get_data(as_text=True)
        assert response.status_code == 422, data
        assert re.search(r'class="field-error"[^>]*>' + re.escape(message), html), data
        for value in data.values():
            assert f'value="{value}"' in html or value in ("y", "999", "abc"), data
    assert sends_by_status(email.id) == {status.value: 0 for status in SendStatus}
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_a_scheduled_send_waits_for_its_moment_and_can_be_taken_back(
    app, client, manager, campaign, group, outbox
) -> None:
    email = write_email(campaign)
    url = f"/marketing/emails/{email.id}"
    token = page_token(client, url)
    tomorrow = (datetime.now(ZoneInfo("America/Los_Angeles")) + timedelta(days=1)).date()
    client.post(
        f"{url}/send",
        data={
            "list_id": str(group.id),
            "later": "y",
            "send_on": tomorrow.isoformat(),
            "send_at": "07:30",
            "csrf_token": token,
        },
    )
    page = client.get(url).get_data(as_text=True)
    assert f"2 e-mails scheduled for {tomorrow:%a %Y-%m-%d} 07:30." in page
    assert 'id="send-scheduled"' in page
    assert work(app).handled == 0  # not yet
    starts = campaign_sending.scheduled_for(email.id)
    assert starts is not None
    local = starts.astimezone(ZoneInfo("America/Los_Angeles"))
    assert (local.date(), local.hour, local.minute) == (tomorrow, 7, 30)

    client.post(f"{url}/cancel", data={"csrf_token": token})
    assert "2 e-mails taken back" in client.get(url).get_data(as_text=True)
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert sends_by_status(email.id)[SendStatus.QUEUED.value] == 0
    # Taken back, they can be sent again (now).
    client.post(f"{url}/send", data={"list_id": str(group.id), "csrf_token": token})
    assert work(app).sent == 2


def test_send_a_test_to_me(app, client, manager, campaign, group, outbox) -> None:
    email = write_email(campaign)
    url = f"/marketing/emails/{email.id}"
    client.post(f"{url}/test", data={"csrf_token": page_token(client, url)})
    assert f"A test is on its way to {manager.email}" in client.get(url).get_data(as_text=True)
    assert work(app).sent == 1
    (message,) = read_outbox(outbox)
    assert message["To"].addresses[0].addr_spec == manager.email
    assert message["Subject"] == "[Test] Spring offer for Cory"
    assert "Hello Cory Ferguson of Your company" in message.get_body(("html",)).get_content()
    assert sends_by_status(email.id)[SendStatus.SENT.value] == 0  # not a send to anyone
    assert f"/marketing/emails/{email.id}/edit" in client.get(url).get_data(as_text=True)


def test_clicks_are_counted_per_link(client, manager, campaign, group, outbox) -> None:
    email = write_email(campaign)
    with Mailer(MailSettings(outbox=outbox, rate_per_second=0)) as mailer:
        send(email, group, mailer)
    al, cy = (
        db.session.scalars(
            select(EmailSend).where(EmailSend.to_address == f"{n}@example.com")
        ).one()
        for n in ("al", "cy")
    )
    for who, position in ((al, 0), (al, 0), (cy, 0), (al, 1)):
        client.get(f"/t/c/{tracking.send_token(who, tracking.CLICK)}/{position}")
    page = client.get(f"/marketing/emails/{email.id}").get_data(as_text=True)

    def cells(position: int) -> list[str]:
        row = re.search(rf'<tr id="link-{position}">(.*?)</tr>', page, re.S)
        assert row
        return re.findall(r'<td class="num">([^<]*)</td>', row.group(1))

    assert cells(0) == ["3", "2"]  # three clicks, two people
    assert cells(1) == ["1", "1"]


def test_sending_is_for_managers(client, signed_in, campaign, group) -> None:
    email = write_email(campaign)
    signed_in(Role.REP)
    assert client.get(f"/marketing/emails/{email.id}").status_code == 403
    response = client.post(f"/marketing/emails/{email.id}/send", data={"list_id": str(group.id)})
    assert response.status_code in (400, 403)
    assert sends_by_status(email.id)[SendStatus.SENT.value] == 0


def test_the_command_queues_for_the_worker(app, campaign, group, outbox, monkeypatch) -> None:
    email = write_email(campaign)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["crm", "send-campaign-email", str(email.id)])
    assert result.exit_code != 0 and "PUBLIC_URL" in result.output
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://crm.example.com/")
    result = runner.invoke(
        args=["crm", "send-campaign-email", str(email.id), "--group", str(group.id)]
    )
    assert result.exit_code == 0, result.output
    assert "Queued 2 message(s) for the worker (4 contact(s) newly recorded)" in result.output
    assert "2 waiting, 0 sent, 0 failed, 2 skipped" in result.output
    worker = runner.invoke(args=["crm", "worker", "--once"])
    assert worker.exit_code == 0, worker.output
    assert "outbox: 2 sent, 0 failed, 0 skipped, 0 to retry" in worker.output
    html = read_outbox(outbox)[0].get_body(("html",)).get_content()
    assert "https://crm.example.com/t/o/" in html
    again = runner.invoke(args=["crm", "send-campaign-email", str(email.id)])
    assert "Queued 0 message(s)" in again.output and "0 waiting, 2 sent" in again.output
    missing = runner.invoke(args=["crm", "send-campaign-email", "999"])
    assert missing.exit_code != 0 and "No campaign e-mail" in missing.output


class Collecting:
    """An aiosmtpd handler keeping what it receives; refuses one address."""

    def __init__(self, refuse: str = "") -> None:
        self.envelopes: list = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def smtp_server() -> Iterator[tuple[Collecting, int]]:
    handler = Collecting(refuse="cy@example.com")
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def smtp_mailer(port: int) -> Mailer:
    return Mailer(
        MailSettings(server="127.0.0.1", port=port, use_tls=False, rate_per_second=1000, timeout=5)
    )


def test_a_campaign_email_reaches_a_real_smtp_server(
    app, campaign, people, group, smtp_server, make_contact
) -> None:
    handler, port = smtp_server
    extra = make_contact("Dee", "Ok", email="dee@example.com")
    marketing_lists.add_contacts(group, [extra.id])
    db.session.commit()
    email = write_email(campaign)
    with smtp_mailer(port) as mailer:
        report = send(email, group, mailer)

    assert (report.queued, report.sent, report.failed) == (5, 2, 1)
    assert report.totals == {
        "queued": 0,
        "sent": 2,
        "failed": 1,
        "skipped_unsubscribed": 1,
        "skipped_no_address": 1,
        "skipped_bounced": 0,
    }
    received = {tuple(e.rcpt_tos): e for e in handler.envelopes}
    assert set(received) == {("al@example.com",), ("dee@example.com",)}  # not un@, not cy@
    assert all(e.mail_from == "crm@example.com" for e in handler.envelopes)

    al = message_from_bytes(received[("al@example.com",)].content, policy=policy.default)
    assert al["Subject"] == "Spring offer for <b>Al</b>"
    assert al["To"].addresses[0].display_name == "<b>Al</b> Smith"
    text = al.get_body(("plain",)).get_content()
    html = al.get_body(("html",)).get_content()
    assert "Hello <b>Al</b> Smith," in text
    assert "Hello &lt;b&gt;Al&lt;/b&gt; Smith of Tows R Us," in html  # escaped in HTML

    al_send = db.session.scalars(
        select(EmailSend).where(EmailSend.contact_id == people["al"].id)
    ).one()
    clicks = re.findall(rf'<a href="{BASE}/t/c/([^/"]+)/(\d+)">', html)
    assert [position for _token, position in clicks] == ["0", "1"]
    click = clicks[0][0]
    assert tracking.load_send(click, tracking.CLICK) == al_send
    assert "https://example.com/offer" not in html  # every written link is tracked
    assert f"{BASE}/t/c/{click}/0." in text
    pixel = re.search(r'<img [^>]*src="([^"]+)"', html).group(1)
    assert pixel.startswith(f"{BASE}/t/o/")
    assert tracking.load_send(pixel.rsplit("/", 1)[1], tracking.OPEN) == al_send
    unsubscribe = al["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{BASE}/t/u/") and unsubscribe in html and unsubscribe in text
    assert al["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    cy = db.session.scalars(select(EmailSend).where(EmailSend.contact_id == people["cy"].id)).one()
    assert cy.status == SendStatus.FAILED.value and "550" in cy.error


def test_a_send_stopped_by_the_server_continues_where_it_stopped(
    app, campaign, people, group, smtp_server
) -> None:
    handler, port = smtp_server
    handler.refuse = ""
    email = write_email(campaign)
    closed = free_port()  # nothing listens there
    with smtp_mailer(closed) as mailer:
        report = send(email, group, mailer)
    assert report.stopped and report.sent == 0
    assert sends_by_status(email.id)[SendStatus.QUEUED.value] == 2
    assert not handler.envelopes
    with smtp_mailer(port) as mailer:
        # The message that met the closed port waits its backoff; the one handed back
        # untried goes at once.
        assert send(email, None, mailer).sent == 1

    with smtp_mailer(port) as mailer:
        report = send(email, None, mailer, later=timedelta(minutes=2))  # nothing queued again
    assert (report.queued, report.sent, report.stopped) == (0, 1, "")
    with smtp_mailer(port) as mailer:
        send(email, group, mailer, later=timedelta(hours=1))
    assert len(handler.envelopes) == 2  # nobody twice


def test_a_contact_who_unsubscribes_after_queueing_is_skipped(
    app, campaign, people, group, outbox
) -> None:
    email = write_email(campaign)
    campaign_sending.queue_sends(email, group.id)
    db.session.commit()
    people["cy"].unsubscribed_at = datetime.now(UTC)
    db.session.commit()
    with Mailer(MailSettings(outbox=outbox, rate_per_second=0)) as mailer:
        report = send(email, None, mailer)
    assert (report.sent, report.skipped) == (1, 1)
    assert sends_by_status(email.id)[SendStatus.SKIPPED_UNSUBSCRIBED.value] == 2


# ---------------------------------------------------------------------- the campaign page


def test_the_campaign_page_counts_sent_opened_clicked_submitted_unsubscribed(
    client, signed_in, campaign, people, group, outbox
) -> None:
    email = write_email(campaign)
    with Mailer(MailSettings(outbox=outbox, rate_per_second=0)) as mailer:
        send(email, group, mailer)
    al, cy = (
        db.session.scalars(select(EmailSend).where(EmailSend.contact_id == people[n].id)).one()
        for n in ("al", "cy")
    )
    for _ in range(3):
        client.get(f"/t/o/{tracking.send_token(al, tracking.OPEN)}")
    for position in (0, 0, 1):
        client.get(f"/t/c/{tracking.send_token(al, tracking.CLICK)}/{position}")
    client.post(f"/t/u/{tracking.send_token(cy, tracking.UNSUBSCRIBE)}")
    form = f"/t/f/{tracking.form_token(campaign)}"
    for _ in range(2):
        client.post(form, data={"name": "Al Smith", "email": "al@example.com"})

    signed_in(Role.REP)
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)

    def row(name: str) -> list[str]:
        match = re.search(rf'<tr id="figure-{name}">(.*?)</tr>', page, re.S)
        assert match, name
        return re.findall(r'<td class="num">([^<]*)</td>', match.group(1))

    # 2 sent (Al, Cy); Al opened 3 times, clicked 3 times; Cy unsubscribed; Al sent the form
    # twice. Rates over the 2 sent.
    assert row("sent") == ["2", "2", ""]
    assert row("opened") == ["1", "3", "50.0 %"]
    assert row("clicked") == ["1", "3", "50.0 %"]
    assert row("submitted") == ["1", "2", "50.0 %"]
    assert row("unsubscribed") == ["1", "1", "50.0 %"]
    assert "Skipped: 1 unsubscribed, 1 without an address" in page
    assert "Write an e-mail" not in page  # a rep sees the figures only
    figures = tracking.email_figures(campaign.id)
    assert (figures.opened, figures.opens, figures.clicked, figures.clicks) == (1, 3, 1, 3)
    assert db.session.scalar(select(func.count(FormSubmission.id))) == 2


def test_send_counts_add_up_waiting_skipped_and_sent() -> None:
    counts = campaign_sending.SendCounts(
        {"queued": 2, "sent": 5, "failed": 1, "skipped_unsubscribed": 3, "skipped_no_address": 4}
    )
    assert (counts.waiting, counts.failed, counts.skipped, counts.sent) == (2, 1, 7, 5)
    assert counts.total == 15
    assert counts["failed"] == 1 and counts["unknown"] == 0
    assert campaign_sending.SendCounts({}).total == 0


def test_each_email_shows_its_sent_skipped_and_waiting_counts(
    client, manager, campaign, group, outbox
) -> None:
    """The campaign page and the e-mail page show the figures the service adds up."""
    email = write_email(campaign)
    campaign_sending.queue_sends(email, group.id)  # 2 queued, 2 skipped; none sent yet
    db.session.commit()
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    row = re.search(r'<table class="table" id="campaign-emails">.*?</table>', page, re.S)
    assert row and re.findall(r'<td class="num">(\d+)</td>', row.group(0)) == ["0", "2", "2"]
    email_page = client.get(f"/marketing/emails/{email.id}").get_data(as_text=True)
    assert "(the 2 recorded but not queued yet)" in email_page
    assert 'id="count-waiting">2<' in email_page
    assert f"/marketing/emails/{email.id}/edit" not in email_page  # queued: it is locked


def test_the_campaign_page_shows_the_form_to_embed(client, manager, campaign) -> None:
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    url = f"http://localhost/t/f/{tracking.form_token(campaign)}"
    assert f'id="web-form-url">{url}</a>' in page
    assert f"&lt;iframe src=&#34;{url}&#34;" in page or f'&lt;iframe src="{url}"' in page
    assert "Write an e-mail" in page


def test_the_campaign_page_query_count_does_not_grow(
    client, manager, campaign, people, group, outbox, queries
) -> None:
    def measure() -> int:
        with queries() as counted:
            assert client.get(f"/campaigns/{campaign.id}").status_code == 200
        return counted.count

    write_email(campaign)
    few = measure()
    for n in range(3):
        email = write_email(campaign, subject=f"Mail {n}")
        with Mailer(MailSettings(outbox=outbox, rate_per_second=0)) as mailer:
            send(email, group, mailer)
        client.post(
            f"/t/f/{tracking.form_token(campaign)}", data={"name": "A", "email": f"a{n}@x.org"}
        )
    assert measure() == few


def test_company_rows_stay_untouched_by_sending(app, campaign, group, outbox) -> None:
    before = db.session.scalar(select(func.count(Company.id)))
    email = write_email(campaign)
    with Mailer(MailSettings(outbox=outbox, rate_per_second=0)) as mailer:
        send(email, group, mailer)
    assert db.session.scalar(select(func.count(Company.id))) == before


# Plain AUTH without TLS is fine on loopback in a test; aiosmtpd warns about it.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_mailer_logs_in_when_configured(app, campaign, group) -> None:
    handler = Collecting()

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        login, password = (
            v.decode() if isinstance(v, bytes) else v for v in (auth_data.login, auth_data.password)
        )
        return AuthResult(success=(login, password) == ("crm", "s3cret"), handled=False)

    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,  # loopback only, in a test
    )
    controller.start()
    try:
        email = write_email(campaign)

        def mailer(password: str) -> Mailer:
            settings = MailSettings(
                server="127.0.0.1",
                port=port,
                use_tls=False,
                username="crm",
                password=password,
                rate_per_second=1000,
                timeout=5,
            )
            return Mailer(settings)

        with mailer("wrong") as wrong:
            report = send(email, group, wrong)
        assert report.stopped.startswith("535") and report.sent == 0
        with mailer("s3cret") as right:
            report = send(email, None, right, later=timedelta(minutes=2))
        assert report.sent == 2 and len(handler.envelopes) == 2
    finally:
        controller.stop()
