"""E-mail capture: the parser on real .eml samples (plain, HTML-only, alternative with
attachments, iso-8859-1 and windows-1252, malformed), matching to contact, company and the
single open opportunity, duplicates, the assignee; the capture form (upload and paste), the
inbox and assigning, the ``flask crm capture`` command, and the inbox's query count."""

from __future__ import annotations

import html
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    ActivityStatus,
    Contact,
    Member,
    OpportunityContact,
    Role,
)
from crmlite.services import capture
from crmlite.services.email_reading import (
    MAX_MESSAGE_BYTES,
    CaptureError,
    decode_text,
    html_to_text,
    parse_email,
)
from tests.conftest import activity_type, page_token

EML = Path(__file__).parent / "data" / "eml"
TZ = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)


def eml(name: str) -> bytes:
    return (EML / name).read_bytes()


def message(
    *,
    sender: str = "Pat Doe <pat@unknown.example>",
    to: str = "nick@example.com",
    subject: str = "Hello",
    date_header: str | None = "Tue, 3 Mar 2026 10:15:00 -0800",
    message_id: str | None = "<m1@towsrus.com>",
    body: str = "Body text.",
    extra: str = "",
) -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    if date_header is not None:
        lines.append(f"Date: {date_header}")
    if message_id is not None:
        lines.append(f"Message-ID: {message_id}")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count(Activity.id))) or 0,
        db.session.scalar(select(func.count(ActivityNote.id))) or 0,
    )


def fresh(activity_id: int) -> Activity:
    db.session.expire_all()
    return db.session.get(Activity, activity_id)


def note_of(activity: Activity) -> ActivityNote:
    return db.session.scalars(
        select(ActivityNote).where(ActivityNote.activity_id == activity.id)
    ).one()


# ---------------------------------------------------------------- parsing (no app needed)


def test_plain_text_message() -> None:
    parsed = parse_email(eml("plain.eml"))
    assert parsed.sender == "shane.swanson@towsrus.com"
    assert parsed.to == ("nick@example.com",)
    assert parsed.cc == ("cory@example.com", "accounts@towsrus.com")
    assert parsed.subject == "Re: Managed services for our 3 sites"  # folded header joined
    assert parsed.sent_at == datetime(2026, 3, 3, 18, 15, tzinfo=UTC)
    assert parsed.message_id == "<CAF3n2x7Qk1@mail.towsrus.com>"
    assert parsed.text == (
        "Hi Nick,\n\n"
        "Thanks for the proposal. We would like to go ahead with all 3 sites.\n\n"
        "Can you send the agreement by Friday?\n\n"
        "Shane"
    )
    assert parsed.attachments == ()
    assert parsed.note == parsed.text


def test_html_only_message_becomes_text() -> None:
    parsed = parse_email(eml("html_only.eml"))
    assert parsed.sender == "jason@chartec.com"
    assert parsed.subject == "Phone system upgrade"
    assert parsed.text == (
        "Hello Nick,\n\n"
        "Jim over at Jim's towing referred me. We are interested in a phone system upgrade.\n\n"
        "Phones\n24\nSites\n2\n\n"
        "Regards,\nJason & team — CharTec"
    )
    for dropped in ("alert", "color: red", "Newsletter title", "<", "DOCTYPE"):
        assert dropped not in parsed.text


def test_html_to_text_keeps_pre_and_ignores_comments() -> None:
    assert html_to_text("<div>a <!--[if mso]>x<![endif]--> b</div><pre>1\n  2</pre>") == (
        "a b\n1\n  2"
    )
    assert html_to_text("https://example.com") == "https://example.com"  # no warning either


def test_alternative_prefers_plain_text_and_lists_attachments() -> None:
    parsed = parse_email(eml("alternative_attachment.eml"))
    assert parsed.text == (
        "Cory,\n\n"
        "Attached is the signed agreement. Looking forward to the kick-off – see you on the 12th."
        "\n\nShane"
    )
    assert [(a.filename, a.size) for a in parsed.attachments] == [
        ("contract.pdf", 12 * 1024),
        ("logo.png", 3 * 1024),
    ]
    assert parsed.note.endswith("\n\nAttachments: contract.pdf (12 KB), logo.png (3 KB)")
    assert parsed.sent_at == datetime(2026, 3, 4, 15, 45, 10, tzinfo=UTC)


