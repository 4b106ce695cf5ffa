"""The funnel: stages, opportunity types and statuses, opportunities and their history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.database import UTCDateTime, utcnow
from crmlite.models.base import (
    ZERO,
    Model,
    Money,
    amounts_in_range,
    created_at_column,
    fk,
    rel,
    updated_at_column,
)
from crmlite.models.people import BusinessUnit, Company, Contact, Location, Member

# services.money depends on the standard library only: the models may round with it.
from crmlite.services.money import percent, weighted

if TYPE_CHECKING:
    from crmlite.models.activities import Activity
    from crmlite.models.marketing import Campaign


class Rating(StrEnum):
    HOT = "Hot"
    MEDIUM = "Medium"
    COLD = "Cold"


class SalesStage(Model):
    """A funnel column. Won and Lost are stages too, flagged, after the six open ones."""

    __tablename__ = "sales_stages"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    position: Mapped[int] = mapped_column(Integer, unique=True)
    default_probability: Mapped[int] = mapped_column(Integer)
    is_won: Mapped[bool] = mapped_column(Boolean, default=False)
    is_lost: Mapped[bool] = mapped_column(Boolean, default=False)
    # The kind of activity the next-step question offers first when a card moves here
    # (e.g. 1st Appointment: "SA"); None: the first in the points table.
    next_step_type_id: Mapped[int | None] = fk("activity_types.id", ondelete="SET NULL")

    __table_args__ = (
        CheckConstraint("default_probability BETWEEN 0 AND 100", name="probability_range"),
    )

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost


class ProductCategory(StrEnum):
    """How the opportunity's forecast table groups its lines, as the method's seed does."""

    SERVICE = "Service"
    MANAGED_SERVICE = "Managed Service"
    OTHER = "Other"


class OpportunityType(Model):
    """Something the team sells on its own, e.g. "Managed Services - Complete": the
    product catalogue (Setup → Products). A forecast line picking it starts with its
    default revenue and cost, one-off or recurring (per month)."""

    __tablename__ = "opportunity_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    category: Mapped[str] = mapped_column(
        String(20), default=ProductCategory.OTHER.value, server_default=ProductCategory.OTHER.value
    )
    default_revenue: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    default_cost: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")
    recurring: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        CheckConstraint(
            "category IN ('Service', 'Managed Service', 'Other')", name="category_values"
        ),
        amounts_in_range("default_revenue", "default_cost"),
    )


class OpportunityStatus(Model):
    __tablename__ = "opportunity_statuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    is_won: Mapped[bool] = mapped_column(Boolean, default=False)
    is_lost: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Opportunity(Model):
    __tablename__ = "opportunities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    type_id: Mapped[int | None] = fk("opportunity_types.id", index=True)
    status_id: Mapped[int] = fk("opportunity_statuses.id", nullable=False, index=True)
    stage_id: Mapped[int] = fk("sales_stages.id", nullable=False)
    # Totals of the forecast lines when there are any, entered directly otherwise.
    revenue: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    cost: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    won_amount: Mapped[Decimal | None] = mapped_column(Money)
    lost_amount: Mapped[Decimal | None] = mapped_column(Money)
    lost_reason: Mapped[str] = mapped_column(Text, default="")
    # When the status became Won or Lost (the dashboard credits wins to that month).
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    expected_close_on: Mapped[date | None] = mapped_column(Date, index=True)
    rating: Mapped[str] = mapped_column(String(10), default=Rating.MEDIUM.value)
    probability: Mapped[int] = mapped_column(Integer, default=10)
    # True once a person set the probability by hand: stage moves then leave it alone.
    probability_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(120), default="")
    campaign_id: Mapped[int | None] = fk("campaigns.id", ondelete="SET NULL", index=True)
    account_manager_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL", index=True)
    sales_associate_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    company_id: Mapped[int | None] = fk("companies.id", ondelete="SET NULL", index=True)
    contact_id: Mapped[int | None] = fk("contacts.id", ondelete="SET NULL", index=True)
    location_id: Mapped[int | None] = fk("locations.id", ondelete="SET NULL", index=True)
    business_unit_id: Mapped[int | None] = fk("business_units.id", ondelete="SET NULL", index=True)
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The due days of its earliest and latest open activities, kept in step with the
    # activities by crmlite.services.next_steps, so the board sorts and counts stalled
    # opportunities from an index instead of visiting every opportunity's activities.
    first_open_activity_on: Mapped[date | None] = mapped_column(Date)
    last_open_activity_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = created_at_column()
    created_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    updated_at: Mapped[datetime] = updated_at_column()
    updated_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    # Optimistic locking: a stale UPDATE raises StaleDataError instead of overwriting.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability_range"),
        CheckConstraint("rating IN ('Hot', 'Medium', 'Cold')", name="rating_values"),
        amounts_in_range("revenue", "cost", "won_amount", "lost_amount"),
        # The board reads each open column's cards in this order from its first row
        # (services/board.py), and Won's and Lost's newest first; their totals are kept in
        # board_totals (models/board_totals.py).
        Index(
            "ix_opportunities_board_order",
            "stage_id",
            "first_open_activity_on",
            "stage_entered_at",
            "id",
            "last_open_activity_on",
            "status_id",
        ),
        Index("ix_opportunities_board_closed", "stage_id", "closed_at"),
        # Cover the dashboard (services/hygiene.py, forecast.py, attainment.py): the open
        # opportunities per account manager and stage, and the wins by month, each read
        # from an index alone.
        Index(
            "ix_opportunities_open_book",
            "status_id",
            "account_manager_id",
            "stage_id",
            "expected_close_on",
            "last_open_activity_on",
            "revenue",
            "cost",
            "probability",
        ),
        # The live board asks for the latest change (services/board_live.py).
        Index("ix_opportunities_updated_at", "updated_at"),
        Index(
            "ix_opportunities_wins",
            "status_id",
            "closed_at",
            "account_manager_id",
            "location_id",
            "business_unit_id",
            "won_amount",
            "revenue",
            "cost",
        ),
    )

    type: Mapped[OpportunityType | None] = rel(OpportunityType)
    status: Mapped[OpportunityStatus] = rel(OpportunityStatus)
    stage: Mapped[SalesStage] = rel(SalesStage)
    campaign: Mapped[Campaign | None] = rel("Campaign")
    account_manager: Mapped[Member | None] = rel(Member, foreign_keys=[account_manager_id])
    sales_associate: Mapped[Member | None] = rel(Member, foreign_keys=[sales_associate_id])
    created_by: Mapped[Member | None] = rel(Member, foreign_keys=[created_by_id])
    updated_by: Mapped[Member | None] = rel(Member, foreign_keys=[updated_by_id])
    company: Mapped[Company | None] = rel(Company, back_populates="opportunities")
    contact: Mapped[Contact | None] = rel(Contact)
    location: Mapped[Location | None] = rel(Location)
    business_unit: Mapped[BusinessUnit | None] = rel(BusinessUnit)
    forecast_lines: Mapped[list[ForecastLine]] = rel(
        "ForecastLine",
        back_populates="opportunity",
        cascade="all, delete-orphan",
        order_by="ForecastLine.position",
    )
    team: Mapped[list[OpportunityTeamMember]] = rel(
        "OpportunityTeamMember", cascade="all, delete-orphan"
    )
    extra_contacts: Mapped[list[OpportunityContact]] = rel(
        "OpportunityContact", cascade="all, delete-orphan"
    )
    notes: Mapped[list[OpportunityNote]] = rel(
        "OpportunityNote",
        cascade="all, delete-orphan",
        order_by="OpportunityNote.created_at.desc()",
    )
    stage_changes: Mapped[list[StageChange]] = rel(
        "StageChange", cascade="all, delete-orphan", order_by="StageChange.changed_at"
    )
    activities: Mapped[list[Activity]] = rel("Activity", back_populates="opportunity")

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        """Margin as a percentage of revenue; None when there is no revenue."""
        return percent(self.margin, self.revenue, places=1)

    @property
    def weighted_revenue(self) -> Decimal:
        return weighted(self.revenue, self.probability)


class ForecastLine(Model):
    """A product on an opportunity: one-off, or recurring (a monthly amount over N months)."""

    __tablename__ = "forecast_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = fk(
        "opportunities.id", ondelete="CASCADE", nullable=False, index=True
    )
    product_id: Mapped[int | None] = fk("opportunity_types.id")
    description: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    # For a recurring line these are per month, and `months` says how many.
    revenue: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    cost: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    months: Mapped[int] = mapped_column(Integer, default=1)
    status_id: Mapped[int | None] = fk("opportunity_statuses.id")
    include_in_forecast: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        CheckConstraint("months BETWEEN 1 AND 600", name="months_range"),
        amounts_in_range("revenue", "cost"),
    )

    opportunity: Mapped[Opportunity] = rel(Opportunity, back_populates="forecast_lines")
    product: Mapped[OpportunityType | None] = rel(OpportunityType)
    status: Mapped[OpportunityStatus | None] = rel(OpportunityStatus)

    @property
    def total_revenue(self) -> Decimal:
        return self.revenue * (self.months if self.recurring else 1)

    @property
    def total_cost(self) -> Decimal:
        return self.cost * (self.months if self.recurring else 1)

    @property
    def margin(self) -> Decimal:
        return self.total_revenue - self.total_cost

    @property
    def margin_percent(self) -> Decimal | None:
        """Margin as a percentage of the line's revenue; None when there is none."""
        return percent(self.margin, self.total_revenue, places=1)


