"""How many times each member's calendar feed may have changed, counted by the database
itself (issue #19): the feed's ETag reads one number instead of its activities and notes.

Triggers on ``activities`` and ``activity_notes`` add 1 to the stamp of every member whose
feed a write can touch, in the same transaction, whoever writes (a form, the board, an
import, the API, the worker, a bulk statement): an activity added, changed or deleted
counts for its assignee (a reassigned one for both assignees), a note for its activity's
assignee. The number means nothing by itself; only that it moved.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.models.base import Model, kept_by_triggers
from crmlite.models.rollups import changed, row_triggers, row_triggers_dropped, summed_upsert


class CalendarFeedStamp(Model):
    """How many changes the member's calendar feed has seen (see the module): no row yet
    reads as 0. No foreign key: a row left by a member deleted since is harmless, and a
    trigger must never fail on it.

    A migration that rebuilds ``activities`` or ``activity_notes`` on SQLite (a batch
    ALTER copies the table) drops these triggers: it must create them again."""

    __tablename__ = "calendar_feed_stamps"

    member_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    changes: Mapped[int] = mapped_column(BigInteger, default=0)


# Every column of an activity its feed event, or the choice of the feed's events, reads.
_ACTIVITY_COLUMNS = (
    "assigned_to_id, due_on, starts_at, ends_at, status, email_from, subject, type_id, "
    "company_id, contact_id, phone, opportunity_id, place, reminder_minutes, created_at, "
    "updated_at, version"
)
_NOTE_COLUMNS = "activity_id, author_id, created_at, body"


def _distinct(dialect: str) -> str:
    return "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"


def _stamped(rows: list[str]) -> str:
    """Add each of ``rows`` (SELECTs of a member_id and 1) to that member's stamp; a NULL
    member adds nothing."""
    return summed_upsert(
        "calendar_feed_stamps", "member_id", ("changes",), rows, present="member_id", alias="t"
    )


def _assignee(row: str, when: str = "") -> str:
    """The stamp an activity (``row``: NEW or OLD) touches."""
    return f"SELECT {row}.assigned_to_id AS member_id, 1 AS changes" + (
        f" WHERE {when}" if when else ""
    )


def _note_assignee(row: str, when: str = "") -> str:
    """The stamp a note (``row``: NEW or OLD) touches: its activity's assignee."""
    return (
        "SELECT a.assigned_to_id AS member_id, 1 AS changes FROM activities a "
        f"WHERE a.id = {row}.activity_id" + (f" AND {when}" if when else "")
    )


def trigger_sql(dialect: str) -> list[str]:
    """The statements creating the stamps' triggers on this engine (the migration keeps a
    copy): an activity's (or note's) old assignee, and the new one when it differs."""
    distinct = _distinct(dialect)
    return row_triggers(
        dialect,
        "activities_feed_stamps",
        "activities",
        _ACTIVITY_COLUMNS,
        changed(_ACTIVITY_COLUMNS),
        (
            _stamped([_assignee("NEW")]),
            _stamped([_assignee("OLD")]),
            _stamped(
                [
                    _assignee("OLD"),
                    _assignee("NEW", f"NEW.assigned_to_id {distinct} OLD.assigned_to_id"),
                ]
            ),
        ),
    ) + row_triggers(
        dialect,
        "activity_notes_feed_stamps",
        "activity_notes",
        _NOTE_COLUMNS,
        changed(_NOTE_COLUMNS),
        (
            _stamped([_note_assignee("NEW")]),
            _stamped([_note_assignee("OLD")]),
            _stamped(
                [
                    _note_assignee("OLD"),
                    _note_assignee("NEW", f"NEW.activity_id {distinct} OLD.activity_id"),
                ]
            ),
        ),
    )


def drop_sql(dialect: str) -> list[str]:
    return row_triggers_dropped(dialect, "activities_feed_stamps") + row_triggers_dropped(
        dialect, "activity_notes_feed_stamps"
    )


kept_by_triggers(("calendar_feed_stamps", "activities", "activity_notes"), trigger_sql, drop_sql)
