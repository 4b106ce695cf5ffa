"""Which column of a file holds which field: the fields each kind of import reads, the
column names they are guessed from (crmlite's own, and those of Pipedrive's and HubSpot's
standard exports), and named mappings saved for the next file of the same shape."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import ImportKind, ImportMapping, Member
from crmlite.services.parsing import clean_line


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool = False
    # Column names it is guessed from, compared without case, spaces or punctuation.
    aliases: tuple[str, ...] = ()


COMPANY_NAME_ALIASES = (
    "company",
    "company name",
    "organization",
    "organization - name",
    "organisation",
    "account",
    "account name",
)
COMPANY_FIELDS = (
    Field("name", "Name", True, ("name", *COMPANY_NAME_ALIASES)),
    Field("website", "Website", False, ("website", "website url", "web", "domain",
                                        "company domain name", "organization - website")),
    Field("phone", "Phone", False, ("phone", "phone number", "organization - phone")),
    Field("email", "E-mail", False, ("email", "e-mail", "organization - email")),
    Field("industry", "Industry", False, ("industry", "organization - industry")),
    Field("street", "Street", False, ("street", "street address", "address", "address line 1",
                                      "organization - address", "organization - street")),
    Field("city", "City", False, ("city", "town", "organization - city")),
    Field("region", "State / region", False, ("state", "region", "state/region", "province",
                                              "organization - state", "organization - region")),
    Field("postal_code", "Postal code", False, ("postal code", "zip", "zip code", "postcode",
                                                "organization - postal code")),
    Field("country", "Country", False, ("country", "country/region", "organization - country")),
    Field("notes", "Notes", False, ("notes", "description", "about", "organization - notes")),
    Field("account_manager", "Account manager", False, ("account manager", "owner",
                                                        "company owner", "organization - owner")),
)  # fmt: skip

CONTACT_FIELDS = (
    Field("first_name", "First name", False, ("first name", "firstname", "given name",
                                              "person - first name")),
    Field("last_name", "Last name", False, ("last name", "lastname", "surname", "family name",
                                            "person - last name")),
    Field("full_name", "Full name (split in first and last)", False,
          ("name", "full name", "contact", "contact name", "person - name", "person")),
    Field("email", "E-mail", False, ("email", "e-mail", "email address", "person - email",
                                     "person - email - work", "person - email - other")),
    Field("title", "Job title", False, ("title", "job title", "position", "person - job title")),
    Field("phone", "Phone", False, ("phone", "phone number", "work phone", "person - phone",
                                    "person - phone - work")),
    Field("mobile", "Mobile", False, ("mobile", "mobile phone", "mobile phone number", "cell",
                                      "person - phone - mobile")),
    Field("company", "Company", False, (*COMPANY_NAME_ALIASES, "associated company",
                                        "person - organization", "organization name")),
    Field("street", "Street", False, ("street", "street address", "address",
                                      "person - address")),
    Field("city", "City", False, ("city", "person - city")),
    Field("region", "State / region", False, ("state", "region", "state/region", "province")),
    Field("postal_code", "Postal code", False, ("postal code", "zip", "zip code", "postcode")),
    Field("country", "Country", False, ("country", "country/region")),
)  # fmt: skip

OPPORTUNITY_FIELDS = (
    Field("name", "Name", True, ("name", "opportunity", "opportunity name", "deal", "deal name",
                                 "deal - title", "title")),
    Field("stage", "Stage", False, ("stage", "sales stage", "deal stage", "deal - stage",
                                    "pipeline stage")),
    Field("status", "Status (open, won, lost)", False, ("status", "deal - status")),
    Field("amount", "Amount (revenue)", False, ("amount", "revenue", "value", "deal value",
                                                "deal - value", "deal amount")),
    Field("close_date", "Expected close date", False, (
        "close date", "expected close date", "closing date", "deal - expected close date",
        "deal - close date", "deal - won time", "close")),
    Field("owner", "Account manager (owner)", False, ("owner", "deal owner", "account manager",
                                                      "deal - owner", "sales rep")),
    Field("company", "Company", False, (*COMPANY_NAME_ALIASES, "associated company",
                                        "deal - organization", "associated company name")),
    Field("contact_email", "Contact's e-mail", False, ("contact email", "person - email",
                                                       "associated contact email", "email")),
    Field("probability", "Probability %", False, ("probability", "deal probability",
                                                  "deal - probability")),
    Field("lost_reason", "Lost reason", False, ("lost reason", "closed lost reason",
                                                "deal - lost reason")),
    Field("source", "Source", False, ("source", "lead source", "deal - source",
                                      "original source")),
    Field("description", "Description", False, ("description", "notes", "deal description",
                                                "deal - notes")),
)  # fmt: skip

ACTIVITY_FIELDS = (
    Field("subject", "Subject", True, ("subject", "activity", "title", "activity - subject",
                                       "task title", "activity subject")),
    Field("type", "Type (code or name)", True, ("type", "activity type", "activity - type",
                                                "task type")),
    Field("due_on", "Due date", True, ("due date", "date", "due", "activity - due date",
                                       "activity date", "task due date")),
    Field("done", "Done (yes / no)", False, ("done", "status", "activity - done", "completed",
                                             "task status", "activity - status")),
    Field("done_on", "Done on", False, ("done on", "closed on", "completed on", "done date",
                                        "activity - marked as done time", "completed at")),
    Field("assigned_to", "Assigned to", False, ("assigned to", "owner", "activity owner",
                                                "activity - assigned to user", "task owner",
                                                "activity - owner")),
    Field("company", "Company", False, (*COMPANY_NAME_ALIASES, "associated company")),
    Field("contact_email", "Contact's e-mail", False, ("contact email", "person - email",
                                                       "email", "associated contact email")),
    Field("opportunity", "Opportunity (name)", False, ("opportunity", "deal", "deal - title",
                                                       "associated deal", "deal name")),
    Field("place", "Where", False, ("where", "place", "location", "activity - location")),
    Field("note", "Note", False, ("note", "notes", "activity - note", "task notes", "body")),
)  # fmt: skip

FIELDS: dict[str, tuple[Field, ...]] = {
    ImportKind.COMPANIES.value: COMPANY_FIELDS,
    ImportKind.CONTACTS.value: CONTACT_FIELDS,
    ImportKind.OPPORTUNITIES.value: OPPORTUNITY_FIELDS,
    ImportKind.ACTIVITIES.value: ACTIVITY_FIELDS,
}

_NOT_LETTERS = re.compile(r"[^0-9a-z]+")


class MappingRefused(ValueError):
    """A mapping the rules refuse; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str = "name") -> None:
        super().__init__(message)
        self.field = field