class OpportunityTeamMember(Model):
    __tablename__ = "opportunity_team_members"

    opportunity_id: Mapped[int] = fk(
        "opportunities.id", ondelete="CASCADE", nullable=False, primary_key=True
    )
    member_id: Mapped[int] = fk("members.id", ondelete="CASCADE", nullable=False, primary_key=True)
    role: Mapped[str] = mapped_column(String(80), default="")

    member: Mapped[Member] = rel(Member)


class OpportunityContact(Model):
    __tablename__ = "opportunity_contacts"

    opportunity_id: Mapped[int] = fk(
        "opportunities.id", ondelete="CASCADE", nullable=False, primary_key=True
    )
    contact_id: Mapped[int] = fk(
        "contacts.id", ondelete="CASCADE", nullable=False, primary_key=True
    )
    role: Mapped[str] = mapped_column(String(80), default="")

    contact: Mapped[Contact] = rel(Contact)


class OpportunityNote(Model):
    """A stamped note: who, when, text. Appended, never edited."""

    __tablename__ = "opportunity_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = fk(
        "opportunities.id", ondelete="CASCADE", nullable=False, index=True
    )
    author_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()
    body: Mapped[str] = mapped_column(Text)

    author: Mapped[Member | None] = rel(Member)


class StageChange(Model):
    """One move on the funnel: from which stage to which, by whom and when."""

    __tablename__ = "stage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = fk("opportunities.id", ondelete="CASCADE", nullable=False)
    from_stage_id: Mapped[int | None] = fk("sales_stages.id")
    to_stage_id: Mapped[int] = fk("sales_stages.id", nullable=False)
    changed_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Derived from the opportunity's earlier and later moves, for the dashboard's funnel;
    # kept in step by crmlite.services.stage_history.
    from_stage_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    advanced_later: Mapped[bool] = mapped_column(Boolean, default=False)
    won_later: Mapped[bool] = mapped_column(Boolean, default=False)
    # Leaving Won or Lost: the amount won (or lost) it had, which the move cleared.
    former_amount: Mapped[Decimal | None] = mapped_column(Money)

    __table_args__ = (
        # An opportunity's path, in order, covering what the funnel reads of a member's moves.
        Index(
            "ix_stage_changes_opportunity",
            "opportunity_id",
            "changed_at",
            "to_stage_id",
            "from_stage_id",
            "advanced_later",
            "won_later",
            "from_stage_entered_at",
        ),
        # The funnel's moves into and out of each stage in a period, covering what it reads.
        Index(
            "ix_stage_changes_entries",
            "to_stage_id",
            "changed_at",
            "advanced_later",
            "won_later",
            "opportunity_id",
        ),
        Index(
            "ix_stage_changes_exits",
            "from_stage_id",
            "changed_at",
            "from_stage_entered_at",
            "opportunity_id",
        ),
    )

    from_stage: Mapped[SalesStage | None] = rel(SalesStage, foreign_keys=[from_stage_id])
    to_stage: Mapped[SalesStage] = rel(SalesStage, foreign_keys=[to_stage_id])
    changed_by: Mapped[Member | None] = rel(Member)


class RevenueQuota(Model):
    """A member's revenue (and optionally margin) quota for one month."""

    __tablename__ = "revenue_quotas"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = fk("members.id", ondelete="CASCADE", nullable=False)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    margin: Mapped[Decimal | None] = mapped_column(Money)

    __table_args__ = (
        UniqueConstraint("member_id", "year", "month"),
        CheckConstraint("month BETWEEN 1 AND 12", name="month_range"),
        CheckConstraint("year BETWEEN 1900 AND 2199", name="year_range"),
        amounts_in_range("revenue", "margin"),
    )

    member: Mapped[Member] = rel(Member)
