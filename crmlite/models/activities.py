"""Activities: the calls, meetings and touches that move a sale, and their types."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, Date, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.database import UTCDateTime
from crmlite.models.base import Model, created_at_column, fk, rel, updated_at_column
from crmlite.models.people import Company, Contact, Member

if TYPE_CHECKING:
    from crmlite.models.marketing import Campaign
    from crmlite.models.sales import Opportunity


class ActivityGroup(StrEnum):
    """The four groups of the points table."""

    FUNNEL_STAGES = "funnel_stages"
    FARM_OPPORTUNITIES = "farm_opportunities"
    PROACTIVE = "proactive"
    FARM_CLIENTS = "farm_clients"

    @property
    def label(self) -> str:
        return {
            "funnel_stages": "Sales funnel stages",
            "farm_opportunities": "Activities to farm current opportunities",
            "proactive": "Proactive activities to add to the funnel",
            "farm_clients": "General farming activities for current clients",
        }[self.value]


class ActivityStatus(StrEnum):
    """Open: to do. Closed: done, it earned its points. Cancelled: left undone because its
    opportunity was won or lost; it earns no points and stays in the history."""

    OPEN = "Open"
    CLOSED = "Closed"
    CANCELLED = "Cancelled"


PLACES = ("On-Site", "Phone", "Remote", "Office", "E-mail")


class ActivityType(Model):
    """A kind of activity, with the points it earns when closed and a monthly target count."""

    __tablename__ = "activity_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    group: Mapped[str] = mapped_column(String(32))
    points: Mapped[int] = mapped_column(Integer, default=0)
    monthly_count: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        CheckConstraint("points BETWEEN 0 AND 1000", name="points_range"),
        CheckConstraint("monthly_count BETWEEN 0 AND 1000", name="monthly_count_range"),
    )

    @property
    def label(self) -> str:
        return f"{self.code} - {self.name}"

    @property
    def monthly_total(self) -> int:
        return self.points * self.monthly_count


REMINDED = "status = 'Open' AND reminder_minutes IS NOT NULL"


class Activity(Model):
    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    type_id: Mapped[int] = fk("activity_types.id", nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(10), default=ActivityStatus.OPEN.value)
    company_id: Mapped[int | None] = fk("companies.id", ondelete="SET NULL", index=True)
    contact_id: Mapped[int | None] = fk("contacts.id", ondelete="SET NULL", index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    # active_history: a move to another opportunity must know the old one (next steps).
    opportunity_id: Mapped[int | None] = fk(
        "opportunities.id", ondelete="SET NULL", active_history=True
    )
    campaign_id: Mapped[int | None] = fk("campaigns.id", ondelete="SET NULL", index=True)
    assigned_to_id: Mapped[int] = fk("members.id", nullable=False)
    assigned_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    # The day it is due, in the team's time zone; start and end are set when time is allocated.
    due_on: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_minutes: Mapped[int | None] = mapped_column(Integer)
    place: Mapped[str] = mapped_column(String(20), default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    # Fixed when the activity closes, so a later change of the type's value rewrites no history.
    points_earned: Mapped[int | None] = mapped_column(Integer)
    # Set when the activity was captured from an e-mail.
    email_from: Mapped[str] = mapped_column(String(254), default="")
    email_to: Mapped[str] = mapped_column(Text, default="")
    email_message_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("status IN ('Open', 'Closed', 'Cancelled')", name="status_values"),
        CheckConstraint(
            "ends_at IS NULL OR starts_at IS NULL OR ends_at >= starts_at", name="ends_after_start"
        ),
        CheckConstraint(
            "reminder_minutes IS NULL OR reminder_minutes BETWEEN 0 AND 10080",
            name="reminder_range",
        ),
        CheckConstraint(
            "points_earned IS NULL OR points_earned BETWEEN 0 AND 1000", name="points_earned_range"
        ),
        # Calendar and lists: a member's activities by time.
        Index("ix_activities_assignee_due", "assigned_to_id", "due_on", "starts_at"),
        # Points: a member's closed activities by month.
        Index("ix_activities_assignee_closed", "assigned_to_id", "closed_at"),
        # Points totals (GROUP BY member, type over a month): answered from the index alone
        # (status too, or SQLite visits the table to re-check the partial index's condition).
        Index(
            "ix_activities_points",
            "assigned_to_id",
            "closed_at",
            "type_id",
            "points_earned",
            "status",
            sqlite_where=text("status = 'Closed'"),
            postgresql_where=text("status = 'Closed'"),
        ),
        # Next step: an opportunity's open activities by time.
        Index("ix_activities_opportunity_next", "opportunity_id", "status", "due_on"),
        # Due soon (every page): a member's open activities with a reminder, by time, with
        # what the rule reads, so the strip is answered from the index alone.
        Index(
            "ix_activities_reminders",
            "assigned_to_id",
            "due_on",
            "starts_at",
            "ends_at",
            "reminder_minutes",
            "status",
            sqlite_where=text(REMINDED),
            postgresql_where=text(REMINDED),
        ),
    )

    type: Mapped[ActivityType] = rel(ActivityType)
    company: Mapped[Company | None] = rel(Company)
    contact: Mapped[Contact | None] = rel(Contact)
    opportunity: Mapped[Opportunity | None] = rel("Opportunity", back_populates="activities")
    campaign: Mapped[Campaign | None] = rel("Campaign")
    assigned_to: Mapped[Member] = rel(Member, foreign_keys=[assigned_to_id])
    assigned_by: Mapped[Member | None] = rel(Member, foreign_keys=[assigned_by_id])
    closed_by: Mapped[Member | None] = rel(Member, foreign_keys=[closed_by_id])
    notes: Mapped[list[ActivityNote]] = rel(
        "ActivityNote", cascade="all, delete-orphan", order_by="ActivityNote.created_at.desc()"
    )

    @property
    def is_open(self) -> bool:
        return self.status == ActivityStatus.OPEN

    @property
    def is_cancelled(self) -> bool:
        return self.status == ActivityStatus.CANCELLED

    def is_overdue(self, today: date) -> bool:
        """Still open after the day it was due."""
        return self.is_open and self.due_on < today


class ActivityNote(Model):
    """A stamped note on an activity: who, when, text. Appended, never edited."""

    __tablename__ = "activity_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = fk("activities.id", ondelete="CASCADE", nullable=False, index=True)
    author_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()
    body: Mapped[str] = mapped_column(Text)

    author: Mapped[Member | None] = rel(Member)


class StoredCalendarEvent(Model):
    """An activity's VEVENT as the calendar feed last built it (``ics``: its folded lines,
    CRLF-ended), with the fingerprint of everything that text was built from: the activity,
    its type, company, contact and opportunity names, its notes and their authors, the team's
    zone. The feed uses the text while the fingerprint still matches what the database holds,
    and builds the event again otherwise, so a stored event cannot go stale."""

    __tablename__ = "calendar_event_cache"

    activity_id: Mapped[int] = fk(
        "activities.id", ondelete="CASCADE", nullable=False, primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(Text)
    ics: Mapped[str] = mapped_column(Text)
