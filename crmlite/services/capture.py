"""E-mail capture: a raw e-mail becomes a closed "E-mail" activity.

From, to, date, subject and text become the activity; the text (and a list of the
attachments, which are never stored) goes in a stamped note. The activity is matched to the
contact by e-mail address, with the contact's company and phone, and to their open
opportunity when there is exactly one. An e-mail that matches no contact (or several) waits
in the inbox until someone assigns it. A message captured twice (same Message-ID) is not
duplicated.
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.policy
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from typing import Any
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.element import PreformattedString
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityStatus,
    ActivityType,
    Company,
    Contact,
    Member,
    Opportunity,
    OpportunityContact,
    Role,
)
from crmlite.services.activities import add_note, close_activity
from crmlite.services.statuses import is_open

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
EMAIL_TYPE_CODE = "EM"
NO_SUBJECT = "(no subject)"
INBOX_LIMIT = 100
# A sender's clock may run ahead; an e-mail is never closed in the future.
CLOCK_SKEW = timedelta(minutes=5)

# Defects after which the parsed message is not the message that was sent: broken headers,
# broken MIME structure. Lesser ones (an odd header value, a missing closing boundary) are
# common in real mail and harmless here.
BROKEN_HEADERS = (
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.FirstHeaderLineIsContinuationDefect,
)
BROKEN_PARTS = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
)
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Outlook .msg files
# Inline elements are unwrapped so their text stays on its line when HTML becomes text.
INLINE_TAGS = (
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "del", "dfn", "em", "font", "i",
    "img", "ins", "kbd", "label", "mark", "nobr", "q", "s", "small", "span", "strike",
    "strong", "sub", "sup", "time", "u", "var", "wbr",
)  # fmt: skip
DROPPED_TAGS = ("script", "style", "head", "title", "template", "noscript")
# Followed by a blank line, as paragraphs are in plain-text mail.
PARAGRAPH_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr")


class CaptureError(ValueError):
    """The input is not an e-mail that can be captured; the message says why. Nothing was
    created."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    size: int

    @property
    def label(self) -> str:
        return f"{self.filename} ({size_label(self.size)})"


@dataclass(frozen=True)
class ParsedEmail:
    """What capture keeps of a message. Addresses are lower-cased."""

    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    sent_at: datetime | None
    message_id: str | None
    text: str
    attachments: tuple[Attachment, ...]

    @property
    def recipients(self) -> tuple[str, ...]:
        """To then Cc, each once."""
        return tuple(dict.fromkeys(self.to + self.cc))

    @property
    def note(self) -> str:
        """The activity's note: the text, then the attachments (listed, not stored)."""
        parts = [self.text] if self.text else []
        if self.attachments:
            parts.append("Attachments: " + ", ".join(a.label for a in self.attachments))
        return "\n\n".join(parts)


@dataclass(frozen=True)
class CaptureResult:
    activity: Activity
    message: ParsedEmail
    already_captured: bool
    contact: Contact | None
    company: Company | None
    opportunity: Opportunity | None

    @property
    def waiting_in_inbox(self) -> bool:
        return self.contact is None

    @property
    def summary(self) -> str:
        """ "matched Shane Swanson (Tows R Us)" or "waiting in the inbox"."""
        match = Match(self.contact, self.company, self.opportunity)
        return f"matched {match.description}" if self.contact else "waiting in the inbox"


@dataclass(frozen=True)
class Match:
    contact: Contact | None
    company: Company | None = None
    opportunity: Opportunity | None = None

    @property
    def description(self) -> str:
        """ "Shane Swanson (Tows R Us), opportunity Tows R Us - Managed Services - Complete"."""
        if self.contact is None:
            return "no contact"
        text = self.contact.name
        if self.company is not None:
            text += f" ({self.company.name})"
        if self.opportunity is not None:
            text += f", opportunity {self.opportunity.name}"
        return text


@dataclass(frozen=True)
class Inbox:
    activities: list[Activity]
    total: int


# ---------------------------------------------------------------- parsing


