"""Time and expenses on an opportunity, and the forecast table's footer.

The rules, in the method's words:
- **Time**: a member logs hours on a deal (more than 0, at most 24 per entry). The entry
  costs hours × the member's cost rate (Setup → Members), rounded half up to the cent, and
  keeps that cost: a new rate applies to time logged from then on. A rep logs their own
  time; a manager logs anyone's.
- **Expenses**: an amount (services/money.py), a category (Travel, Meals, Lodging,
  Materials, Other), a date and a note.
- **The footer** of the forecast table, as the seed prints it: *Forecast Totals* (the
  opportunity's revenue and cost), *Time* and *Expenses* (their cost; they lower the
  margin), and *Forecast Total less Time and Expenses* (revenue, cost + time + expenses,
  what is left, and it as a percentage of the revenue, two decimals, half up).
- Deleting an entry is published (``Deleted``) for the audit log.

Plain functions that change models and ``flush()``; a refused entry raises
``InvalidFields`` with a message per field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import (
    ExpenseCategory,
    ExpenseEntry,
    Member,
    Opportunity,
    Role,
    TimeEntry,
)
from crmlite.services import events
from crmlite.services.money import ZERO, cents, is_valid_amount, percent
from crmlite.services.opportunity_details import InvalidFields
from crmlite.services.parsing import MAX_HOURS, clean_multiline

MAX_NOTE = 2000
EXPENSE_CATEGORIES = [c.value for c in ExpenseCategory]


@dataclass(frozen=True)
class TimeValues:
    member_id: int | None
    worked_on: date | None
    hours: Decimal | None
    note: str


@dataclass(frozen=True)
class ExpenseValues:
    spent_on: date | None
    amount: Decimal | None
    category: str
    note: str


@dataclass(frozen=True)
class FooterRow:
    """One row of the forecast footer; ``revenue`` None where the seed leaves it blank."""

    label: str
    revenue: Decimal | None
    cost: Decimal
    margin: Decimal
    margin_percent: Decimal | None


@dataclass(frozen=True)
class Costs:
    """An opportunity's time and expense entries, newest first, and their totals."""

    time_entries: list[TimeEntry]
    expenses: list[ExpenseEntry]

    @property
    def time_cost(self) -> Decimal:
        return sum((e.cost for e in self.time_entries), ZERO)

    @property
    def hours(self) -> Decimal:
        return sum((e.hours for e in self.time_entries), Decimal("0.00"))

    @property
    def expense_total(self) -> Decimal:
        return sum((e.amount for e in self.expenses), ZERO)


def costs_of(opportunity_id: int) -> Costs:
    """The entries of one opportunity, in two queries whatever their number."""
    time_entries = db.session.scalars(
        select(TimeEntry)
        .where(TimeEntry.opportunity_id == opportunity_id)
        .options(joinedload(TimeEntry.member))
        .order_by(TimeEntry.worked_on.desc(), TimeEntry.id.desc())
    )
    expenses = db.session.scalars(
        select(ExpenseEntry)
        .where(ExpenseEntry.opportunity_id == opportunity_id)
        .order_by(ExpenseEntry.spent_on.desc(), ExpenseEntry.id.desc())
    )
    return Costs(list(time_entries), list(expenses))


def footer(opportunity: Opportunity, costs: Costs) -> list[FooterRow]:
    """The four rows that end the forecast table (see the module's rules)."""
    revenue, cost = opportunity.revenue, opportunity.cost
    time_cost, expenses = cents(costs.time_cost), cents(costs.expense_total)
    total_cost = cost + time_cost + expenses
    return [
        FooterRow(
            "Forecast Totals", revenue, cost, revenue - cost, percent(revenue - cost, revenue, 2)
        ),
        FooterRow("Time", None, time_cost, -time_cost, None),
        FooterRow("Expenses", None, expenses, -expenses, None),
        FooterRow(
            "Forecast Total less Time and Expenses",
            revenue,
            total_cost,
            revenue - total_cost,
            percent(revenue - total_cost, revenue, 2),
        ),
    ]


def time_cost(hours: Decimal, rate: Decimal) -> Decimal:
    """Hours × the hourly cost rate, in cents rounded half up."""
    return cents(hours * rate)


