"""Who works on an opportunity besides its account manager and main contact: its team
(members who help, with the role each plays) and the other contacts involved in the sale.

These rows hang off the opportunity without changing it: adding a helper does not make a
fields form someone has open out of date. A refused change raises ``InvalidFields``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import Contact, Member, Opportunity, OpportunityContact, OpportunityTeamMember
from crmlite.services import events
from crmlite.services.opportunity_details import InvalidFields
from crmlite.services.pick_lists import contacts_of


def add_team_member(opportunity: Opportunity, member_id: int | None, role: str) -> None:
    """Add a member to the opportunity's team, once, with the role they play."""
    member = db.session.get(Member, member_id) if member_id else None
    if member is None or not member.active:
        raise InvalidFields({"member_id": "Choose an active member of the team."})
    if any(row.member_id == member.id for row in opportunity.team):
        raise InvalidFields({"member_id": f"{member.name} is already on this opportunity's team."})
    opportunity.team.append(
        OpportunityTeamMember(member_id=member.id, member=member, role=role.strip())
    )
    db.session.flush()


def remove_team_member(opportunity: Opportunity, member_id: int, *, by: Member) -> bool:
    """Take the member off the team; False when they were not on it. Published
    (``Deleted``)."""
    if not _remove(opportunity.team, lambda row: row.member_id == member_id):
        return False
    member = db.session.get(Member, member_id)
    who = member.name if member is not None else f"member {member_id}"
    _publish("opportunity team member", f"{who} on {opportunity.name}", by)
    return True


def add_extra_contact(opportunity: Opportunity, contact_id: int | None, role: str) -> None:
    """Add another contact involved in the sale (decision maker, technical contact…), once."""
    contact = db.session.get(Contact, contact_id) if contact_id else None
    if contact is None:
        raise InvalidFields({"contact_id": "Choose a contact from the list."})
    if contact.id == opportunity.contact_id:
        raise InvalidFields({"contact_id": f"{contact.name} is already the main contact."})
    if any(row.contact_id == contact.id for row in opportunity.extra_contacts):
        raise InvalidFields({"contact_id": f"{contact.name} is already listed here."})
    opportunity.extra_contacts.append(
        OpportunityContact(contact_id=contact.id, contact=contact, role=role.strip())
    )
    db.session.flush()


def remove_extra_contact(opportunity: Opportunity, contact_id: int, *, by: Member) -> bool:
    """Take the contact off the opportunity; False when they were not on it. Published
    (``Deleted``)."""
    if not _remove(opportunity.extra_contacts, lambda row: row.contact_id == contact_id):
        return False
    contact = db.session.get(Contact, contact_id)
    who = contact.name if contact is not None else f"contact {contact_id}"
    _publish("opportunity contact", f"{who} on {opportunity.name}", by)
    return True


def _publish(kind: str, name: str, by: Member) -> None:
    events.publish(events.Deleted(kind, name, by=by, at=utcnow()))


def _remove(rows: list[Any], is_it: Callable[[Any], bool]) -> bool:
    row = next((r for r in rows if is_it(r)), None)
    if row is None:
        return False
    rows.remove(row)
    db.session.flush()
    return True


def extra_contact_choices(opportunity: Opportunity) -> list[Contact]:
    """Contacts of the opportunity's company not yet on it."""
    taken = {row.contact_id for row in opportunity.extra_contacts} | {opportunity.contact_id}
    return [c for c in contacts_of(opportunity.company_id) if c.id not in taken]
