"""The private iCalendar (RFC 5545) feed that shows crmlite's schedule in Outlook, Google
Calendar or Apple Calendar: one secret address per member, made, reset or revoked here,
always a valid calendar (a VTIMEZONE for the team's zone, times in it), captured e-mails and
done activities as each member chooses, alarms only for timed open activities, notes in the
description. Each event is built by the ``icalendar`` library once per change of what it
shows and stored (``calendar_event_cache``); the feed is put together from the stored ones."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import Select, Text, case, cast, func, literal, or_, select
from sqlalchemy.orm import aliased, joinedload

from crmlite.database import dialect_insert
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    ActivityStatus,
    ActivityType,
    CalendarFeedStamp,
    Company,
    Contact,
    Member,
    Opportunity,
    StoredCalendarEvent,
)
from crmlite.services.capture import is_captured

FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 180
FEED_PRODID = "-//crmlite//Calendar feed//EN"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def start_subscription(member: Member) -> str:
    """The member's private feed address: made once, kept until reset or revoked."""
    if member.calendar_token is None:
        member.calendar_token = new_token()
        db.session.flush()
    return member.calendar_token


def reset_subscription(member: Member) -> str:
    """A new address; the old one stops working at once (e.g. after it leaked)."""
    member.calendar_token = new_token()
    db.session.flush()
    return member.calendar_token


def revoke_subscription(member: Member) -> None:
    """No address any more: every calendar subscribed to it stops updating."""
    member.calendar_token = None
    db.session.flush()


@dataclass(frozen=True)
class Subscription:
    """The member a feed address opens, and how many times anything their feed can show
    has changed so far (counted by the database: models/feed_stamps.py)."""

    member: Member
    changes: int


def subscriber(token: str) -> Subscription | None:
    """The active member whose feed this token opens, if any, with their feed's count of
    changes, in one statement."""
    if not token or len(token) > 64:
        return None
    row = db.session.execute(
        select(Member, func.coalesce(CalendarFeedStamp.changes, 0))
        .outerjoin(CalendarFeedStamp, CalendarFeedStamp.member_id == Member.id)
        .where(Member.calendar_token == token, Member.active.is_(True))
    ).one_or_none()
    return None if row is None else Subscription(row[0], row[1])


# Calendar apps show a description in a small pane; a captured e-mail's text can be long.
DESCRIPTION_LIMIT = 8_000
DONE_PREFIX = "✓ Done: "


def cut(text: str, limit: int) -> str:
    """The text, or its first characters and "…" when it is longer than the limit."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _description(activity: Activity, tz: ZoneInfo) -> str:
    """What a calendar shows under the subject: the activity's facts, then its notes, newest
    first, each stamped with its day and author; cut to DESCRIPTION_LIMIT characters."""
    lines = [f"Type: {activity.type.label}"]
    if activity.company is not None:
        lines.append(f"Company: {activity.company.name}")
    if activity.contact is not None:
        lines.append(f"Contact: {activity.contact.name}")
    if activity.phone:
        lines.append(f"Phone: {activity.phone}")
    if activity.opportunity is not None:
        lines.append(f"Opportunity: {activity.opportunity.name}")
    lines.append(f"Status: {activity.status}")
    for note in activity.notes:
        author = note.author.name if note.author is not None else "Someone"
        stamped = f"{note.created_at.astimezone(tz):%Y-%m-%d %H:%M}"
        lines += ["", f"Note, {stamped}, {author}:", note.body]
    return cut("\n".join(lines), DESCRIPTION_LIMIT)


def _feed_window(member: Member, today: date) -> tuple[Any, ...]:
    """SQL: the activities the member's feed shows, by their settings."""
    conditions: tuple[Any, ...] = (
        Activity.assigned_to_id == member.id,
        Activity.due_on >= today - timedelta(days=FEED_PAST_DAYS),
        Activity.due_on <= today + timedelta(days=FEED_FUTURE_DAYS),
    )
    if not member.feed_include_captured:
        conditions += (~is_captured(),)
    if not member.feed_include_done:
        # Captured e-mails are closed as they are captured: asked for, they show anyway.
        conditions += (or_(Activity.status == ActivityStatus.OPEN.value, is_captured()),)
    return conditions


