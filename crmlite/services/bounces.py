"""Addresses that bounce: a captured delivery status notification marks every contact with
a failed address (``Contact.bounced_at``, ``bounce_reason``), and nobody marked is mailed
(``mailer.skip_reason``). "Mail again" on the contact's page, or a new address, clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import Contact
from crmlite.services.delivery_reports import Bounce


@dataclass(frozen=True)
class BounceMark:
    """One failed address and the contacts that have it (none: nothing was marked)."""

    bounce: Bounce
    contacts: tuple[Contact, ...]

    @property
    def line(self) -> str:
        """ "Bounce: x@y marked as bouncing (Shane Swanson)", or that no contact has it."""
        address = self.bounce.address
        if not self.contacts:
            return f"Bounce: {address} is no contact's address; nothing marked"
        names = ", ".join(contact.name for contact in self.contacts)
        return f"Bounce: {address} marked as bouncing ({names})"


def mark_bouncing(bounces: tuple[Bounce, ...], *, now: datetime | None = None) -> list[BounceMark]:
    """Mark the contacts whose address (any case) failed for good. A contact already
    bouncing keeps the date it started and gets the latest reason."""
    now = now or datetime.now(UTC)
    marks: list[BounceMark] = []
    for bounce in bounces:
        contacts = tuple(
            db.session.scalars(
                select(Contact)
                .where(func.lower(Contact.email) == bounce.address)
                .order_by(Contact.id)
            )
        )
        for contact in contacts:
            contact.bounced_at = contact.bounced_at or now
            contact.bounce_reason = bounce.reason
        marks.append(BounceMark(bounce, contacts))
    db.session.flush()
    return marks


def mail_again(contact: Contact) -> bool:
    """Clear the contact's bounce (someone checked the address); True when it was set."""
    if contact.bounced_at is None:
        return False
    contact.bounced_at = None
    contact.bounce_reason = ""
    db.session.flush()
    return True