def test_iso_8859_1_headers_and_body_keep_their_accents() -> None:
    parsed = parse_email(eml("latin1.eml"))
    assert parsed.sender == "renee@cafe-creme.fr"
    assert parsed.subject == "Réunion à Bakersfield - déjà prévue"
    assert parsed.text == (
        "Bonjour Nick,\n\n"
        "Le café crème est prêt ; à bientôt à Bakersfield.\n"
        "Ça coûte 12 EUR ? Non : « déjà payé ».\n\n"
        "Renée"
    )


def test_windows_1252_smart_quotes_and_euro() -> None:
    parsed = parse_email(eml("windows1252.eml"))
    assert parsed.text == "The “New Hardware” quote of € 1,200 looks right – thanks."


def test_charsets_decode_like_mail_programs() -> None:
    # Latin-1 labels mean Windows-1252 in practice; a missing charset is UTF-8 when valid.
    assert decode_text(b"\x93Hi\x94 \x80 caf\xe9", "iso-8859-1") == "“Hi” € café"
    assert decode_text("Grüße".encode(), None) == "Grüße"
    assert decode_text(b"caf\xe9", None) == "café"
    assert decode_text(b"caf\xe9", "x-unknown-charset") == "café"
    assert decode_text("Привет".encode("koi8-r"), "koi8-r") == "Привет"


def test_raw_8bit_headers_are_read_as_utf8_or_windows_1252() -> None:
    # A pasted message or a sloppy mailer: non-ASCII headers without encoded words.
    pasted = message(subject="Grüße aus München", sender="Jürgen <j@example.de>")
    assert parse_email(pasted).subject == "Grüße aus München"
    latin = b"From: a@example.org\r\nSubject: Caf\xe9 cr\xe8me\r\n\r\nx"
    assert parse_email(latin).subject == "Café crème"


def test_subject_missing_and_dates() -> None:
    raw = b"From: a@example.org\r\nDate: Tue, 3 Mar 2026 10:15:00 -0000\r\n\r\nx"
    parsed = parse_email(raw)
    assert parsed.subject == "(no subject)"
    assert parsed.sent_at == datetime(2026, 3, 3, 10, 15, tzinfo=UTC)  # -0000: UTC
    assert parse_email(message(date_header="yesterday-ish")).sent_at is None
    assert parse_email(message(date_header=None)).sent_at is None
    assert parse_email(message(message_id=None)).message_id is None


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("empty.eml", "The message is empty."),
        ("garbage.eml", "This is not an e-mail message: it has no headers."),
        ("no_separator.eml", "The message is malformed: a line among its headers is not a header"),
        ("broken_multipart.eml", "The message is malformed: its parts"),
        ("no_from.eml", "The message has no From address."),
        ("bad_from.eml", "The From address “Shane Swanson at Tows R Us” could not be read."),
    ],
)
def test_malformed_messages_are_refused_clearly(name: str, error: str) -> None:
    with pytest.raises(CaptureError) as refused:
        parse_email(eml(name))
    assert str(refused.value).startswith(error)


