"""Locations and business units: the two lists a team sorts its members and deals into,
kept in Setup.

The rules, in business words:

- A **name** is single-line text (the shared text parser), 1 to 80 characters, unique
  within its list whatever the letter case ("arrc" is "ARRC").
- **Rename** at any time: every member, company, campaign and opportunity follows, and so
  does the history on the dashboard (it is read by id).
- **Deactivate** a place in use: it leaves the pick lists of new choices, but whoever or
  whatever has it keeps it, and its wins stay on the dashboard. **Reactivate** brings it back.
- **Delete** only a place nothing uses (no member, company, campaign or opportunity), e.g.
  one created by mistake; a used one is deactivated instead, so history never loses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select, union_all

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import BusinessUnit, Campaign, Company, Location, Member, Opportunity
from crmlite.services import events
from crmlite.services.parsing import clean_line

MAX_NAME = 80

Place = Location | BusinessUnit
KindName = Literal["location", "business unit"]


@dataclass(frozen=True)
class Kind:
    """One of the two lists: its model, the column pointing at it and its words."""

    model: type[Location] | type[BusinessUnit]
    column: str  # "location_id" / "business_unit_id"
    word: KindName

    @property
    def plural(self) -> str:
        return "locations" if self.model is Location else "business units"


LOCATIONS = Kind(Location, "location_id", "location")
BUSINESS_UNITS = Kind(BusinessUnit, "business_unit_id", "business unit")
KINDS = {"locations": LOCATIONS, "business-units": BUSINESS_UNITS}


class PlaceRefused(ValueError):
    """A name or a deletion refused, with the message to show next to the field."""


def places(kind: Kind) -> list[Place]:
    """Every location (or business unit): active ones first, then by name."""
    model = kind.model
    return list(db.session.scalars(select(model).order_by(model.active.desc(), model.name)))


def in_use(kind: Kind) -> dict[int, int]:
    """How many members, companies, campaigns and opportunities have each place: one query."""
    holders = [Member, Company, Opportunity]
    if kind is LOCATIONS:
        holders.append(Campaign)
    columns = [getattr(holder, kind.column) for holder in holders]
    parts = [select(c.label("place_id")).where(c.is_not(None)) for c in columns]
    used = union_all(*parts).subquery()
    query = select(used.c.place_id, func.count()).group_by(used.c.place_id)
    return {place_id: count for place_id, count in db.session.execute(query)}


def parse_name(kind: Kind, raw: object, *, except_id: int | None = None) -> str:
    """The name typed, cleaned by the shared text parser; PlaceRefused when empty, too long
    or already used by another one of the list (letter case ignored)."""
    name = clean_line(raw)
    if not name:
        raise PlaceRefused(f"Enter the {kind.word}'s name.")
    if len(name) > MAX_NAME:
        raise PlaceRefused(f"At most {MAX_NAME} characters.")
    model = kind.model
    query = select(func.count()).select_from(model).where(func.lower(model.name) == name.lower())
    if except_id is not None:
        query = query.where(model.id != except_id)
    if db.session.scalar(query):
        raise PlaceRefused(f"Another {kind.word} is called “{name}”.")
    return name


def create_place(kind: Kind, raw_name: object) -> Place:
    """A new, active location or business unit."""
    place = kind.model(name=parse_name(kind, raw_name), active=True)
    db.session.add(place)
    db.session.flush()
    return place


def rename_place(kind: Kind, place: Place, raw_name: object) -> Place:
    """The place under its new name; everything that has it follows."""
    place.name = parse_name(kind, raw_name, except_id=place.id)
    db.session.flush()
    return place


def set_active(place: Place, active: bool) -> Place:
    """Inactive: gone from the pick lists of new choices; kept by whoever has it."""
    place.active = active
    db.session.flush()
    return place


def delete_place(kind: Kind, place: Place, *, by: Member) -> None:
    """Only a place nothing uses may go; a used one raises PlaceRefused (deactivate it)."""
    if in_use(kind).get(place.id):
        raise PlaceRefused(f"{place.name} is in use: deactivate it instead.")
    name = place.name
    db.session.delete(place)
    db.session.flush()
    events.publish(events.Deleted(kind.word, name, by=by, at=utcnow()))