def update_feed_settings(member: Member, *, include_captured: bool, include_done: bool) -> None:
    """What the member's own feed shows besides their open activities: captured e-mails
    (off unless asked for) and done activities (on unless switched off)."""
    member.feed_include_captured = include_captured
    member.feed_include_done = include_done
    db.session.flush()


def feed_version(
    member: Member, *, changes: int, today: date, calendar_name: str, tz: ZoneInfo
) -> str:
    """A fingerprint of the feed's content, for its ETag, from what is already read (no
    statement of its own): ``changes``, the count the database raises with every activity
    of the member's added, changed, moved, reassigned or deleted and every note on one
    (``subscriber``); the window moves with the day; the member's feed settings, the
    calendar's name and the team's zone count too. (A company renamed shows once one of the
    member's activities changes, or the next day.) The address's token counts as well: a
    database emptied and filled again (tests, a restore) starts the counts again, and a
    process's feeds kept by version must not meet an old one."""
    facts = "|".join(
        str(fact)
        for fact in (
            member.id,
            member.calendar_token,
            calendar_name,
            today,
            tz.key,
            member.feed_include_captured,
            member.feed_include_done,
            changes,
        )
    )
    return hashlib.sha256(facts.encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=32)
def _time_zone(key: str, first_year: int, last_year: int) -> bytes:
    """The zone as a VTIMEZONE with its offsets from the first year's start to the last
    year's end: built once per zone and years, a few milliseconds of the library's time."""
    zone = icalendar.Timezone.from_tzinfo(
        ZoneInfo(key),
        tzid=key,
        first_date=date(first_year, 1, 1),
        last_date=date(last_year + 1, 1, 1),
    )
    return bytes(zone.to_ical())


def time_zone(tz: ZoneInfo, today: date) -> bytes:
    """The team's zone as a VTIMEZONE, with its offsets over the years the window touches."""
    first = today - timedelta(days=FEED_PAST_DAYS)
    last = today + timedelta(days=FEED_FUTURE_DAYS)
    return _time_zone(tz.key, first.year, last.year)


def new_calendar(calendar_name: str, tz: ZoneInfo) -> icalendar.Calendar:
    """The feed's VCALENDAR with its properties and no component yet."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", FEED_PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", calendar_name)
    calendar.add("x-wr-calname", calendar_name)
    calendar.add("x-wr-timezone", tz.key)
    # Ask subscribers to look again every hour (RFC 7986; Outlook reads the X- one).
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    return calendar


CALENDAR_END = b"END:VCALENDAR\r\n"


@dataclass
class AssembledFeed:
    """A feed's text, and the events built for it now (the others were stored): rows for
    ``keep_events``."""

    body: bytes
    built: list[dict[str, Any]]


def assemble(member: Member, *, today: date, calendar_name: str, tz: ZoneInfo) -> AssembledFeed:
    """The member's feed (see ``feed``) put together from the stored events. One statement
    reads the window's activities with their stored text where its fingerprint still
    matches; the others (changed, or never built) are loaded in one more statement and built
    again by the library. The text is byte for byte what the library writes for the whole
    calendar at once."""
    prefix = _fingerprint_prefix(tz)
    fingerprint = literal(prefix, Text) + _fingerprint_sql(db.session.get_bind().dialect.name)
    texts: dict[int, str | None] = dict(
        db.session.execute(
            _with_fingerprint_sources(
                select(
                    Activity.id,
                    case((StoredCalendarEvent.fingerprint == fingerprint, StoredCalendarEvent.ics)),
                )
            )
            .outerjoin(StoredCalendarEvent, StoredCalendarEvent.activity_id == Activity.id)
            .where(*_feed_window(member, today))
            .order_by(Activity.due_on, Activity.starts_at, Activity.id)
        ).all()
    )
    stale = [activity_id for activity_id, text in texts.items() if text is None]
    built: list[dict[str, Any]] = []
    for activity, facts in _load(stale, fingerprint, member, today):
        text = build_event(activity, tz).to_ical().decode()
        texts[activity.id] = text
        built.append({"activity_id": activity.id, "fingerprint": facts, "ics": text})
    header = new_calendar(calendar_name, tz).to_ical().removesuffix(CALENDAR_END)
    # Always there, so even a feed without activities has a component, as RFC 5545 requires.
    events = "".join(text for text in texts.values() if text is not None).encode()
    return AssembledFeed(header + time_zone(tz, today) + events + CALENDAR_END, built)


def keep_events(built: list[dict[str, Any]]) -> None:
    """Store events built by ``assemble``, each replacing the activity's earlier text."""
    if not built:
        return
    statement = dialect_insert(StoredCalendarEvent, db.session.get_bind().dialect.name)
    statement = statement.on_conflict_do_update(
        index_elements=[StoredCalendarEvent.activity_id],
        set_={"fingerprint": statement.excluded.fingerprint, "ics": statement.excluded.ics},
    )
    db.session.execute(statement, built)