def test_too_large_and_outlook_files_are_refused() -> None:
    big = message(body="x" * MAX_MESSAGE_BYTES)
    with pytest.raises(CaptureError, match="larger than 10 MB"):
        parse_email(big)
    with pytest.raises(CaptureError, match=r"Outlook \.msg"):
        parse_email(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with pytest.raises(CaptureError, match="empty"):
        parse_email(b"\r\n \r\n")


# ---------------------------------------------------------------- capture and matching


@pytest.fixture()
def team(make_member) -> dict[str, Member]:
    return {
        "nick": make_member("Nick Points", Role.ADMIN, email="nick@example.com"),
        "cory": make_member("Cory Ferguson", Role.MANAGER, email="cory@example.com"),
        "manny": make_member("Manny Martinez", Role.REP, email="manny@example.com"),
    }


@pytest.fixture()
def shane(make_company, make_contact) -> Contact:
    tows = make_company(name="Tows R Us")
    return make_contact(
        "Shane", "Swanson", email="shane.swanson@towsrus.com", phone="(661) 555-0100",
        company_id=tows.id,
    )  # fmt: skip


def test_capture_matches_contact_company_and_single_open_opportunity(
    app, team, shane, make_opportunity
) -> None:
    nick = team["nick"]
    deal = make_opportunity(company_id=shane.company_id, contact_id=shane.id)
    make_opportunity(name="Old deal", stage_name="Won", contact_id=shane.id)

    result = capture.capture_email(eml("plain.eml"), captured_by=nick, tz=TZ, now=NOW)
    assert not result.already_captured and not result.waiting_in_inbox
    assert result.summary == (
        "matched Shane Swanson (Tows R Us), opportunity Tows R Us - Managed Services - Complete"
    )
    db.session.commit()

    activity = fresh(result.activity.id)
    assert activity.subject == "Re: Managed services for our 3 sites"
    assert activity.type_id == activity_type("EM").id
    assert activity.status == ActivityStatus.CLOSED
    assert activity.closed_at == datetime(2026, 3, 3, 18, 15, tzinfo=UTC)
    assert activity.due_on == date(2026, 3, 3)
    assert activity.points_earned == 0
    assert activity.closed_by_id == nick.id
    assert activity.place == "E-mail"
    assert activity.email_from == "shane.swanson@towsrus.com"
    assert activity.email_to == "nick@example.com, cory@example.com, accounts@towsrus.com"
    assert activity.email_message_id == "<CAF3n2x7Qk1@mail.towsrus.com>"
    assert (activity.contact_id, activity.company_id) == (shane.id, shane.company_id)
    assert activity.phone == "(661) 555-0100"
    assert activity.opportunity_id == deal.id
    assert (activity.assigned_to_id, activity.assigned_by_id) == (nick.id, nick.id)
    note = note_of(activity)
    assert note.body == parse_email(eml("plain.eml")).text
    assert (note.author_id, note.created_at) == (nick.id, NOW)


def test_due_day_is_the_team_local_date_and_missing_date_means_now(app, team) -> None:
    late = message(date_header="Tue, 3 Mar 2026 02:00:00 +0000", message_id="<a@x>")
    activity = capture.capture_email(late, captured_by=team["nick"], tz=TZ, now=NOW).activity
    assert activity.due_on == date(2026, 3, 2)  # 6 pm the day before in Los Angeles

    undated = message(date_header="not a date", message_id="<b@x>")
    activity = capture.capture_email(undated, captured_by=team["nick"], tz=TZ, now=NOW).activity
    assert (activity.closed_at, activity.due_on) == (NOW, date(2026, 3, 10))

    future = message(date_header="Fri, 1 Jan 2027 10:00:00 +0000", message_id="<c@x>")
    activity = capture.capture_email(future, captured_by=team["nick"], tz=TZ, now=NOW).activity
    assert activity.closed_at == NOW + capture.CLOCK_SKEW  # never closed in the future


def test_contact_matched_by_address_in_any_case_excluding_the_team(app, team, make_contact) -> None:
    # A team member who is also a contact is never the match: the other side is.
    make_contact("Nick", "Points", email="nick@example.com")
    jason = make_contact("Jason", "Rivas", email="Jason.Rivas@CharTec.com")
    raw = message(sender="Nick Points <NICK@example.com>", to="JASON.rivas@chartec.com")
    result = capture.capture_email(raw, captured_by=team["cory"], tz=TZ, now=NOW)
    assert result.contact is not None and result.contact.id == jason.id
    assert result.company is None and result.opportunity is None
    assert result.activity.phone == ""
    assert result.activity.assigned_to_id == team["nick"].id  # the member who sent it


def test_no_contact_or_several_contacts_wait_in_the_inbox(app, team, shane, make_contact) -> None:
    nobody = capture.capture_email(
        message(sender="stranger@nowhere.example"), captured_by=team["nick"], tz=TZ, now=NOW
    )
    assert nobody.waiting_in_inbox and nobody.summary == "waiting in the inbox"
    assert nobody.activity.contact_id is None and nobody.activity.company_id is None

    make_contact("Accounts", email="accounts@towsrus.com")
    several = capture.capture_email(eml("plain.eml"), captured_by=team["nick"], tz=TZ, now=NOW)
    assert several.waiting_in_inbox
    assert several.activity.contact_id is None and several.activity.opportunity_id is None


def test_opportunity_only_when_exactly_one_is_open(
    app, team, make_company, make_contact, make_opportunity
) -> None:
    def captured_opportunity(contact: Contact, n: int) -> int | None:
        raw = message(sender=contact.email, message_id=f"<o{n}@x>")
        result = capture.capture_email(raw, captured_by=team["nick"], tz=TZ, now=NOW)
        return result.activity.opportunity_id

    acme = make_company(name="Acme")
    ann = make_contact("Ann", email="ann@acme.example", company_id=acme.id)
    assert captured_opportunity(ann, 1) is None  # none at all

    company_deal = make_opportunity(name="Acme deal", company_id=acme.id)
    assert captured_opportunity(ann, 2) == company_deal.id  # her company's only one

    make_opportunity(name="Another Acme deal", company_id=acme.id)
    assert captured_opportunity(ann, 3) is None  # the company has two

    own = make_opportunity(name="Ann's deal", company_id=acme.id, contact_id=ann.id)
    make_opportunity(name="Lost", stage_name="Lost", contact_id=ann.id)
    assert captured_opportunity(ann, 4) == own.id  # her own only open one comes first

    extra = make_opportunity(name="Ann helps here")
    db.session.add(OpportunityContact(opportunity_id=extra.id, contact_id=ann.id))
    db.session.commit()
    assert captured_opportunity(ann, 5) is None  # two of her own (one as an extra contact)


def test_assignee_is_the_member_who_sent_or_received_it(app, team, shane) -> None:
    nick, cory, manny = team["nick"], team["cory"], team["manny"]

    def assignee(raw: bytes, by: Member) -> int:
        return capture.capture_email(raw, captured_by=by, tz=TZ, now=NOW).activity.assigned_to_id

    sent_by_manny = message(sender="manny@example.com", to=shane.email, message_id="<1@x>")
    assert assignee(sent_by_manny, nick) == manny.id
    to_cory = message(to="cory@example.com", message_id="<2@x>")
    assert assignee(to_cory, nick) == cory.id
    to_both = message(to="nick@example.com, cory@example.com", message_id="<3@x>")
    assert assignee(to_both, cory) == cory.id  # the capturing member received it too
    cc_only = message(to=shane.email, extra="Cc: manny@example.com", message_id="<4@x>")
    assert assignee(cc_only, nick) == nick.id


def test_same_message_captured_twice_is_not_duplicated(app, team, shane) -> None:
    first = capture.capture_email(eml("plain.eml"), captured_by=team["nick"], tz=TZ)
    db.session.commit()
    before = counts()
    again = capture.capture_email(eml("plain.eml"), captured_by=team["cory"], tz=TZ)
    assert again.already_captured and again.activity.id == first.activity.id
    assert again.contact is not None and again.contact.id == shane.id
    assert counts() == before == (1, 1)


def test_a_capture_racing_another_returns_the_other(app, team, monkeypatch) -> None:
    first = capture.capture_email(eml("plain.eml"), captured_by=team["nick"], tz=TZ)
    db.session.commit()
    real = capture._already_captured
    calls = iter([None])  # the first look finds nothing: the other capture has not committed
    monkeypatch.setattr(capture, "_already_captured", lambda mid: next(calls, real(mid)))
    again = capture.capture_email(eml("plain.eml"), captured_by=team["nick"], tz=TZ)
    assert again.already_captured and again.activity.id == first.activity.id
    db.session.commit()
    assert counts() == (1, 1)


def test_attachments_are_listed_not_stored(app, team) -> None:
    result = capture.capture_email(
        eml("alternative_attachment.eml"), captured_by=team["nick"], tz=TZ
    )
    body = note_of(result.activity).body
    assert body.endswith("Attachments: contract.pdf (12 KB), logo.png (3 KB)")
    assert "%PDF" not in body and "PNG" not in body
    assert counts() == (1, 1)


@pytest.mark.parametrize("name", ["empty.eml", "garbage.eml", "no_separator.eml", "no_from.eml"])
def test_malformed_message_creates_nothing(app, team, name: str) -> None:
    with pytest.raises(CaptureError):
        capture.capture_email(eml(name), captured_by=team["nick"], tz=TZ)
    assert counts() == (0, 0)


# ---------------------------------------------------------------- the capture form


def post_capture(client: FlaskClient, *, file: bytes | None = None, text: str = "", **kw):
    data: dict = {"csrf_token": page_token(client, "/capture/"), "raw_message": text}
    if file is not None:
        data["message_file"] = FileStorage(io.BytesIO(file), kw.get("filename", "message.eml"))
    # Encoded in memory: the test client's own encoder leaves a large body's temp file open.
    boundary, body = encode_multipart(data)
    return client.post(
        "/capture/", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def test_capture_needs_sign_in(client: FlaskClient) -> None:
    response = client.get("/capture/")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_upload_an_eml_file(client: FlaskClient, signed_in, shane, make_opportunity) -> None:
    me = signed_in(Role.REP, email="nick@example.com", name="Nick Points")
    deal = make_opportunity(company_id=shane.company_id, contact_id=shane.id)
    page = client.get("/capture/").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'name="raw_message"' in page

    response = post_capture(client, file=eml("plain.eml"), filename="plain.eml")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "E-mail captured" in text
    assert "Shane Swanson" in text and "Tows R Us" in text and html.escape(deal.name) in text
    activity = db.session.scalars(select(Activity)).one()
    assert (activity.contact_id, activity.opportunity_id) == (shane.id, deal.id)
    assert activity.assigned_to_id == me.id and activity.assigned_by_id == me.id
    assert f"/activities/{activity.id}" in text

    again = post_capture(client, file=eml("plain.eml")).get_data(as_text=True)
    assert "Already captured" in again
    assert counts() == (1, 1)


def test_paste_a_raw_message_that_matches_no_one(client: FlaskClient, signed_in) -> None:
    signed_in(Role.REP)
    pasted = eml("latin1.eml").decode("latin-1")
    response = post_capture(client, text="\r\n" + pasted)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "waiting in the inbox" in text
    assert "Réunion à Bakersfield - déjà prévue" in text
    assert "Le café crème est prêt" in text
    activity = db.session.scalars(select(Activity)).one()
    assert activity.contact_id is None and activity.subject == "Réunion à Bakersfield - déjà prévue"


def test_bad_input_is_kept_with_a_message_and_creates_nothing(
    client: FlaskClient, signed_in
) -> None:
    signed_in(Role.REP)
    pasted = eml("no_separator.eml").decode()
    response = post_capture(client, text=pasted)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="raw_message-error"' in text and "The message is malformed" in text
    assert html.escape("This line should have been the body after a blank line.") in text

    response = post_capture(client, file=eml("garbage.eml"))
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="message_file-error"' in text and "it has no headers" in text

    text = post_capture(client).get_data(as_text=True)
    assert "Upload an .eml file or paste the raw message." in text
    text = post_capture(client, file=eml("plain.eml"), text=pasted).get_data(as_text=True)
    assert "Upload a file or paste a message, not both." in text
    assert counts() == (0, 0)


def test_too_large_messages_are_refused(client: FlaskClient, signed_in) -> None:
    signed_in(Role.REP)
    just_over = message(body="x" * MAX_MESSAGE_BYTES)
    text = post_capture(client, file=just_over).get_data(as_text=True)
    assert "larger than 10 MB" in text
    far_over = just_over + b"x" * (2 * 1024 * 1024)
    response = post_capture(client, file=far_over)
    assert response.status_code == 200
    assert "larger than 10 MB" in response.get_data(as_text=True)
    # A pasted message above Flask's 500 KB form-field default still reaches the parser.
    text = post_capture(client, text=message(body="y" * 600_000).decode()).get_data(as_text=True)
    assert "E-mail captured" in text
    assert counts() == (1, 1)


def test_capture_without_csrf_token_is_refused(client: FlaskClient, signed_in) -> None:
    signed_in(Role.REP)
    response = client.post("/capture/", data={"raw_message": eml("plain.eml").decode()})
    assert response.status_code == 400
    assert counts() == (0, 0)


# ---------------------------------------------------------------- inbox and assigning


def capture_as(member: Member, raw: bytes, now: datetime = NOW) -> Activity:
    activity = capture.capture_email(raw, captured_by=member, tz=TZ, now=now).activity
    db.session.commit()
    return activity


def test_inbox_lists_unmatched_emails_newest_first_by_role(
    client: FlaskClient, signed_in, make_member, shane
) -> None:
    rep = signed_in(Role.REP, email="rep@example.com")
    other = make_member("Other Rep", email="other@example.com")
    older = capture_as(rep, message(subject="Older", date_header="Mon, 2 Mar 2026 09:00 +0000"))
    newer = capture_as(
        rep,
        message(subject="Newer", message_id="<m2@x>", date_header="Wed, 4 Mar 2026 09:00 +0000"),
    )
    others = capture_as(other, message(subject="Not mine", message_id="<m3@x>"))
    matched = capture_as(rep, message(sender=shane.email, subject="Matched", message_id="<m4@x>"))
    assert matched.contact_id == shane.id

    text = client.get("/capture/inbox").get_data(as_text=True)
    assert text.index(f'id="inbox-{newer.id}"') < text.index(f'id="inbox-{older.id}"')
    assert f'id="inbox-{others.id}"' not in text and f'id="inbox-{matched.id}"' not in text
    assert "2 captured e-mails matched no contact (yours)." in text
    assert "Body text." in text  # the text, folded away under the subject

    client.post("/sign-out", data={"csrf_token": page_token(client, "/capture/inbox")})
    signed_in(Role.MANAGER)
    text = client.get("/capture/inbox").get_data(as_text=True)
    assert f'id="inbox-{others.id}"' in text and f'id="inbox-{newer.id}"' in text
    assert f'id="inbox-{matched.id}"' not in text


def test_assign_a_contact_from_the_inbox(
    client: FlaskClient, signed_in, shane, make_contact, make_opportunity
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(company_id=shane.company_id, contact_id=shane.id)
    make_contact("Jason", "Rivas", email="jason@chartec.com")
    activity = capture_as(me, message(sender="shane@personal.example", subject="From home"))

    page = client.get(f"/capture/inbox/{activity.id}/assign").get_data(as_text=True)
    assert "Shane Swanson (Tows R Us)" in page and "Jason Rivas" in page
    found = client.get(
        f"/capture/inbox/{activity.id}/assign?q=tows", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert found.lstrip().startswith('<div id="contact-choices">')
    assert "Shane Swanson" in found and "Jason Rivas" not in found

    token = page_token(client, "/capture/inbox")
    response = client.post(
        f"/capture/inbox/{activity.id}/assign", data={"contact_id": shane.id, "csrf_token": token}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/capture/inbox"
    done = fresh(activity.id)
    assert (done.contact_id, done.company_id, done.phone) == (
        shane.id,
        shane.company_id,
        "(661) 555-0100",
    )
    assert done.opportunity_id == deal.id
    text = client.get("/capture/inbox").get_data(as_text=True)
    assert "“From home” assigned to Shane Swanson (Tows R Us)" in text
    assert f'id="inbox-{activity.id}"' not in text


def test_assign_refuses_unknown_ids_others_emails_bad_choices_and_bad_csrf(
    client: FlaskClient, signed_in, make_member, make_activity, shane
) -> None:
    me = signed_in(Role.REP)
    other = make_member("Other Rep")
    mine = capture_as(me, message(subject="Mine"))
    theirs = capture_as(other, message(subject="Theirs", message_id="<t@x>"))
    not_captured = make_activity(me, "A call")
    token = page_token(client, "/capture/inbox")

    def post(activity_id: int, **data) -> int:
        data.setdefault("csrf_token", token)
        url = f"/capture/inbox/{activity_id}/assign"
        return client.post(url, data={"contact_id": shane.id, **data}).status_code

    assert post(999_999) == 404
    assert post(not_captured.id) == 404
    assert client.get(f"/capture/inbox/{theirs.id}/assign").status_code == 403
    assert post(theirs.id) == 403
    assert post(mine.id, csrf_token="forged") == 400
    response = client.post(
        f"/capture/inbox/{mine.id}/assign", data={"contact_id": "123456", "csrf_token": token}
    )
    assert response.status_code == 200
    assert "Choose a contact from the list." in response.get_data(as_text=True)
    assert fresh(mine.id).contact_id is None and fresh(theirs.id).contact_id is None


def test_manager_assigns_anyones_email(client: FlaskClient, signed_in, make_member, shane) -> None:
    signed_in(Role.MANAGER)
    rep = make_member("A Rep")
    theirs = capture_as(rep, message())
    token = page_token(client, "/capture/inbox")
    response = client.post(
        f"/capture/inbox/{theirs.id}/assign", data={"contact_id": shane.id, "csrf_token": token}
    )
    assert response.status_code == 302
    assert fresh(theirs.id).contact_id == shane.id


def test_inbox_loads_in_a_constant_number_of_queries(
    client: FlaskClient, signed_in, queries
) -> None:
    me = signed_in(Role.MANAGER)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            raw = message(subject=f"E-mail {i}", message_id=f"<q{i}@x>", sender=f"s{i}@x.example")
            capture.capture_email(raw, captured_by=me, tz=TZ, now=NOW - timedelta(minutes=i))
        db.session.commit()

    def count() -> tuple[int, int]:
        with queries() as counted:
            text = client.get("/capture/inbox").get_data(as_text=True)
        return counted.count, text.count('<tr id="inbox-')

    add(3, 0)
    few, rows = count()
    assert rows == 3
    add(27, 3)
    many, rows = count()
    assert rows == 30
    assert many == few


# ---------------------------------------------------------------- flask crm capture


def run_capture(app, raw: bytes, *args: str):
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["crm", "capture", *args], input=raw)
    db.session.rollback()
    return result


def test_cli_captures_as_the_recipient_and_prints_one_line(app, team, shane) -> None:
    result = run_capture(app, eml("plain.eml"))
    assert result.exit_code == 0, result.output
    activity = db.session.scalars(select(Activity)).one()
    assert (
        result.output == f"Captured as activity {activity.id}: matched Shane Swanson (Tows R Us)\n"
    )
    assert activity.assigned_by_id == team["nick"].id  # the To address

    result = run_capture(app, eml("plain.eml"))
    assert result.exit_code == 0
    assert result.output.startswith(f"Already captured as activity {activity.id}:")
    assert counts() == (1, 1)


def test_cli_member_option_and_first_admin(app, team) -> None:
    result = run_capture(app, eml("html_only.eml"), "--member", "Cory@Example.com")
    assert result.exit_code == 0, result.output
    assert result.output.endswith(": waiting in the inbox\n")
    activity = db.session.scalars(select(Activity)).one()
    assert activity.assigned_by_id == team["cory"].id
    assert activity.assigned_to_id == team["nick"].id  # sent to Nick

    to_nobody = message(to="sales@towsrus.com", message_id="<nobody@x>")
    assert run_capture(app, to_nobody).exit_code == 0
    latest = db.session.scalars(select(Activity).order_by(Activity.id.desc())).first()
    assert latest is not None and latest.assigned_by_id == team["nick"].id  # the first admin

    unknown = run_capture(app, eml("plain.eml"), "--member", "ghost@example.com")
    assert unknown.exit_code != 0
    assert "No active member has the e-mail ghost@example.com." in unknown.output


@pytest.mark.parametrize("name", ["garbage.eml", "no_separator.eml", "empty.eml"])
def test_cli_refuses_malformed_messages(app, team, name: str) -> None:
    result = run_capture(app, eml(name))
    assert result.exit_code != 0
    assert result.output.startswith("Error: ")
    assert counts() == (0, 0)
