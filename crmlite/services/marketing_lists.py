"""Contact groups (marketing lists): the people a campaign e-mail goes to.

Contacts join a group by hand, by a filter (their company's industry or city, having an
e-mail address, not unsubscribed) or from a CSV file of e-mail addresses; addresses that
match no contact are reported, never created. A contact is in a group once. Plain
functions that never commit.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import joinedload

from crmlite.database import UTCDateTime, utcnow
from crmlite.extensions import db
from crmlite.models import (
    Company,
    Contact,
    MarketingList,
    MarketingListMember,
    Member,
)
from crmlite.services import events
from crmlite.services.pagination import PER_PAGE, Page, paginate

MAX_CSV_BYTES = 1024 * 1024
MAX_CSV_ADDRESSES = 20_000
SEARCH_LIMIT = 20


class ListRefused(ValueError):
    """Input the rules refuse; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str = "name") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ListSummary:
    group: MarketingList
    contacts: int
    reachable: int  # with an address, not unsubscribed, not bouncing

    @property
    def not_reachable(self) -> int:
        return self.contacts - self.reachable


def _reachable() -> ColumnElement[bool]:
    return and_(
        Contact.email != "", Contact.unsubscribed_at.is_(None), Contact.bounced_at.is_(None)
    )


def summaries(list_ids: list[int] | None = None) -> list[ListSummary]:
    """Every group (by name) with its contact counts, in one query."""
    query = (
        select(
            MarketingList,
            func.count(Contact.id),
            func.count(case((_reachable(), 1))),
        )
        .outerjoin(MarketingListMember, MarketingListMember.list_id == MarketingList.id)
        .outerjoin(Contact, Contact.id == MarketingListMember.contact_id)
        .group_by(MarketingList.id)
        .order_by(func.lower(MarketingList.name))
    )
    if list_ids is not None:
        query = query.where(MarketingList.id.in_(list_ids))
    return [ListSummary(group, int(n), int(r)) for group, n, r in db.session.execute(query)]


def summary(list_id: int) -> ListSummary | None:
    found = summaries([list_id])
    return found[0] if found else None


def create_list(name: str, *, description: str = "", by: Member) -> MarketingList:
    name = " ".join(name.split())
    if not name:
        raise ListRefused("Enter the group's name.")
    if len(name) > 120:
        raise ListRefused("Keep the name under 120 characters.")
    clash = select(MarketingList.id).where(func.lower(MarketingList.name) == name.lower())
    if db.session.scalar(clash) is not None:
        raise ListRefused(f"There is a group called {name} already.")
    group = MarketingList(name=name, description=description.strip(), created_by_id=by.id)
    db.session.add(group)
    db.session.flush()
    return group


def delete_list(group: MarketingList, *, by: Member) -> None:
    """The group goes; its contacts stay, and so do the sends made to it. Published
    (``Deleted``)."""
    name = group.name
    db.session.execute(delete(MarketingListMember).where(MarketingListMember.list_id == group.id))
    db.session.execute(delete(MarketingList).where(MarketingList.id == group.id))
    db.session.flush()
    events.publish(events.Deleted("contact group", name, by=by, at=utcnow()))


def members(list_id: int, page: int = 1, per_page: int = PER_PAGE) -> Page[Contact]:
    """The group's contacts by name, with their companies: two queries."""
    return paginate(
        select(Contact)
        .join(MarketingListMember, MarketingListMember.contact_id == Contact.id)
        .where(MarketingListMember.list_id == list_id)
        .options(joinedload(Contact.company))
        .order_by(func.lower(Contact.first_name), func.lower(Contact.last_name), Contact.id),
        page,
        per_page,
    )


def _not_in(list_id: int) -> ColumnElement[bool]:
    return ~exists().where(
        MarketingListMember.list_id == list_id, MarketingListMember.contact_id == Contact.id
    )


