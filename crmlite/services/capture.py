"""E-mail capture: a raw e-mail becomes a closed "E-mail" activity.

From, to, date, subject and text become the activity; the text (and a list of the
attachments, which are never stored) goes in a stamped note. The activity is matched to the
contact by e-mail address, with the contact's company and phone, and to their open
opportunity when there is exactly one. An e-mail that matches no contact (or several) waits
in the inbox until someone assigns it. A message captured twice (same Message-ID) is not
duplicated. A message *from* a contact (their address in From) is published as
``EmailFromContact``: they replied, so their tracks stop e-mailing them.

A delivery status notification (a bounce report) makes no activity: every contact whose
address it says failed for good is marked as bouncing (services/bounces.py) and the result
says so, one line per address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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
)
from crmlite.services import events, members, permissions
from crmlite.services.activities import add_note, close_activity
from crmlite.services.bounces import BounceMark, mark_bouncing
from crmlite.services.email_reading import (
    CaptureError,
    ParsedEmail,
    parse_email,
)
from crmlite.services.statuses import is_open

EMAIL_TYPE_CODE = "EM"
INBOX_LIMIT = 100
# A sender's clock may run ahead; an e-mail is never closed in the future.
CLOCK_SKEW = timedelta(minutes=5)


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
class BounceReport:
    """A captured delivery status notification: no activity, the addresses marked."""

    message: ParsedEmail
    marks: tuple[BounceMark, ...]

    @property
    def lines(self) -> list[str]:
        if not self.marks:
            return ["Delivery report without a permanent failure (e.g. delayed): nothing marked"]
        return [mark.line for mark in self.marks]

    @property
    def summary(self) -> str:
        return "; ".join(self.lines)


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
    if activity.email_from and activity.closed_at is not None:
        _published_if_from(contact, activity.email_from, activity.closed_at)
    return Match(contact, company, opportunity)


def _published_if_from(contact: Contact, sender: str, at: datetime) -> None:
    """The contact wrote this e-mail (not just received it): tell whoever reacts."""
    if contact.email and contact.email.strip().lower() == sender.strip().lower():
        events.publish(events.EmailFromContact(contact_id=contact.id, at=at))


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
    return members.first_admin()


# ---------------------------------------------------------------- capture


def capture_email(
    raw: bytes,
    *,
    captured_by: Member,
    tz: ZoneInfo,
    now: datetime | None = None,
    size: int | None = None,
) -> CaptureResult | BounceReport:
    """Capture a raw e-mail as a closed "E-mail" activity (see the module's docstring).
    ``size``: the message's real size when ``raw`` is its beginning only. Raises
    CaptureError, creating nothing, when the input is not a readable e-mail. A delivery
    status notification marks the addresses that bounce instead (a BounceReport)."""
    return capture_parsed(parse_email(raw, size=size), captured_by=captured_by, tz=tz, now=now)


def capture_parsed(
    parsed: ParsedEmail, *, captured_by: Member, tz: ZoneInfo, now: datetime | None = None
) -> CaptureResult | BounceReport:
    if parsed.delivery_report:
        return BounceReport(parsed, tuple(mark_bouncing(parsed.bounces, now=now)))
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
    if match.contact is not None:
        _published_if_from(match.contact, parsed.sender, sent_at)
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
    if not permissions.allows(member, "capture.team"):
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
