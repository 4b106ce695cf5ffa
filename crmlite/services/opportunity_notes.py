"""An opportunity's notes: stamped (who, when) and never edited or removed."""

from __future__ import annotations

from datetime import UTC, datetime

from crmlite.extensions import db
from crmlite.models import Member, Opportunity, OpportunityNote
from crmlite.services.opportunity_details import InvalidFields

MAX_NOTE_LENGTH = 10_000


def add_note(
    opportunity: Opportunity, body: str, *, by: Member, now: datetime | None = None
) -> OpportunityNote:
    """Append a stamped note (who, when, text). Notes are never edited or removed."""
    text = body.strip()
    if not text:
        raise InvalidFields({"body": "Write the note first."})
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidFields({"body": f"Keep a note under {MAX_NOTE_LENGTH:,} characters."})
    note = OpportunityNote(
        opportunity_id=opportunity.id,
        author_id=by.id,
        created_at=now or datetime.now(UTC),
        body=text,
    )
    db.session.add(note)
    db.session.flush()
    return note
