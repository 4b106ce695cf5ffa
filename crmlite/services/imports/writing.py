"""Writing checked rows: the records an import creates or updates, each remembered
(``ImportChange``, with the values an update replaced) so the import can be undone.

Rows are written in batches (one INSERT … RETURNING for a thousand contacts), inside the
caller's transaction; nothing here commits. Duplicates: a company matching one already
there by name or by the domain of its website or e-mail, a contact matching by e-mail —
also one created earlier in the same file — is skipped, updated (non-empty cells only) or
created anyway, as the import says. Companies named by contacts, opportunities and
activities are matched by name, else created (and undone with the import).

Closed activities are closed by ``services.activities.close_activity``, as any other: at
their done date they earn their type's points, frozen on the activity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    Company,
    Contact,
    DuplicateMode,
    ImportChange,
    ImportKind,
    ImportProblem,
    Member,
    Opportunity,
    StageChange,
)
from crmlite.models.activities import PLACES
from crmlite.services.activities import close_activity, schedule_activity
from crmlite.services.imports.checking import Checked, Lookups, domain_of
from crmlite.services.periods import local_noon

BATCH = 1000
COMPANY_COLUMNS = (
    "name", "website", "phone", "email", "industry", "street", "city", "region",
    "postal_code", "country", "notes", "account_manager_id",
)  # fmt: skip
CONTACT_COLUMNS = (
    "first_name", "last_name", "email", "title", "phone", "mobile", "company_id",
    "street", "city", "region", "postal_code", "country",
)  # fmt: skip


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: int = 0  # rows refused


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


class Writer:
    """Writes one import's rows; ``finish()`` writes what is still buffered."""

    def __init__(
        self,
        *,
        job_id: int,
        kind: str,
        duplicates: str,
        mapped: set[str],
        lookups: Lookups,
        by: Member,
        tz: ZoneInfo,
        now: datetime | None = None,
    ) -> None:
        self.job_id = job_id
        self.kind = kind
        self.duplicates = duplicates
        self.mapped = mapped  # the fields a column feeds: an update changes those only
        self.lookups = lookups
        self.by = by
        self.tz = tz
        self.now = now or datetime.now(UTC)
        self.tally = Tally()
        self._rows: list[dict[str, Any]] = []  # waiting to be inserted
        self._pending_keys: set[str] = set()
        self._waiting: list[dict[str, Any]] = []  # contacts to look up, then write
        self._changes: list[dict[str, Any]] = []
        self._problems: list[dict[str, Any]] = []
        self._members: dict[int, Member] = {}
        self._today = self.now.astimezone(tz).date()

    # -------------------------------------------------------------- rows

    def write(self, row: Checked) -> None:
        if not row.ok:
            self.tally.errors += 1
            for field_key, message in row.problems.items():
                self._problems.append(
                    {
                        "job_id": self.job_id,
                        "row_number": row.number,
                        "field": field_key[:40],
                        "value": row.raw.get(field_key, "")[:200],
                        "message": message[:300],
                    }
                )
            if len(self._problems) >= BATCH:
                self._flush_problems()
            return
        {
            ImportKind.COMPANIES.value: self._company,
            ImportKind.CONTACTS.value: self._queue_contact,
            ImportKind.OPPORTUNITIES.value: self._opportunity,
            ImportKind.ACTIVITIES.value: self._activity,
        }[self.kind](row.values)
        if len(self._rows) >= BATCH:
            self._flush_rows()

    def finish(self) -> Tally:
        self._flush_contacts()
        self._flush_rows()
        self._flush_problems()
        return self.tally

    # -------------------------------------------------------------- kinds

    def _company(self, values: dict[str, Any]) -> None:
        values = {**values, "account_manager_id": values.get("account_manager")}
        name = values["name"]
        domain = domain_of(values.get("website", "")) or domain_of(values.get("email", ""))
        keys = [f"name:{name.lower()}", *([f"domain:{domain}"] if domain else [])]
        if self.duplicates != DuplicateMode.CREATE and any(k in self._pending_keys for k in keys):
            self._flush_rows()  # a duplicate of a row of this file: it needs its id first
        existing = self.lookups.companies.get(name.lower()) or (
            self.lookups.domains.get(domain) if domain else None
        )
        if existing is not None and self.duplicates != DuplicateMode.CREATE:
            self._duplicate(Company, existing, values, COMPANY_COLUMNS)
            return
        row = {
            c: values.get(c) or ("" if c != "account_manager_id" else None) for c in COMPANY_COLUMNS
        }
        if row["account_manager_id"] is None and "account_manager" not in self.mapped:
            # A file without the column: the new company is the importer's, as on the page;
            # a file that says "nobody" (an empty cell) keeps it nobody's (a lossless export
            # and import).
            row["account_manager_id"] = self.by.id
        self._buffer(row, keys)

    def _queue_contact(self, values: dict[str, Any]) -> None:
        self._waiting.append(values)
        if len(self._waiting) >= BATCH:
            self._flush_contacts()

    def _flush_contacts(self) -> None:
        """Contacts go a thousand at a time: the addresses already here are looked up for
        the thousand only, so memory stays flat however many contacts there are."""
        if not self._waiting:
            return
        emails = {v["email"] for v in self._waiting if v.get("email")}
        self.lookups.contacts = {}
        for batch in _chunks(sorted(emails), 500):
            for contact_id, email in db.session.execute(
                select(Contact.id, Contact.email)
                .where(Contact.email.in_(batch))
                .order_by(Contact.id)
            ):
                self.lookups.contacts.setdefault(email, contact_id)
        waiting, self._waiting = self._waiting, []
        for values in waiting:
            self._contact(values)
        self._flush_rows()  # written before the next thousand are looked up

    def _contact(self, values: dict[str, Any]) -> None:
        values = {**values, "company_id": self._company_named(values.get("company", ""))}
        email = values.get("email", "")
        keys = [f"email:{email}"] if email else []
        if self.duplicates != DuplicateMode.CREATE and any(k in self._pending_keys for k in keys):
            self._flush_rows()
        existing = self.lookups.contacts.get(email) if email else None
        if existing is not None and self.duplicates != DuplicateMode.CREATE:
            self._duplicate(Contact, existing, values, CONTACT_COLUMNS)
            return
        row = {c: values.get(c) or ("" if c != "company_id" else None) for c in CONTACT_COLUMNS}
        self._buffer(row, keys)

    def _opportunity(self, values: dict[str, Any]) -> None:
        stage = values["stage"]
        status = "won" if stage.is_won else "lost" if stage.is_lost else "open"
        amount = values.get("amount")
        close_on = values.get("close_date")
        manager_id = values.get("owner") or self.by.id
        manager = self._member(manager_id)
        probability = values.get("probability")
        closed = stage.is_won or stage.is_lost
        self._buffer(
            {
                "name": values["name"],
                "description": values.get("description", ""),
                "status_id": self.lookups.statuses[status],
                "stage_id": stage.id,
                "revenue": amount or 0,
                "cost": 0,
                "won_amount": amount if stage.is_won else None,
                "lost_amount": amount if stage.is_lost else None,
                "lost_reason": values.get("lost_reason", "") if stage.is_lost else "",
                "closed_at": local_noon(close_on or self._today, self.tz) if closed else None,
                "expected_close_on": close_on,
                "probability": stage.default_probability if probability is None else probability,
                "probability_overridden": probability is not None,
                "source": values.get("source", ""),
                "account_manager_id": manager.id,
                "location_id": manager.location_id,
                "business_unit_id": manager.business_unit_id,
                "company_id": self._company_named(values.get("company", "")),
                "contact_id": values.get("contact_id"),
                "stage_entered_at": self.now,
                "created_by_id": self.by.id,
                "updated_by_id": self.by.id,
                "version": 1,
            },
            [],
        )

    def _activity(self, values: dict[str, Any]) -> None:
        assignee = self._member(values.get("assigned_to") or self.by.id)
        place = next((p for p in PLACES if p.lower() == values.get("place", "").lower()), "")
        activity = schedule_activity(
            subject=values["subject"],
            type_id=values["type"].id,
            due_on=values["due_on"],
            assigned_to_id=assignee.id,
            by=self.by,
            tz=self.tz,
            company_id=self._company_named(values.get("company", "")),
            contact_id=values.get("contact_id"),
            place=place,
        )
        if values.get("opportunity_id"):
            activity.opportunity_id = values["opportunity_id"]
        if values.get("note"):
            db.session.add(
                ActivityNote(activity_id=activity.id, author_id=self.by.id, body=values["note"])
            )
        if values.get("done"):
            # The assignee did it, on its done day: its points are those of any closing.
            close_activity(activity, by=assignee, now=local_noon(values["done_on"], self.tz))
        self._changes.append(self._change(activity.id))
        self.tally.created += 1
        if len(self._changes) >= BATCH:
            self._flush_rows()

    # -------------------------------------------------------------- helpers

    def _member(self, member_id: int) -> Member:
        if member_id not in self._members:
            member = db.session.get(Member, member_id)
            assert member is not None
            self._members[member_id] = member
        return self._members[member_id]

    def _company_named(self, name: str) -> int | None:
        """The company with this name, created (and remembered as the import's) if none."""
        if not name:
            return None
        found = self.lookups.companies.get(name.lower())
        if found is None:
            found = db.session.scalar(
                insert(Company)
                .values(name=name[:200], account_manager_id=self.by.id)
                .returning(Company.id)
            )
            assert found is not None
            self.lookups.companies[name.lower()] = found
            self._changes.append(self._change(found, ImportKind.COMPANIES.value))
        return found

    def _change(
        self, record_id: int, kind: str | None = None, previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "record_kind": kind or self.kind,
            "record_id": record_id,
            "created": previous is None,
            "previous": None if previous is None else json.dumps(previous),
        }

    def _buffer(self, row: dict[str, Any], keys: list[str]) -> None:
        self._rows.append(row)
        self._pending_keys.update(keys)
        self.tally.created += 1

    def _duplicate(
        self,
        model: type[Company] | type[Contact],
        record_id: int,
        values: dict[str, Any],
        columns: tuple[str, ...],
    ) -> None:
        if self.duplicates == DuplicateMode.SKIP:
            self.tally.skipped += 1
            return
        fields_of = {"account_manager_id": "account_manager", "company_id": "company"}
        changes = {
            c: values[c]
            for c in columns
            if fields_of.get(c, c) in self.mapped and values.get(c) not in (None, "")
        }
        if not changes:
            self.tally.skipped += 1
            return
        read = [getattr(model, c) for c in (*changes, "updated_at")]
        current = db.session.execute(select(*read).where(model.id == record_id)).one()._mapping
        previous = {c: _jsonable(current[c]) for c in (*changes, "updated_at")}
        if all(previous[c] == changes[c] for c in changes):
            self.tally.skipped += 1  # nothing to change
            return
        db.session.execute(
            update(model).where(model.id == record_id).values(**changes),
            execution_options={"synchronize_session": False},
        )
        self._changes.append(self._change(record_id, previous=previous))
        self.tally.updated += 1

    def _flush_rows(self) -> None:
        if self._rows:
            # RETURNING what the lookups need, not in any order: SQLite batches a thousand
            # rows into one INSERT only when the order of the returned rows is left free.
            if self.kind == ImportKind.COMPANIES.value:
                companies = db.session.execute(
                    insert(Company).returning(
                        Company.id, Company.name, Company.website, Company.email
                    ),
                    self._rows,
                ).all()
                ids = [row[0] for row in companies]
                for company_id, name, website, email in companies:
                    self.lookups.companies.setdefault(name.lower(), company_id)
                    domain = domain_of(website) or domain_of(email)
                    if domain:
                        self.lookups.domains.setdefault(domain, company_id)
            elif self.kind == ImportKind.CONTACTS.value:
                contacts = db.session.execute(
                    insert(Contact).returning(Contact.id, Contact.email), self._rows
                ).all()
                ids = [row[0] for row in contacts]
                for contact_id, email in contacts:
                    if email:
                        self.lookups.contacts.setdefault(email, contact_id)
            else:
                opportunities = db.session.execute(
                    insert(Opportunity).returning(Opportunity.id, Opportunity.stage_id), self._rows
                ).all()
                ids = [row[0] for row in opportunities]
                db.session.execute(
                    insert(StageChange),
                    [
                        {
                            "opportunity_id": opportunity_id,
                            "from_stage_id": None,
                            "to_stage_id": stage_id,
                            "changed_by_id": self.by.id,
                            "changed_at": self.now,
                        }
                        for opportunity_id, stage_id in opportunities
                    ],
                )
            self._changes.extend(self._change(i) for i in ids)
            self._rows.clear()
            self._pending_keys.clear()
        if self._changes:
            db.session.execute(insert(ImportChange), self._changes)
            self._changes.clear()
        if self.kind == ImportKind.ACTIVITIES.value:
            db.session.flush()
            # Keep the session small: what is written need not stay in memory.
            for obj in list(db.session.identity_map.values()):
                if isinstance(obj, Activity | ActivityNote):
                    db.session.expunge(obj)

    def _flush_problems(self) -> None:
        if self._problems:
            db.session.execute(insert(ImportProblem), self._problems)
            self._problems.clear()
