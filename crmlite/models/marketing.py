"""Campaigns and how they are classified (type and sub-type)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.extensions import db
from crmlite.models.base import ZERO, Money, created_at_column, fk, rel, updated_at_column
from crmlite.models.people import Location, Member


class CampaignStatus(StrEnum):
    PLANNED = "Planned"
    ACTIVE = "Active"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


class CampaignType(db.Model):
    __tablename__ = "campaign_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    sub_types: Mapped[list[CampaignSubType]] = rel(
        "CampaignSubType", back_populates="type", order_by="CampaignSubType.position"
    )


class CampaignSubType(db.Model):
    """A sub-type belongs to exactly one type."""

    __tablename__ = "campaign_subtypes"

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = fk("campaign_types.id", nullable=False)
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    # (id, type_id) is the target of campaigns' composite foreign key below.
    __table_args__ = (UniqueConstraint("type_id", "name"), UniqueConstraint("id", "type_id"))

    type: Mapped[CampaignType] = rel(CampaignType, back_populates="sub_types")


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type_id: Mapped[int] = fk("campaign_types.id", nullable=False, index=True)
    sub_type_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.PLANNED.value)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    owner_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    location_id: Mapped[int | None] = fk("locations.id", ondelete="SET NULL")
    budgeted_cost: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    actual_cost: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    expected_revenue: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Tracks that contacts and opportunities produced by this campaign join.
    contact_track_id: Mapped[int | None] = fk("tracks.id", ondelete="SET NULL")
    opportunity_track_id: Mapped[int | None] = fk("tracks.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    __table_args__ = (
        # The database itself refuses a sub-type of another type.
        ForeignKeyConstraint(
            ["sub_type_id", "type_id"], ["campaign_subtypes.id", "campaign_subtypes.type_id"]
        ),
        CheckConstraint("budgeted_cost >= 0 AND actual_cost >= 0", name="costs_not_negative"),
        CheckConstraint(
            "ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on", name="ends_after_start"
        ),
    )

    type: Mapped[CampaignType] = rel(CampaignType)
    sub_type: Mapped[CampaignSubType | None] = rel(
        CampaignSubType,
        primaryjoin="Campaign.sub_type_id == CampaignSubType.id",
        foreign_keys=[sub_type_id],
        viewonly=True,
    )
    owner: Mapped[Member | None] = rel(Member)
    location: Mapped[Location | None] = rel(Location)
