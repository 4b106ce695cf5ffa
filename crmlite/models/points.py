"""Points quota history: what a quota was before it changed, so past months keep theirs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.models.base import Model, created_at_column, fk
from crmlite.models.people import MAX_POINTS_QUOTA


class PointsQuotaChange(Model):
    """The monthly points quota that applied before a change made in the month starting
    ``valid_before``: the team's default (``member_id`` None) or a member's own override
    (``quota`` None: the member had none, the team's applied). One row per scope and month;
    months from ``valid_before`` on use the next row's value, or the current setting."""

    __tablename__ = "points_quota_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = fk("members.id", ondelete="CASCADE", index=True)
    valid_before: Mapped[date] = mapped_column(Date)
    quota: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(
            f"quota IS NULL OR quota BETWEEN 0 AND {MAX_POINTS_QUOTA}", name="quota_range"
        ),
    )


class PointsMonthQuota(Model):
    """A member's points quota set by a manager for one month (``month``: its first day). It
    wins over the rule of ``PointsQuotaChange`` (their own quota, else the team's, as either
    was then) for that month only; clearing it deletes the row."""

    __tablename__ = "points_month_quotas"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = fk("members.id", ondelete="CASCADE", nullable=False)
    month: Mapped[date] = mapped_column(Date)
    quota: Mapped[int] = mapped_column(Integer)
    set_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    set_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("member_id", "month"),
        CheckConstraint(f"quota BETWEEN 0 AND {MAX_POINTS_QUOTA}", name="quota_range"),
    )


class PointsMonthSheet(Model):
    """A closed month's points table as it stood when the month was frozen: every activity
    type with its code, name, group, order, point value, recommended monthly count and active
    flag (``types``, a JSON list). Written once per month (``month``: its first day), the
    first time the closed month is read or just before a point value changes, whichever comes
    first; a closed month's sheet reads its lines and recommended plan from here, so it
    prints the same whenever it is printed again."""

    __tablename__ = "points_month_sheets"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date, unique=True)
    types: Mapped[str] = mapped_column(Text)
    frozen_at: Mapped[datetime] = created_at_column()