def _clean_note(note: str, errors: dict[str, str]) -> str:
    note = clean_multiline(note).strip()
    if len(note) > MAX_NOTE:
        errors["note"] = f"The note can have at most {MAX_NOTE:,} characters."
    return note


def add_time(opportunity: Opportunity, values: TimeValues, *, by: Member) -> TimeEntry:
    """Log hours on the deal; the entry costs hours × the member's cost rate now."""
    errors: dict[str, str] = {}
    member = db.session.get(Member, values.member_id) if values.member_id else None
    if member is None or not member.active:
        errors["member_id"] = "Choose a member from the list."
    elif by.role == Role.REP.value and member.id != by.id:
        errors["member_id"] = "You can log only your own time."
    if values.worked_on is None:
        errors["worked_on"] = "Enter the day the time was spent."
    if values.hours is None or not 0 < values.hours <= MAX_HOURS:
        errors["hours"] = "The hours must be more than 0 and at most 24."
    note = _clean_note(values.note, errors)
    if errors:
        raise InvalidFields(errors)
    assert member is not None and values.hours is not None and values.worked_on is not None
    entry = TimeEntry(
        opportunity_id=opportunity.id,
        member_id=member.id,
        worked_on=values.worked_on,
        hours=values.hours,
        cost_rate=member.cost_rate,
        cost=time_cost(values.hours, member.cost_rate),
        note=note,
        created_by_id=by.id,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def add_expense(opportunity: Opportunity, values: ExpenseValues, *, by: Member) -> ExpenseEntry:
    """Record money spent on the deal."""
    errors: dict[str, str] = {}
    if values.spent_on is None:
        errors["spent_on"] = "Enter the day the money was spent."
    if values.amount is None or not is_valid_amount(values.amount):
        errors["amount"] = "Enter the amount spent."
    if values.category not in EXPENSE_CATEGORIES:
        errors["category"] = "Choose a category from the list."
    note = _clean_note(values.note, errors)
    if errors:
        raise InvalidFields(errors)
    assert values.amount is not None and values.spent_on is not None
    entry = ExpenseEntry(
        opportunity_id=opportunity.id,
        spent_on=values.spent_on,
        amount=values.amount,
        category=values.category,
        note=note,
        created_by_id=by.id,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def find_time(opportunity: Opportunity, entry_id: int) -> TimeEntry | None:
    entry = db.session.get(TimeEntry, entry_id)
    return entry if entry is not None and entry.opportunity_id == opportunity.id else None


def find_expense(opportunity: Opportunity, entry_id: int) -> ExpenseEntry | None:
    entry = db.session.get(ExpenseEntry, entry_id)
    return entry if entry is not None and entry.opportunity_id == opportunity.id else None


def remove_entry(opportunity: Opportunity, entry: TimeEntry | ExpenseEntry, *, by: Member) -> None:
    """Delete a time or expense entry of the deal; published for the audit log."""
    if isinstance(entry, TimeEntry):
        kind, what = "time entry", f"{entry.hours} h on {entry.worked_on.isoformat()}"
    else:
        kind, what = "expense", f"{entry.amount} {entry.category} on {entry.spent_on.isoformat()}"
    db.session.delete(entry)
    db.session.flush()
    events.publish(events.Deleted(kind, f"{what}, {opportunity.name}", by=by, at=utcnow()))


def set_cost_rate(member: Member, rate: Decimal | None) -> None:
    """A member's hourly cost rate (empty: 0.00); it applies to time logged from now on."""
    member.cost_rate = rate if rate is not None else ZERO
    db.session.flush()


def costs_per_opportunity() -> Any:
    """SQL: per opportunity with time or expenses, their total cost (time + expenses), as a
    subquery with the columns ``opportunity_id`` and ``spent`` (for campaign figures)."""
    time = select(TimeEntry.opportunity_id.label("opportunity_id"), TimeEntry.cost.label("spent"))
    expenses = select(
        ExpenseEntry.opportunity_id.label("opportunity_id"), ExpenseEntry.amount.label("spent")
    )
    both = time.union_all(expenses).subquery()
    return (
        select(both.c.opportunity_id, func.sum(both.c.spent).label("spent"))
        .group_by(both.c.opportunity_id)
        .subquery()
    )
