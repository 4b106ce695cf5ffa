"""What winning a deal costs besides its products: time spent on it and expenses."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.models.base import Model, Money, amounts_in_range, created_at_column, fk, rel
from crmlite.models.people import Member

# Hours of one entry: at most 24, in hundredths (1.25 is an hour and a quarter).
Hours = Numeric(5, 2, asdecimal=True)


class ExpenseCategory(StrEnum):
    TRAVEL = "Travel"
    MEALS = "Meals"
    LODGING = "Lodging"
    MATERIALS = "Materials"
    OTHER = "Other"


class TimeEntry(Model):
    """Hours a member spent on an opportunity. The cost is hours × the member's cost rate
    when entered, kept: a later rate does not change what was spent."""

    __tablename__ = "time_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = fk("opportunities.id", ondelete="CASCADE", nullable=False)
    member_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    worked_on: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Hours)
    cost_rate: Mapped[Decimal] = mapped_column(Money)
    cost: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("hours > 0 AND hours <= 24", name="hours_range"),
        amounts_in_range("cost_rate", "cost"),
        Index("ix_time_entries_opportunity", "opportunity_id", "worked_on", "cost"),
    )

    member: Mapped[Member | None] = rel(Member, foreign_keys=[member_id])


class ExpenseEntry(Model):
    """Money spent on an opportunity: travel, a meal, materials…"""

    __tablename__ = "expense_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = fk("opportunities.id", ondelete="CASCADE", nullable=False)
    spent_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    category: Mapped[str] = mapped_column(String(20), default=ExpenseCategory.OTHER.value)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(
            "category IN ('Travel', 'Meals', 'Lodging', 'Materials', 'Other')",
            name="category_values",
        ),
        amounts_in_range("amount"),
        Index("ix_expense_entries_opportunity", "opportunity_id", "spent_on", "amount"),
    )

    created_by: Mapped[Member | None] = rel(Member, foreign_keys=[created_by_id])