def feed(member: Member, *, today: date, calendar_name: str, tz: ZoneInfo) -> bytes:
    """The member's activities from 30 days ago to 180 days ahead as an iCalendar feed,
    always valid (RFC 5545): the team's zone as a VTIMEZONE, timed activities as events in
    its local time, untimed ones as all-day events, each with a stable UID and its version
    as SEQUENCE so calendars update it in place. The description carries the facts and the
    notes. Done activities stay (they happened), "✓ Done: " before their subject, unless the
    member left them out; captured e-mails only when the member asked for them. A reminder
    rings only for an open activity with a time (an all-day one would ring the evening
    before). Each event is built once per change and stored (``assemble``)."""
    assembled = assemble(member, today=today, calendar_name=calendar_name, tz=tz)
    keep_events(assembled.built)
    db.session.flush()
    return assembled.body


# -- what an event's text is built from ------------------------------------------------------

# Raise it when ``build_event`` or ``_description`` write anything differently: every stored
# event's fingerprint changes with it, so each is built again once.
EVENT_FORMAT = 1


def _fingerprint_prefix(tz: ZoneInfo) -> str:
    """What every event's text depends on besides its own facts: the zone its times are
    written in, and the format and library that wrote it."""
    return f"{EVENT_FORMAT}|{icalendar.__version__}|{tz.key}|"


def _quoted(text: Any, dialect: str) -> Any:
    """SQL: the text as a quoted SQL literal ('O''Brien'), or NULL for none: so that no two
    different lists of texts joined one after another read the same."""
    return func.quote_nullable(text) if dialect == "postgresql" else func.quote(text)


@functools.lru_cache(maxsize=4)
def _fingerprint_sql(dialect: str) -> Any:
    """SQL, for an activity joined to its sources (``_with_fingerprint_sources``): the text
    of everything its event is built from, which the stored event's fingerprint must equal.

    The activity's own columns through its version and ``updated_at``: the ORM raises the
    one with every change and any UPDATE sets the other (its ``onupdate``); a migration that
    rewrites activities in raw SQL must empty ``calendar_event_cache``. Then the names it
    shows: its type's, company's, contact's, opportunity's; and its notes, each by id and its
    author's id and name (notes are appended, never edited; an author renamed or deleted
    changes the text)."""
    note, author = aliased(ActivityNote), aliased(Member)
    each_note = (
        cast(note.id, Text) + ":" + func.coalesce(cast(note.author_id, Text), "") + ":"
    ) + _quoted(author.name, dialect)
    notes: Any = func.aggregate_strings(each_note, ",")
    if dialect == "postgresql":
        notes = notes.aggregate_order_by(note.id)
    # (SQLite 3.40 has no ORDER BY in group_concat: it reads the notes in the order of
    # their index on activity_id, which is by id. Another order could only mean a rebuild.)
    notes_of_activity = (
        select(notes)
        .select_from(note)
        .outerjoin(author, author.id == note.author_id)
        .where(note.activity_id == Activity.id)
        .correlate(Activity)
        .scalar_subquery()
    )
    return (
        cast(Activity.version, Text)
        + "|"
        + cast(Activity.updated_at, Text)
        + "|"
        + Activity.status
        + "|"
        + _quoted(ActivityType.code, dialect)
        + _quoted(ActivityType.name, dialect)
        + _quoted(Company.name, dialect)
        + _quoted(Contact.first_name, dialect)
        + _quoted(Contact.last_name, dialect)
        + _quoted(Opportunity.name, dialect)
        + "|"
        + func.coalesce(notes_of_activity, "")
    )


