"""Reference lists shown in setup: stages, activity types, campaign types, track kinds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crmlite.extensions import db
from crmlite.models import (
    ActivityType,
    BusinessUnit,
    CampaignType,
    Location,
    Member,
    SalesStage,
    TrackKind,
)

_STAGES = select(SalesStage).order_by(SalesStage.position)


def stages() -> list[SalesStage]:
    return list(db.session.scalars(_STAGES))


def activity_types() -> list[ActivityType]:
    return list(db.session.scalars(select(ActivityType).order_by(ActivityType.position)))


def active_activity_types() -> list[ActivityType]:
    """The types offered for new activities, in the points table's order."""
    return list(
        db.session.scalars(
            select(ActivityType).where(ActivityType.active).order_by(ActivityType.position)
        )
    )


def campaign_types() -> list[CampaignType]:
    return list(
        db.session.scalars(
            select(CampaignType)
            .options(selectinload(CampaignType.sub_types))
            .order_by(CampaignType.position)
        )
    )


def track_kinds() -> list[TrackKind]:
    return list(db.session.scalars(select(TrackKind).order_by(TrackKind.position)))


def locations() -> list[Location]:
    return list(db.session.scalars(select(Location).order_by(Location.name)))


def business_units() -> list[BusinessUnit]:
    return list(db.session.scalars(select(BusinessUnit).order_by(BusinessUnit.name)))


def members() -> list[Member]:
    return list(
        db.session.scalars(
            select(Member)
            .options(selectinload(Member.location), selectinload(Member.business_unit))
            .order_by(Member.active.desc(), Member.name)
        )
    )