def search_contacts(list_id: int, q: str, limit: int = SEARCH_LIMIT) -> list[Contact]:
    """Contacts not in the group whose name, e-mail or company contains ``q``."""
    q = q.strip().lower()
    if not q:
        return []
    full_name = func.lower(Contact.first_name + " " + Contact.last_name)
    return list(
        db.session.scalars(
            select(Contact)
            .outerjoin(Company, Company.id == Contact.company_id)
            .where(
                _not_in(list_id),
                or_(
                    full_name.contains(q, autoescape=True),
                    func.lower(Contact.email).contains(q, autoescape=True),
                    func.lower(Company.name).contains(q, autoescape=True),
                ),
            )
            .options(joinedload(Contact.company))
            .order_by(func.lower(Contact.first_name), func.lower(Contact.last_name), Contact.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Added:
    """What adding contacts to a group did: how many matched, how many of them joined."""

    matched: int
    added: int

    @property
    def already(self) -> int:
        """Matched contacts that were in the group before."""
        return self.matched - self.added


def _add_matching(list_id: int, condition: ColumnElement[bool], now: datetime) -> Added:
    """Add every contact matching ``condition`` and not in the group yet, in one INSERT.
    The contacts are counted once, before: within the transaction, those not in the group
    yet are exactly those the INSERT adds (drivers differ on INSERT … SELECT row counts)."""
    matched, new = count_matching(list_id, condition)
    if new:
        chosen = (
            select(
                literal(list_id).label("list_id"),
                Contact.id,
                literal(now, UTCDateTime).label("added_at"),
            )
            .outerjoin(Company, Company.id == Contact.company_id)
            .where(condition, _not_in(list_id))
        )
        db.session.execute(
            insert(MarketingListMember).from_select(["list_id", "contact_id", "added_at"], chosen)
        )
        db.session.flush()
    return Added(matched, new)


def add_contacts(
    group: MarketingList, contact_ids: list[int], *, now: datetime | None = None
) -> int:
    """Add these contacts (unknown ids and contacts already in are passed over); returns
    how many joined."""
    if not contact_ids:
        return 0
    return _add_matching(group.id, Contact.id.in_(contact_ids), now or datetime.now(UTC)).added


def remove_contact(group: MarketingList, contact_id: int, *, by: Member) -> bool:
    """Take a contact out of the group (the contact stays); False when they were not in it.
    Published (``Deleted``)."""
    result = db.session.execute(
        delete(MarketingListMember).where(
            MarketingListMember.list_id == group.id, MarketingListMember.contact_id == contact_id
        )
    )
    db.session.flush()
    removed = bool(result.rowcount)  # type: ignore[attr-defined]
    if removed:
        contact = db.session.get(Contact, contact_id)
        who = contact.name if contact is not None else f"contact {contact_id}"
        events.publish(
            events.Deleted("contact group membership", f"{who} in {group.name}", by=by, at=utcnow())
        )
    return removed


@dataclass(frozen=True)
class ContactFilter:
    """Contacts whose company is in this industry and city (empty: any), optionally only
    those with an e-mail address and not unsubscribed."""

    industry: str = ""
    city: str = ""
    reachable_only: bool = True

    def condition(self) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = []
        if self.industry.strip():
            parts.append(func.lower(Company.industry) == self.industry.strip().lower())
        if self.city.strip():
            city = self.city.strip().lower()
            parts.append(or_(func.lower(Company.city) == city, func.lower(Contact.city) == city))
        if self.reachable_only:
            parts.append(_reachable())
        return and_(true(), *parts)

    @property
    def is_empty(self) -> bool:
        return not (self.industry.strip() or self.city.strip())


def count_matching(list_id: int, condition: ColumnElement[bool]) -> tuple[int, int]:
    """How many contacts match, and how many of them are not in the group yet."""
    matched, new = db.session.execute(
        select(func.count(Contact.id), func.count(case((_not_in(list_id), 1))))
        .outerjoin(Company, Company.id == Contact.company_id)
        .where(condition)
    ).one()
    return int(matched), int(new)


def add_by_filter(
    group: MarketingList, spec: ContactFilter, *, now: datetime | None = None
) -> Added:
    """Add the contacts the filter matches; an industry or a city must be chosen."""
    if spec.is_empty:
        raise ListRefused("Choose an industry or a city.", "industry")
    return _add_matching(group.id, spec.condition(), now or datetime.now(UTC))


def filter_choices() -> tuple[list[str], list[str]]:
    """The industries and cities of the companies, for the filter's choices."""
    industries = db.session.scalars(
        select(Company.industry).where(Company.industry != "").distinct().order_by(Company.industry)
    ).all()
    cities = db.session.scalars(
        select(Company.city).where(Company.city != "").distinct().order_by(Company.city)
    ).all()
    return list(industries), list(cities)


@dataclass
class CsvResult:
    added: int = 0
    already: int = 0  # matched contacts that were in the group before
    matched: int = 0
    unknown: list[str] = field(default_factory=list)  # valid addresses of no contact
    invalid: list[str] = field(default_factory=list)  # cells with an @ that are no address


def addresses_in_csv(data: bytes) -> tuple[list[str], list[str]]:
    """The e-mail addresses in a CSV file (any column; cells without an @, such as names and
    headers, are passed over), lower-cased, each once; and the cells that look like an
    address but are not one."""
    if len(data) > MAX_CSV_BYTES:
        raise ListRefused("The file is larger than 1 MB. Split it in parts.", "csv_file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    found: dict[str, None] = {}
    invalid: dict[str, None] = {}
    try:
        for row in csv.reader(io.StringIO(text), dialect):
            for cell in row:
                cell = cell.strip().strip("<>").strip()
                if "@" not in cell:
                    continue
                try:
                    address = validate_email(cell, check_deliverability=False).normalized
                except EmailNotValidError:
                    invalid[cell[:254]] = None
                    continue
                found[address.lower()] = None
                if len(found) > MAX_CSV_ADDRESSES:
                    raise ListRefused(
                        f"The file has more than {MAX_CSV_ADDRESSES:,} addresses. "
                        "Split it in parts.",
                        "csv_file",
                    )
    except csv.Error as error:
        raise ListRefused(f"This is not a CSV file we can read: {error}.", "csv_file") from error
    if not found and not invalid:
        raise ListRefused("The file holds no e-mail address.", "csv_file")
    return list(found), list(invalid)


def add_from_csv(group: MarketingList, data: bytes, *, now: datetime | None = None) -> CsvResult:
    """Add the contacts whose e-mail address is in the file; report the rest."""
    addresses, invalid = addresses_in_csv(data)
    result = CsvResult(invalid=invalid)
    known: set[str] = set()
    for start in range(0, len(addresses), 500):
        chunk = addresses[start : start + 500]
        known.update(
            db.session.scalars(
                select(func.lower(Contact.email)).where(func.lower(Contact.email).in_(chunk))
            )
        )
        added = _add_matching(
            group.id, func.lower(Contact.email).in_(chunk), now or datetime.now(UTC)
        )
        result.matched += added.matched
        result.already += added.already
        result.added += added.added
    result.unknown = [a for a in addresses if a not in known]
    return result
