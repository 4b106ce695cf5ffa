"""Each imported row, checked and turned into the values crmlite stores, with every problem
named per field. The same rules as the forms: amounts by ``services.money``, whole numbers,
e-mail addresses and text by ``services.parsing``, days by ``services.periods``.

What the rows refer to (stages, members, activity types, companies, contacts,
opportunities) is looked up in dictionaries loaded once per import (``Lookups``): a constant
number of queries whatever the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import (
    ActivityType,
    Company,
    Contact,
    ImportKind,
    Member,
    Opportunity,
    OpportunityStatus,
    SalesStage,
)
from crmlite.models.activities import PLACES
from crmlite.services.imports.reading import Cell, cell_text
from crmlite.services.money import InvalidAmount, optional_amount
from crmlite.services.parsing import (
    InvalidEmail,
    InvalidNumber,
    clean_line,
    clean_multiline,
    optional_whole,
    parse_email,
)
from crmlite.services.periods import BadDay, parse_exported_day

# HubSpot's default pipeline's internal stage names, as its exports may write them.
STAGE_ALIASES = {
    "appointmentscheduled": "1st Appointment",
    "qualifiedtobuy": "Discovery",
    "presentationscheduled": "Presentation",
    "decisionmakerboughtin": "Follow-Up",
    "contractsent": "Commitment",
    "closedwon": "Won",
    "closed won": "Won",
    "closedlost": "Lost",
    "closed lost": "Lost",
}
DONE_WORDS = {"yes", "y", "true", "1", "done", "closed", "completed", "complete", "x"}
OPEN_WORDS = {"", "no", "n", "false", "0", "open", "not done", "to do", "todo", "scheduled"}
IMPORTED_LOST_REASON = "Imported as lost"

# Column lengths (text longer than its column is refused, never cut silently).
LENGTHS = {
    "name": 200,
    "first_name": 100,
    "last_name": 100,
    "title": 120,
    "phone": 40,
    "mobile": 40,
    "website": 200,
    "industry": 100,
    "street": 200,
    "city": 100,
    "region": 100,
    "postal_code": 20,
    "country": 100,
    "source": 120,
    "subject": 200,
}


@dataclass
class Lookups:
    """What rows refer to, by the lower-cased name, code or address a file uses."""

    stages: dict[str, SalesStage] = field(default_factory=dict)
    first_stage: SalesStage | None = None
    statuses: dict[str, int] = field(default_factory=dict)  # open, won, lost → id
    members: dict[str, int] = field(default_factory=dict)  # e-mail and name → id
    types: dict[str, ActivityType] = field(default_factory=dict)  # code, name, label
    companies: dict[str, int] = field(default_factory=dict)  # name → id
    domains: dict[str, int] = field(default_factory=dict)  # example.com → company id
    contacts: dict[str, int] = field(default_factory=dict)  # e-mail → id
    opportunities: dict[str, int] = field(default_factory=dict)  # name → id

    @classmethod
    def load(cls, kind: str) -> Lookups:
        found = cls()
        for stage in db.session.scalars(select(SalesStage).order_by(SalesStage.position)):
            found.stages[stage.name.lower()] = stage
            if found.first_stage is None:
                found.first_stage = stage
        for status in db.session.scalars(
            select(OpportunityStatus).order_by(OpportunityStatus.position)
        ):
            key = "won" if status.is_won else "lost" if status.is_lost else "open"
            if not status.is_closed or status.is_won or status.is_lost:
                found.statuses.setdefault(key, status.id)
        for member_id, email, name in db.session.execute(
            select(Member.id, Member.email, Member.name)
        ):
            found.members.setdefault(email.lower(), member_id)
            found.members.setdefault(name.lower(), member_id)
        for activity_type in db.session.scalars(select(ActivityType)):
            for key in (activity_type.code, activity_type.name, activity_type.label):
                found.types.setdefault(key.lower(), activity_type)
        for company_id, name, website, email in db.session.execute(
            select(Company.id, Company.name, Company.website, Company.email).order_by(Company.id)
        ):
            found.companies.setdefault(name.lower(), company_id)
            for domain in (domain_of(website), domain_of(email)):
                if domain:
                    found.domains.setdefault(domain, company_id)
        # A contacts import looks its own addresses up a thousand at a time (writing.py).
        if kind not in (ImportKind.COMPANIES.value, ImportKind.CONTACTS.value):
            for contact_id, email in db.session.execute(
                select(Contact.id, Contact.email).where(Contact.email != "").order_by(Contact.id)
            ):
                found.contacts.setdefault(email.lower(), contact_id)
        if kind == ImportKind.ACTIVITIES.value:
            for opportunity_id, name in db.session.execute(
                select(Opportunity.id, func.lower(Opportunity.name)).order_by(Opportunity.id)
            ):
                found.opportunities.setdefault(name, opportunity_id)
        return found


# Free-mail domains say nothing about which company someone works for.
FREE_MAIL = {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com"}


def domain_of(text: str) -> str:
    """The domain of a website ("https://www.chartec.net/x" → "chartec.net") or of an
    e-mail address ("jason@chartec.net"); "" for free-mail and anything else."""
    text = (text or "").strip().lower()
    if not text:
        return ""
    if "@" in text:
        host = text.rsplit("@", 1)[1]
    else:
        host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    host = host.removeprefix("www.")
    return host if "." in host and host not in FREE_MAIL else ""


@dataclass
class Checked:
    """A row as crmlite would store it: ``values`` by field, what the preview shows by
    field (``shown``), and a problem by field for every value refused."""

    number: int
    values: dict[str, Any] = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Row:
    """The cells of one row by field, and where its checks write."""

    def __init__(self, number: int, cells: dict[str, Cell]) -> None:
        self.cells = cells
        self.checked = Checked(number, raw={k: cell_text(v)[:200] for k, v in cells.items()})

    def text(self, key: str, *, required: str = "", multiline: bool = False) -> str:
        raw = self.cells.get(key)
        value = clean_multiline(cell_text(raw)) if multiline else clean_line(cell_text(raw))
        limit = LENGTHS.get(key)
        if required and not value:
            self.problems[key] = required
        elif limit and len(value) > limit:
            self.problems[key] = f"At most {limit} characters; this has {len(value)}."
        self.set(key, value)
        return value

    def set(self, key: str, value: Any, shown: str | None = None) -> None:
        self.checked.values[key] = value
        self.checked.shown[key] = (
            shown if shown is not None else ("" if value is None else str(value))
        )

    @property
    def problems(self) -> dict[str, str]:
        return self.checked.problems

    def email(self, key: str) -> str:
        raw = clean_line(cell_text(self.cells.get(key)))
        if not raw:
            self.set(key, "")
            return ""
        try:
            value = parse_email(raw).lower()
        except InvalidEmail as error:
            self.problems[key] = str(error)
            value = raw
        self.set(key, value)
        return value

    def member(self, key: str, lookups: Lookups, *, label: str) -> int | None:
        raw = clean_line(cell_text(self.cells.get(key)))
        if not raw:
            self.set(key, None, "")
            return None
        member_id = lookups.members.get(raw.lower())
        if member_id is None:
            self.problems[key] = (
                f"No member is called “{raw[:60]}” ({label}): use a member's e-mail or name."
            )
        self.set(key, member_id, raw)
        return member_id

    def day(self, key: str, *, label: str, required: bool = False) -> date | None:
        raw = self.cells.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                self.problems[key] = f"{label} is required: write it as YYYY-MM-DD."
            self.set(key, None, "")
            return None
        try:
            value = parse_exported_day(raw, label=label)
        except BadDay as error:
            self.problems[key] = str(error)
            self.set(key, None, cell_text(raw))
            return None
        self.set(key, value, value.isoformat())
        return value

    def amount(self, key: str, *, label: str) -> Decimal | None:
        raw = cell_text(self.cells.get(key)).strip()
        try:
            value = optional_amount(raw, label=label)
        except InvalidAmount as error:
            self.problems[key] = str(error)
            self.set(key, None, raw)
            return None
        self.set(key, value, "" if value is None else f"{value:,.2f}")
        return value


def _address(row: _Row) -> None:
    for key in ("street", "city", "region", "postal_code", "country", "phone"):
        row.text(key)


def check_company(number: int, cells: dict[str, Cell], lookups: Lookups) -> Checked:
    row = _Row(number, cells)
    row.text("name", required="A company needs a name.")
    _address(row)
    row.text("website")
    row.email("email")
    row.text("industry")
    row.text("notes", multiline=True)
    row.member("account_manager", lookups, label="account manager")
    return row.checked


def check_contact(number: int, cells: dict[str, Cell], lookups: Lookups) -> Checked:
    row = _Row(number, cells)
    first = row.text("first_name")
    last = row.text("last_name")
    full = clean_line(cell_text(cells.get("full_name")))
    if not first and full:
        first, _, rest = full.partition(" ")
        last = last or rest.strip()
        row.set("first_name", first)
        row.set("last_name", last)
    if not first:
        row.problems["first_name"] = "A contact needs a first name (or a full name)."
    row.email("email")
    row.text("title")
    row.text("mobile")
    row.text("company")
    _address(row)
    return row.checked


def check_opportunity(number: int, cells: dict[str, Cell], lookups: Lookups) -> Checked:
    row = _Row(number, cells)
    row.text("name", required="An opportunity needs a name.")
    status_word = clean_line(cell_text(cells.get("status"))).lower()
    stage_text = clean_line(cell_text(cells.get("stage")))
    stage_name = STAGE_ALIASES.get(stage_text.lower().replace("_", ""), stage_text)
    if status_word in ("won", "lost"):
        stage_name = "Won" if status_word == "won" else "Lost"
    elif status_word not in ("", "open"):
        row.problems["status"] = f"The status is open, won or lost, not “{status_word[:30]}”."
    stage = lookups.stages.get(stage_name.lower()) if stage_name else lookups.first_stage
    if stage is None:
        known = ", ".join(s.name for s in lookups.stages.values())
        row.problems["stage"] = f"No stage is called “{stage_text[:40]}”. The stages: {known}."
    row.set("stage", stage, stage.name if stage else stage_text)
    amount = row.amount("amount", label="The amount")
    row.day("close_date", label="The close date")
    row.member("owner", lookups, label="owner")
    row.text("company")
    contact_email = row.email("contact_email")
    if contact_email and "contact_email" not in row.problems:
        contact_id = lookups.contacts.get(contact_email)
        if contact_id is None:
            row.problems["contact_email"] = (
                "No contact has this e-mail address: import the contacts first."
            )
        row.set("contact_id", contact_id)
    raw_probability = cell_text(cells.get("probability")).strip().removesuffix("%").strip()
    try:
        probability = optional_whole(raw_probability, label="The probability", maximum=100)
    except InvalidNumber as error:
        row.problems["probability"] = str(error)
        probability = None
    row.set("probability", probability, raw_probability)
    row.text("source")
    row.text("description", multiline=True)
    lost_reason = row.text("lost_reason", multiline=True)
    if stage is not None and stage.is_lost and not lost_reason:
        row.set("lost_reason", IMPORTED_LOST_REASON)
    if stage is not None and stage.is_won and amount is None:
        row.problems["amount"] = "A won opportunity needs its amount."
    return row.checked


def check_activity(number: int, cells: dict[str, Cell], lookups: Lookups) -> Checked:
    row = _Row(number, cells)
    row.text("subject", required="An activity needs a subject.")
    type_text = clean_line(cell_text(cells.get("type")))
    activity_type = lookups.types.get(type_text.lower()) if type_text else None
    if activity_type is None:
        row.problems["type"] = (
            f"No activity type has the code or name “{type_text[:40]}”."
            if type_text
            else "An activity needs its type (code or name from the points table)."
        )
    row.set("type", activity_type, activity_type.label if activity_type else type_text)
    due_on = row.day("due_on", label="The due date", required=True)
    done_raw = cells.get("done")
    done_text = clean_line(cell_text(done_raw)).lower()
    done_on_given = row.day("done_on", label="The done date")
    if isinstance(done_raw, bool):
        done = done_raw
    elif done_text in DONE_WORDS:
        done = True
    elif done_text in OPEN_WORDS:
        done = done_on_given is not None and not done_text
    else:
        done = False
        row.problems["done"] = f"Write yes or no (done or open), not “{done_text[:30]}”."
    row.set("done", done, "Done" if done else "Open")
    if done:
        row.set("done_on", done_on_given or due_on, str(done_on_given or due_on or ""))
    row.member("assigned_to", lookups, label="assigned to")
    row.text("company")
    contact_email = row.email("contact_email")
    if contact_email and "contact_email" not in row.problems:
        contact_id = lookups.contacts.get(contact_email)
        if contact_id is None:
            row.problems["contact_email"] = "No contact has this e-mail address."
        row.set("contact_id", contact_id)
    opportunity_name = row.text("opportunity")
    if opportunity_name:
        opportunity_id = lookups.opportunities.get(opportunity_name.lower())
        if opportunity_id is None:
            row.problems["opportunity"] = "No opportunity has this name."
        row.set("opportunity_id", opportunity_id)
    place = row.text("place")
    if place and place.lower() not in {p.lower() for p in PLACES}:
        row.problems["place"] = f"Where is one of {', '.join(PLACES)}."
    row.text("note", multiline=True)
    return row.checked


CHECKS = {
    ImportKind.COMPANIES.value: check_company,
    ImportKind.CONTACTS.value: check_contact,
    ImportKind.OPPORTUNITIES.value: check_opportunity,
    ImportKind.ACTIVITIES.value: check_activity,
}


def check_row(kind: str, number: int, cells: dict[str, Cell], lookups: Lookups) -> Checked:
    """The row as it would be stored, and its problems per field."""
    return CHECKS[kind](number, cells, lookups)