def size_label(size: int) -> str:
    if size < 1024:
        return "1 byte" if size == 1 else f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def parse_email(raw: bytes) -> ParsedEmail:
    """Read a raw message (RFC 5322, as in an .eml file) with Python's ``email`` package.

    Refused with a CaptureError: empty input, more than 10 MB, no headers, a badly broken
    structure (e.g. no blank line between headers and body), no readable From address."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise CaptureError(
            f"The message is larger than 10 MB ({size_label(len(raw))}); "
            "capture it without its attachments."
        )
    raw = raw.lstrip(b"\r\n")
    if not raw.strip():
        raise CaptureError("The message is empty.")
    if raw.startswith(OLE_SIGNATURE):
        raise CaptureError(
            "This is an Outlook .msg file, not a standard e-mail message; "
            "save or export the e-mail as .eml (its raw source) instead."
        )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(msg, EmailMessage) or not msg.keys():
        raise CaptureError("This is not an e-mail message: it has no headers.")
    _refuse_broken(msg)

    sender = _sender(msg)
    body_part = msg.get_body(preferencelist=("plain", "html"))
    return ParsedEmail(
        sender=sender,
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        subject=_clean(_header_text(msg, "Subject"))[:200] or NO_SUBJECT,
        sent_at=_sent_at(msg),
        message_id=_clean(_header_text(msg, "Message-ID"))[:255] or None,
        text=_body_text(body_part) if body_part is not None else "",
        attachments=tuple(_attachments(msg, body_part)),
    )


def _refuse_broken(msg: EmailMessage) -> None:
    if any(isinstance(d, BROKEN_HEADERS) for d in msg.defects):
        raise CaptureError(
            "The message is malformed: a line among its headers is not a header, or the "
            "blank line between the headers and the body is missing."
        )
    for part in msg.walk():
        if any(isinstance(d, BROKEN_PARTS) for d in part.defects):
            raise CaptureError(
                "The message is malformed: its parts (body and attachments) are broken "
                "(a MIME boundary is missing)."
            )


def _repair(text: str) -> str:
    """Text with the raw 8-bit bytes the parser kept (as surrogates) decoded: as UTF-8 when
    valid, else as Windows-1252. The standard leaves such bytes undefined in headers, but a
    pasted message has UTF-8 ones and old mailers send Latin-1."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _clean(text: str) -> str:
    """One line: folded whitespace collapsed, NUL characters (refused by PostgreSQL) gone."""
    return " ".join(_repair(text).replace("\x00", "").split())


def _header_values(msg: EmailMessage, name: str) -> list[Any]:
    """Every value of a header, parsed and decoded (RFC 2047 encoded words included; raw
    8-bit bytes too, see _repair)."""
    values = []
    for key, value in msg.raw_items():
        if key.lower() != name.lower():
            continue
        try:
            values.append(email.policy.default.header_factory(name, _repair(value)))
        except (ValueError, IndexError, TypeError):  # a header too broken to read
            continue
    return values


def _header_text(msg: EmailMessage, name: str) -> str:
    values = _header_values(msg, name)
    return str(values[0]) if values else ""


def _valid(address: Address) -> bool:
    return bool(address.username and address.domain and " " not in address.addr_spec)