def _squash(text: str) -> str:
    return _NOT_LETTERS.sub("", text.lower())


def guess(kind: str, headers: list[str]) -> dict[str, str]:
    """The field each header most likely holds: an exact (case-, space- and punctuation-
    blind) match of one of the field's names; each header feeds one field at most, fields
    earlier in the list first."""
    by_squashed: dict[str, str] = {}
    for header in headers:
        by_squashed.setdefault(_squash(header), header)
    used: set[str] = set()
    columns: dict[str, str] = {}
    for field in FIELDS[kind]:
        for alias in (field.key.replace("_", " "), field.label, *field.aliases):
            found = by_squashed.get(_squash(alias))
            if found is not None and found not in used:
                columns[field.key] = found
                used.add(found)
                break
    return columns


def missing_required(kind: str, columns: dict[str, str]) -> list[Field]:
    """The required fields no column is mapped to. A contact needs a first name or a full
    name."""
    missing = [f for f in FIELDS[kind] if f.required and not columns.get(f.key)]
    if kind == ImportKind.CONTACTS.value and not (
        columns.get("first_name") or columns.get("full_name")
    ):
        missing.append(CONTACT_FIELDS[0])
    return missing


def only_known(kind: str, columns: dict[str, str], headers: list[str]) -> dict[str, str]:
    """The mapping without fields the kind does not have or headers the file lacks."""
    keys = {f.key for f in FIELDS[kind]}
    return {k: h for k, h in columns.items() if k in keys and h in headers}


def saved_mappings(kind: str) -> list[ImportMapping]:
    return list(
        db.session.scalars(
            select(ImportMapping).where(ImportMapping.kind == kind).order_by(ImportMapping.name)
        )
    )


def find_mapping(kind: str, name: str) -> ImportMapping | None:
    return db.session.scalars(
        select(ImportMapping).where(ImportMapping.kind == kind, ImportMapping.name == name)
    ).first()


def columns_of(mapping: ImportMapping) -> dict[str, str]:
    loaded = json.loads(mapping.columns or "{}")
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def save_mapping(kind: str, name: str, columns: dict[str, str], *, by: Member) -> ImportMapping:
    """Keep a mapping under a name for the next file (the same name replaces it)."""
    name = clean_line(name)
    if not name:
        raise MappingRefused("Enter a name for the mapping.")
    if len(name) > 120:
        raise MappingRefused("Keep the name under 120 characters.")
    mapping = find_mapping(kind, name)
    if mapping is None:
        mapping = ImportMapping(name=name, kind=kind, created_by_id=by.id)
        db.session.add(mapping)
    mapping.columns = json.dumps(columns, sort_keys=True)
    db.session.flush()
    return mapping