def _with_fingerprint_sources(statement: Select[Any]) -> Select[Any]:
    """The statement with the records ``_fingerprint_sql`` reads joined to its activities."""
    return (
        statement.join(ActivityType, ActivityType.id == Activity.type_id)
        .outerjoin(Company, Company.id == Activity.company_id)
        .outerjoin(Contact, Contact.id == Activity.contact_id)
        .outerjoin(Opportunity, Opportunity.id == Activity.opportunity_id)
    )


# More activities to build than this: load the whole window rather than a list of ids.
IN_LIST_LIMIT = 500


def _load(
    ids: list[int], fingerprint: Any, member: Member, today: date
) -> list[tuple[Activity, str]]:
    """The activities to build, with everything their events show and their fingerprint
    read in the same statement (so it is that of the facts they are built from), in one
    statement: the whole window when many are to build, as the first time."""
    if not ids:
        return []
    wanted = set(ids)
    many = len(wanted) > IN_LIST_LIMIT
    rows = db.session.execute(
        _with_fingerprint_sources(select(Activity, fingerprint))
        .where(*_feed_window(member, today) if many else (Activity.id.in_(wanted),))
        .options(
            joinedload(Activity.type),
            joinedload(Activity.company),
            joinedload(Activity.contact),
            joinedload(Activity.opportunity),
            # Joined, not a second statement: the feed's statements stay as few as they were.
            joinedload(Activity.notes).joinedload(ActivityNote.author),
        )
    ).unique()
    return [(activity, facts) for activity, facts in rows if activity.id in wanted]


def _revised_at(activity: Activity) -> datetime:
    """When the activity or its notes last changed, to the second, in UTC."""
    last = max([activity.updated_at, *(note.created_at for note in activity.notes)])
    return last.astimezone(UTC).replace(microsecond=0)


def build_event(activity: Activity, tz: ZoneInfo) -> icalendar.Event:
    """The activity as a VEVENT. Everything in it comes from the activity's facts
    (``_facts_of``), so its stored text holds until they change: DTSTAMP is when they last
    changed (the activity or its newest note), not when the text was written."""
    event = icalendar.Event()
    event.add("uid", f"activity-{activity.id}@crmlite")
    event.add("dtstamp", _revised_at(activity))
    timed = False
    if activity.starts_at is not None and activity.ends_at is not None:
        # Local times with the zone's TZID (its VTIMEZONE is in the feed), as calendars
        # show them and as the team booked them.
        event.add("dtstart", activity.starts_at.astimezone(tz))
        event.add("dtend", activity.ends_at.astimezone(tz))
        event.add("transp", "OPAQUE")
        timed = True
    else:
        event.add("dtstart", activity.due_on)
        event.add("dtend", activity.due_on + timedelta(days=1))
        event.add("transp", "TRANSPARENT")
    event.add("summary", activity.subject if activity.is_open else DONE_PREFIX + activity.subject)
    if activity.place:
        event.add("location", activity.place)
    event.add("description", _description(activity, tz))
    event.add("categories", [activity.type.name])
    # RFC 5545 allows a VEVENT only TENTATIVE, CONFIRMED or CANCELLED (COMPLETED is a VTODO's):
    # a done activity stays CONFIRMED, it happened; its subject and X-CRMLITE-STATUS say done.
    event.add("status", "CONFIRMED")
    event.add("x-crmlite-status", activity.status)
    event.add("sequence", activity.version)
    event.add("last-modified", activity.updated_at.astimezone(UTC))
    event.add("created", activity.created_at.astimezone(UTC))
    if activity.reminder_minutes is not None and activity.is_open and timed:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", activity.subject)
        alarm.add("trigger", timedelta(minutes=-activity.reminder_minutes))
        event.add_component(alarm)
    return event