def _addresses(msg: EmailMessage, name: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for header in _header_values(msg, name):
        for address in getattr(header, "addresses", ()):
            if _valid(address):
                found[_clean(address.addr_spec).lower()] = None
    return tuple(found)


def _sender(msg: EmailMessage) -> str:
    if "From" not in msg:
        raise CaptureError("The message has no From address.")
    senders = _addresses(msg, "From")
    if not senders:
        raw_value = next((v for k, v in msg.raw_items() if k.lower() == "from"), "")
        shown = _clean(raw_value)[:100] or "(empty)"
        raise CaptureError(f"The From address “{shown}” could not be read.")
    return senders[0][:254]


def _sent_at(msg: EmailMessage) -> datetime | None:
    for header in _header_values(msg, "Date"):
        moment = getattr(header, "datetime", None)
        if moment is not None:
            # "-0000" means UTC with the sender's zone unknown: Python gives a naive time.
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes in the declared charset, read as mail programs do: Latin-1 and ASCII labels as
    Windows-1252 (their superset: “smart quotes” and € come out right), and no or an unknown
    charset as UTF-8 when valid, else Windows-1252.

    Non-ASCII bytes that are valid UTF-8 are read as UTF-8 whatever the label: a message
    pasted into the form arrives as UTF-8 text, and text really written in a single-byte
    charset is practically never valid UTF-8."""
    try:
        codec = codecs.lookup(charset).name if charset else None
    except LookupError:
        codec = None
    if codec is None or not (codec.startswith(("utf-16", "utf-32")) or data.isascii()):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if codec in (None, "ascii", "iso8859-1"):
        codec = "cp1252"
    return data.decode(codec, "replace")


def _payload_text(part: MIMEPart) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    text = decode_text(data, part.get_content_charset())
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _body_text(part: MIMEPart) -> str:
    text = _payload_text(part)
    if part.get_content_subtype() == "html":
        return html_to_text(text)
    lines = [line.rstrip() for line in text.split("\n")]
    return _collapse_blank_runs(lines)


def _collapse_blank_runs(lines: list[str]) -> str:
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML e-mail: scripts, styles and the head dropped, a line per
    block (paragraph, row, line break), runs of blank lines collapsed to one."""
    with warnings.catch_warnings():
        # Short HTML can look like a file name or URL to BeautifulSoup; it is mail, not those.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(DROPPED_TAGS):
        tag.decompose()
    # Comments (Outlook's conditional ones included), the doctype and the like are not text.
    for string in soup.find_all(string=lambda s: isinstance(s, PreformattedString)):
        string.extract()
    for tag in soup.find_all(INLINE_TAGS):
        tag.unwrap()
    soup.smooth()
    # Whitespace in HTML source is not layout (except in <pre>): one space per run.
    for string in soup.find_all(string=True):
        if string.find_parent("pre") is None:
            text = " ".join(str(string).split())
            if text:
                string.replace_with(text)
            else:
                string.extract()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(PARAGRAPH_TAGS):
        tag.insert_after("\n")
    soup.smooth()
    text = soup.get_text("\n")
    return _collapse_blank_runs([line.rstrip() for line in text.split("\n")])


def _attachments(msg: EmailMessage, body_part: MIMEPart | None) -> list[Attachment]:
    """Files attached to the message (also inline images and attached messages): name and
    size. Alternative renderings of the body (the HTML beside the text) are not files."""
    found: list[Attachment] = []

    def visit(part: MIMEPart) -> None:
        if part is body_part:
            return
        if part.get_content_maintype() == "multipart":
            for sub in part.iter_parts():
                visit(sub)
            return
        is_file = (
            part.get_filename()
            or part.is_attachment()
            or part.get_content_type() == "message/rfc822"
        )
        if not is_file and part.get_content_maintype() == "text":
            return
        found.append(Attachment(_file_name(part), _part_size(part)))

    visit(msg)
    return found


def _file_name(part: MIMEPart) -> str:
    name = _clean(part.get_filename() or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # some mailers send the whole path
    if name:
        return name
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload(0) if part.is_multipart() else None
        subject = _clean(str(inner["Subject"] or "")) if isinstance(inner, EmailMessage) else ""
        return f"forwarded message “{subject}”" if subject else "forwarded message"
    return f"unnamed {part.get_content_type()}"


def _part_size(part: MIMEPart) -> int:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return len(data)
    try:
        return len(part.as_bytes())
    except (ValueError, LookupError, UnicodeError):
        return 0


# ---------------------------------------------------------------- matching


def team_members_by_address(addresses: tuple[str, ...]) -> dict[str, Member]:
    if not addresses:
        return {}
    # Members' addresses are stored lower-cased.
    rows = db.session.scalars(select(Member).where(Member.email.in_(addresses)))
    return {member.email.lower(): member for member in rows}


def contacts_by_address(addresses: tuple[str, ...]) -> list[Contact]:
    """Contacts whose e-mail is one of these addresses (any case), with their company."""
    if not addresses:
        return []
    return list(
        db.session.scalars(
            select(Contact)
            .where(func.lower(Contact.email).in_(addresses))
            .options(joinedload(Contact.company))
            .order_by(Contact.id)
        )
    )


def _exactly_one(condition: ColumnElement[bool]) -> tuple[int, Opportunity | None]:
    found = list(db.session.scalars(select(Opportunity).where(is_open(), condition).limit(2)))
    return len(found), (found[0] if len(found) == 1 else None)


def single_open_opportunity(contact: Contact) -> Opportunity | None:
    """The contact's open opportunity when they have exactly one (as its contact or an extra
    contact); when they have none, their company's when it has exactly one."""
    extra = select(OpportunityContact.opportunity_id).where(
        OpportunityContact.contact_id == contact.id
    )
    count, opportunity = _exactly_one(
        or_(Opportunity.contact_id == contact.id, Opportunity.id.in_(extra))
    )
    if count or contact.company_id is None:
        return opportunity
    return _exactly_one(Opportunity.company_id == contact.company_id)[1]


def match_contact(parsed: ParsedEmail, team: dict[str, Member]) -> Match:
    """The contact of an e-mail: the one contact whose address is among From, To and Cc,
    the team's own addresses (``team``, by address) left out. None when no contact or
    several match."""
    addresses = (parsed.sender, *parsed.recipients)
    outside = tuple(a for a in dict.fromkeys(addresses) if a not in team)
    contacts = contacts_by_address(outside)
    if len(contacts) != 1:
        return Match(None)
    contact = contacts[0]
    return Match(contact, contact.company, single_open_opportunity(contact))


def link_contact(activity: Activity, contact: Contact) -> Match:
    """Ties an activity to a contact: their company and phone, and their single open
    opportunity (with its campaign) when there is exactly one."""
    company = (
        db.session.get(Company, contact.company_id) if contact.company_id is not None else None
    )
    opportunity = single_open_opportunity(contact)
    _apply(activity, Match(contact, company, opportunity))
    db.session.flush()
    return Match(contact, company, opportunity)


def _apply(activity: Activity, match: Match) -> None:
    contact = match.contact
    activity.contact_id = contact.id if contact else None
    activity.company_id = contact.company_id if contact else None
    activity.phone = (contact.phone or contact.mobile) if contact else ""
    activity.opportunity_id = match.opportunity.id if match.opportunity else None
    if match.opportunity is not None and activity.campaign_id is None:
        activity.campaign_id = match.opportunity.campaign_id


def assignee_for(parsed: ParsedEmail, team: dict[str, Member], captured_by: Member) -> Member:
    """A member who sent the e-mail, else the capturing member when they received it, else a
    member who received it (To), else the capturing member."""
    sender = team.get(parsed.sender)
    if sender is not None and sender.active:
        return sender
    if captured_by.email.lower() in parsed.to:
        return captured_by
    for address in parsed.to:
        member = team.get(address)
        if member is not None and member.active:
            return member
    return captured_by


def member_to_capture_as(parsed: ParsedEmail) -> Member | None:
    """For a mail-server hook: the active member the e-mail was sent to (To), else the first
    admin."""
    team = team_members_by_address(parsed.to)
    for address in parsed.to:
        member = team.get(address)
        if member is not None and member.active:
            return member
    return db.session.scalars(
        select(Member)
        .where(Member.role == Role.ADMIN.value, Member.active.is_(True))
        .order_by(Member.id)
        .limit(1)
    ).first()


# ---------------------------------------------------------------- capture


def capture_email(
    raw: bytes, *, captured_by: Member, tz: ZoneInfo, now: datetime | None = None
) -> CaptureResult:
    """Capture a raw e-mail as a closed "E-mail" activity (see the module's docstring).
    Raises CaptureError, creating nothing, when the input is not a readable e-mail."""
    return capture_parsed(parse_email(raw), captured_by=captured_by, tz=tz, now=now)


def capture_parsed(
    parsed: ParsedEmail, *, captured_by: Member, tz: ZoneInfo, now: datetime | None = None
) -> CaptureResult:
    existing = _already_captured(parsed.message_id)
    if existing is not None:
        return _result(existing, parsed, already_captured=True)
    email_type_id = db.session.scalar(
        select(ActivityType.id).where(ActivityType.code == EMAIL_TYPE_CODE)
    )
    if email_type_id is None:
        raise CaptureError("The “E-mail” activity type is missing; run `flask crm init`.")

    now = now or datetime.now(UTC)
    sent_at = min(parsed.sent_at or now, now + CLOCK_SKEW).astimezone(UTC)
    team = team_members_by_address((parsed.sender, *parsed.recipients))
    match = match_contact(parsed, team)
    activity = Activity(
        subject=parsed.subject,
        type_id=email_type_id,
        status=ActivityStatus.OPEN.value,
        due_on=sent_at.astimezone(tz).date(),
        assigned_to_id=assignee_for(parsed, team, captured_by).id,
        assigned_by_id=captured_by.id,
        place="E-mail",
        email_from=parsed.sender,
        email_to=", ".join(parsed.recipients),
        email_message_id=parsed.message_id,
    )
    _apply(activity, match)
    try:
        # A savepoint: the same message captured at this very moment by another hook
        # (PostgreSQL) loses the race on the unique Message-ID and returns that capture.
        with db.session.begin_nested():
            db.session.add(activity)
    except IntegrityError:
        existing = _already_captured(parsed.message_id)
        if existing is None:
            raise
        return _result(existing, parsed, already_captured=True)
    close_activity(activity, by=captured_by, now=sent_at)
    if parsed.note:
        add_note(activity, by=captured_by, body=parsed.note, now=now)
    return CaptureResult(activity, parsed, False, match.contact, match.company, match.opportunity)


def _already_captured(message_id: str | None) -> Activity | None:
    if message_id is None:
        return None
    return db.session.scalars(
        select(Activity)
        .where(Activity.email_message_id == message_id)
        .options(
            joinedload(Activity.contact),
            joinedload(Activity.company),
            joinedload(Activity.opportunity),
        )
    ).first()


def _result(activity: Activity, parsed: ParsedEmail, *, already_captured: bool) -> CaptureResult:
    return CaptureResult(
        activity,
        parsed,
        already_captured,
        activity.contact,
        activity.company,
        activity.opportunity,
    )


# ---------------------------------------------------------------- inbox


def is_captured():
    """SQL: the activity was captured from an e-mail."""
    return Activity.email_from != ""


def inbox(member: Member, limit: int = INBOX_LIMIT) -> Inbox:
    """Captured e-mails no contact is assigned to yet, newest first: all of them for managers
    and admins, a rep's own for a rep. Three queries whatever the number of e-mails."""
    condition = and_(is_captured(), Activity.contact_id.is_(None))
    if not member.is_manager:
        condition = and_(condition, Activity.assigned_to_id == member.id)
    total = db.session.scalar(select(func.count(Activity.id)).where(condition)) or 0
    activities = db.session.scalars(
        select(Activity)
        .where(condition)
        .options(joinedload(Activity.assigned_to), selectinload(Activity.notes))
        .order_by(Activity.closed_at.desc(), Activity.id.desc())
        .limit(limit)
    )
    return Inbox(list(activities), total)


def captured_activity(activity_id: int) -> Activity | None:
    """A captured e-mail with its notes and assignee; None for any other activity."""
    return db.session.scalars(
        select(Activity)
        .where(Activity.id == activity_id, is_captured())
        .options(joinedload(Activity.assigned_to), selectinload(Activity.notes))
    ).first()


def may_assign(member: Member, activity: Activity) -> bool:
    """Managers and admins assign any captured e-mail; a rep those assigned to them."""
    return member.is_manager or activity.assigned_to_id == member.id
