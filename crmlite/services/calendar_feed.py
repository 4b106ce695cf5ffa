"""The private iCalendar (RFC 5545) feed that shows crmlite's schedule in Outlook, Google
Calendar or Apple Calendar: one secret address per member, made, reset or revoked here,
always a valid calendar (a VTIMEZONE for the team's zone, times in it), captured e-mails and
done activities as each member chooses, alarms only for timed open activities, notes in the
description."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    ActivityStatus,
    Member,
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


def subscriber(token: str) -> Member | None:
    """The active member whose feed this token opens, if any."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(
        select(Member).where(Member.calendar_token == token, Member.active.is_(True))
    )


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


def feed_version(member: Member, *, today: date, calendar_name: str, tz: ZoneInfo) -> str:
    """A fingerprint of the feed's content, for its ETag, in one aggregate statement:
    every change to one of its activities bumps that activity's version, a deleted one
    lowers the count, a note added raises the notes' count (notes are never edited), and
    the window moves with the day; the member's feed settings and the team's zone count
    too. (A company renamed shows once one of the member's activities changes, or the next
    day.)"""
    window = _feed_window(member, today)
    notes = (
        select(func.count(ActivityNote.id))
        .join(Activity, Activity.id == ActivityNote.activity_id)
        .where(*window)
        .correlate(None)  # its own count of the window's notes, not tied to the outer rows
        .scalar_subquery()
    )
    count, last_change, versions, note_count = db.session.execute(
        select(
            func.count(Activity.id),
            func.max(Activity.updated_at),
            func.sum(Activity.version),
            notes,
        ).where(*window)
    ).one()
    facts = "|".join(
        str(fact)
        for fact in (
            member.id,
            calendar_name,
            today,
            tz.key,
            member.feed_include_captured,
            member.feed_include_done,
            count,
            last_change,
            versions,
            note_count,
        )
    )
    return hashlib.sha256(facts.encode()).hexdigest()[:32]


def _time_zone(tz: ZoneInfo, today: date) -> icalendar.Timezone:
    """The team's zone as a VTIMEZONE, with its offsets over the years the window touches."""
    first = today - timedelta(days=FEED_PAST_DAYS)
    last = today + timedelta(days=FEED_FUTURE_DAYS)
    return icalendar.Timezone.from_tzinfo(
        tz, tzid=tz.key, first_date=date(first.year, 1, 1), last_date=date(last.year + 1, 1, 1)
    )


def feed(member: Member, *, today: date, calendar_name: str, tz: ZoneInfo) -> bytes:
    """The member's activities from 30 days ago to 180 days ahead as an iCalendar feed,
    always valid (RFC 5545): the team's zone as a VTIMEZONE, timed activities as events in
    its local time, untimed ones as all-day events, each with a stable UID and its version
    as SEQUENCE so calendars update it in place. The description carries the facts and the
    notes. Done activities stay (they happened), "✓ Done: " before their subject, unless the
    member left them out; captured e-mails only when the member asked for them. A reminder
    rings only for an open activity with a time (an all-day one would ring the evening
    before)."""
    activities = db.session.scalars(
        select(Activity)
        .where(*_feed_window(member, today))
        .options(
            joinedload(Activity.type),
            joinedload(Activity.company),
            joinedload(Activity.contact),
            joinedload(Activity.opportunity),
            # Joined, not a second statement: the feed's statements stay as few as they were.
            joinedload(Activity.notes).joinedload(ActivityNote.author),
        )
        .order_by(Activity.due_on, Activity.starts_at, Activity.id)
    ).unique()
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
    # Always there, so even a feed without activities has a component, as RFC 5545 requires.
    calendar.add_component(_time_zone(tz, today))
    stamp = datetime.now(UTC).replace(microsecond=0)
    for activity in activities:
        calendar.add_component(_event(activity, stamp, tz))
    return calendar.to_ical()


def _event(activity: Activity, stamp: datetime, tz: ZoneInfo) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"activity-{activity.id}@crmlite")
    event.add("dtstamp", stamp)
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
