"""Campaigns: how they are named and classified, and what each one returned.

Figures for a campaign (all in SQL, grouped by campaign):
- opportunities created: opportunities whose campaign it is;
- pipeline: revenue of its open opportunities, and weighted by their probability;
- won: count and won amount of its won opportunities;
- gross profit: margin of its won opportunities less what winning them took: won amount −
  cost − time − expenses (services/time_expenses.py; time at the cost it was logged with);
- ROI = (gross profit − actual cost) ÷ actual cost, undefined when the cost is zero;
- cost per opportunity = actual cost ÷ opportunities created;
- win rate = won ÷ (won + lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, extract, func, select
from sqlalchemy.orm import joinedload

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    Campaign,
    CampaignStatus,
    CampaignSubType,
    CampaignType,
    Location,
    Member,
    Opportunity,
    OpportunityStatus,
    Track,
)
from crmlite.services import events
from crmlite.services.members import assignment_refusal
from crmlite.services.money import ZERO, cents, percent
from crmlite.services.parsing import clean_line
from crmlite.services.permissions import visible_activities
from crmlite.services.time_expenses import costs_per_opportunity

# The longest name of a campaign type or sub-type (what the column holds).
MAX_TYPE_NAME = 80
RECENT_ACTIVITIES = 100


class CampaignRefused(ValueError):
    """Input the rules refuse; `field` names the form field the message belongs to."""

    def __init__(self, message: str, field: str = "name") -> None:
        super().__init__(message)
        self.field = field


def proposed_name(type_id: int | None, sub_type_id: int | None, starts_on: date | None) -> str:
    """ "Type - Sub-type - Year", or "Type - Year" for a campaign without sub-type; the year
    is the one it starts, this year when it has no start. Empty until a type is chosen."""
    campaign_type = db.session.get(CampaignType, type_id) if type_id else None
    if campaign_type is None:
        return ""
    sub_type = db.session.get(CampaignSubType, sub_type_id) if sub_type_id else None
    year = (starts_on or date.today()).year
    return " - ".join(
        p for p in (campaign_type.name, sub_type.name if sub_type else None, str(year)) if p
    )


def sub_types_of(type_id: int | None, *, active_only: bool = True) -> list[CampaignSubType]:
    if not type_id:
        return []
    query = select(CampaignSubType).where(CampaignSubType.type_id == type_id)
    if active_only:
        query = query.where(CampaignSubType.active)
    return list(db.session.scalars(query.order_by(CampaignSubType.position, CampaignSubType.name)))


# ---------------------------------------------------------------- types and sub-types


def active_types() -> list[CampaignType]:
    """The types a campaign may be given, in their order."""
    return list(
        db.session.scalars(
            select(CampaignType).where(CampaignType.active).order_by(CampaignType.position)
        )
    )


def sub_types_in_use() -> set[int]:
    """Sub-types some campaign has: they may be deactivated, not deleted."""
    return {i for i in db.session.scalars(select(Campaign.sub_type_id).distinct()) if i is not None}


def _type_name(name: str, what: str) -> str:
    """A type or sub-type name as typed, on one line and cut to what the column holds."""
    name = clean_line(name)[:MAX_TYPE_NAME].strip()
    if not name:
        raise CampaignRefused(f"Enter the new {what}'s name.")
    return name


def _next_position(column: Any, *where: ColumnElement[bool]) -> int:
    """After the last one: new types and sub-types go to the end of their list."""
    return (db.session.scalar(select(func.max(column)).where(*where)) or 0) + 1


def add_type(name: str) -> CampaignType:
    """A new type at the end of the list; type names are unique, whatever their case."""
    name = _type_name(name, "type")
    if db.session.scalar(
        select(CampaignType.id).where(func.lower(CampaignType.name) == name.lower())
    ):
        raise CampaignRefused(f"There is a type called {name} already.")
    campaign_type = CampaignType(name=name, position=_next_position(CampaignType.position))
    db.session.add(campaign_type)
    db.session.flush()
    return campaign_type


def add_sub_type(campaign_type: CampaignType, name: str) -> CampaignSubType:
    """A new sub-type at the end of its type's list; unique within the type, whatever
    their case."""
    name = _type_name(name, "sub-type")
    if db.session.scalar(
        select(CampaignSubType.id).where(
            CampaignSubType.type_id == campaign_type.id,
            func.lower(CampaignSubType.name) == name.lower(),
        )
    ):
        raise CampaignRefused(f"{campaign_type.name} has a sub-type {name} already.")
    sub_type = CampaignSubType(
        type_id=campaign_type.id,
        name=name,
        position=_next_position(
            CampaignSubType.position, CampaignSubType.type_id == campaign_type.id
        ),
    )
    db.session.add(sub_type)
    db.session.flush()
    return sub_type


def toggle_active(item: CampaignType | CampaignSubType) -> None:
    """An inactive type or sub-type is no longer offered for campaigns; those that have it
    keep it."""
    item.active = not item.active
    db.session.flush()


def _refuse_if_used(item: CampaignType | CampaignSubType, used_by: Any) -> None:
    in_use = db.session.scalar(select(func.count(Campaign.id)).where(used_by == item.id))
    if in_use:
        raise CampaignRefused(
            f"{item.name} is used by {in_use} campaign(s), so it "
            "cannot be deleted. Make it inactive instead."
        )


def delete_type(campaign_type: CampaignType, *, by: Member) -> None:
    """Only a type no campaign has may go, with its sub-types; one in use may only be
    made inactive. Published (``Deleted``), the sub-types named."""
    _refuse_if_used(campaign_type, Campaign.type_id)
    name = campaign_type.name
    sub_types = sub_types_of(campaign_type.id, active_only=False)
    for sub_type in sub_types:
        db.session.delete(sub_type)
    db.session.delete(campaign_type)
    db.session.flush()
    if sub_types:
        name += f" (and its sub-types {', '.join(s.name for s in sub_types)})"
    events.publish(events.Deleted("campaign type", name, by=by, at=utcnow()))


def delete_sub_type(sub_type: CampaignSubType, *, by: Member) -> None:
    """Only a sub-type no campaign has may go; one in use may only be made inactive.
    Published (``Deleted``)."""
    _refuse_if_used(sub_type, Campaign.sub_type_id)
    of_type = db.session.get(CampaignType, sub_type.type_id)
    name = f"{of_type.name} - {sub_type.name}" if of_type is not None else sub_type.name
    db.session.delete(sub_type)
    db.session.flush()
    events.publish(events.Deleted("campaign sub-type", name, by=by, at=utcnow()))


# ---------------------------------------------------------------- campaigns


def save_campaign(campaign: Campaign | None, **values: Any) -> Campaign:
    """Create or change a campaign after checking the rules the database also enforces:
    the sub-type belongs to the type, costs are not negative, the owner is an active member
    (or the one it has), the location exists, its tracks are active (or the ones it has),
    the end is not before the start, the name is unique (proposed from type, sub-type and
    year when left empty)."""
    campaign_type = db.session.get(CampaignType, values["type_id"])
    if campaign_type is None:
        raise CampaignRefused("Choose a campaign type.", "type_id")
    sub_type = None
    if values.get("sub_type_id"):
        sub_type = db.session.get(CampaignSubType, values["sub_type_id"])
        if sub_type is None or sub_type.type_id != campaign_type.id:
            raise CampaignRefused(
                f"That sub-type is not one of {campaign_type.name}.", "sub_type_id"
            )
    for money in ("budgeted_cost", "actual_cost", "expected_revenue"):
        if (values.get(money) or ZERO) < 0:
            raise CampaignRefused("Amounts cannot be negative.", money)
    refusal = assignment_refusal(
        values.get("owner_id"),
        current_id=campaign.owner_id if campaign else None,
        what="The owner",
    )
    if refusal:
        raise CampaignRefused(refusal, "owner_id")
    location_id = values.get("location_id")
    if location_id and db.session.get(Location, location_id) is None:
        raise CampaignRefused("Location: choose one from the list.", "location_id")
    for name, label in (
        ("contact_track_id", "Track for its contacts"),
        ("opportunity_track_id", "Track for its opportunities"),
    ):
        if (track_id := values.get(name)) is None:
            continue
        track = db.session.get(Track, track_id)
        kept = campaign is not None and getattr(campaign, name) == track_id
        if track is None or not (track.active or kept):
            raise CampaignRefused(f"{label}: choose an active track from the list.", name)
    starts_on, ends_on = values.get("starts_on"), values.get("ends_on")
    if starts_on and ends_on and ends_on < starts_on:
        raise CampaignRefused("The end cannot be before the start.", "ends_on")
    name = (values.get("name") or "").strip() or proposed_name(
        campaign_type.id, sub_type.id if sub_type else None, starts_on
    )
    clash = select(Campaign.id).where(func.lower(Campaign.name) == name.lower())
    if campaign is not None:
        clash = clash.where(Campaign.id != campaign.id)
    if db.session.scalar(clash) is not None:
        raise CampaignRefused("Another campaign has this name.", "name")
    if campaign is None:
        campaign = Campaign(name=name, type_id=campaign_type.id)
        db.session.add(campaign)
    values = {**values, "name": name, "sub_type_id": sub_type.id if sub_type else None}
    for key, value in values.items():
        setattr(campaign, key, value)
    db.session.flush()
    return campaign


@dataclass
class Figures:
    """What a campaign (or a roll-up of campaigns) returned."""

    budgeted_cost: Decimal = ZERO
    actual_cost: Decimal = ZERO
    opportunities: int = 0
    pipeline: Decimal = ZERO
    weighted_pipeline: Decimal = ZERO
    won: int = 0
    lost: int = 0
    won_revenue: Decimal = ZERO
    gross_profit: Decimal = ZERO

    @property
    def roi(self) -> Decimal | None:
        """(Gross profit − cost) ÷ cost as a percentage; None when the cost is zero."""
        return percent(self.gross_profit - self.actual_cost, self.actual_cost)

    @property
    def roi_reason(self) -> str:
        return "" if self.actual_cost else "no cost recorded"

    @property
    def cost_per_opportunity(self) -> Decimal | None:
        if not self.opportunities:
            return None
        return cents(self.actual_cost / self.opportunities)

    @property
    def win_rate(self) -> Decimal | None:
        """Won ÷ (won + lost) as a percentage; None when nothing has closed yet."""
        return percent(self.won, self.won + self.lost)

    @property
    def budget_left(self) -> Decimal:
        return self.budgeted_cost - self.actual_cost

    def add(self, other: Figures) -> None:
        for name in (
            "budgeted_cost",
            "actual_cost",
            "opportunities",
            "pipeline",
            "weighted_pipeline",
            "won",
            "lost",
            "won_revenue",
            "gross_profit",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def figures(campaign_ids: list[int] | None = None) -> dict[int, Figures]:
    """Figures per campaign, in two queries whatever the number of campaigns."""
    statuses = {s.id: s for s in db.session.scalars(select(OpportunityStatus))}
    won_ids = [i for i, s in statuses.items() if s.is_won]
    lost_ids = [i for i, s in statuses.items() if s.is_lost]
    open_ids = [i for i, s in statuses.items() if not s.is_closed]
    is_won = Opportunity.status_id.in_(won_ids)
    is_open = Opportunity.status_id.in_(open_ids)
    won_amount = func.coalesce(Opportunity.won_amount, Opportunity.revenue)
    spent = costs_per_opportunity()

    def total(condition: Any, value: Any) -> Any:
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    query = (
        select(
            Campaign.id,
            Campaign.budgeted_cost,
            Campaign.actual_cost,
            func.count(Opportunity.id),
            total(is_open, Opportunity.revenue),
            total(is_open, Opportunity.revenue * Opportunity.probability / 100),
            total(is_won, 1),
            total(Opportunity.status_id.in_(lost_ids), 1),
            total(is_won, won_amount),
            total(is_won, won_amount - Opportunity.cost - func.coalesce(spent.c.spent, 0)),
        )
        .outerjoin(Opportunity, Opportunity.campaign_id == Campaign.id)
        .outerjoin(spent, spent.c.opportunity_id == Opportunity.id)
        .group_by(Campaign.id, Campaign.budgeted_cost, Campaign.actual_cost)
    )
    if campaign_ids is not None:
        query = query.where(Campaign.id.in_(campaign_ids))
    found: dict[int, Figures] = {}
    for (
        campaign_id,
        budget,
        cost,
        count,
        pipeline,
        weighted,
        won,
        lost,
        won_revenue,
        profit,
    ) in db.session.execute(query):
        found[campaign_id] = Figures(
            budgeted_cost=cents(budget),
            actual_cost=cents(cost),
            opportunities=count,
            pipeline=cents(pipeline),
            weighted_pipeline=cents(weighted),
            won=int(won),
            lost=int(lost),
            won_revenue=cents(won_revenue),
            gross_profit=cents(profit),
        )
    return found


@dataclass(frozen=True)
class AnalysisFilters:
    year: int | None = None
    type_id: int | None = None
    sub_type_id: int | None = None
    sort: str = "roi"

    def query_args(self) -> dict[str, Any]:
        """The filters set, for the analysis' URL (and its export's)."""
        return {k: v for k, v in vars(self).items() if v}


SORTS = {
    "name": ("Name", lambda c, f: c.name.lower()),
    "cost": ("Actual cost", lambda c, f: f.actual_cost),
    "opportunities": ("Opportunities", lambda c, f: f.opportunities),
    "pipeline": ("Pipeline", lambda c, f: f.pipeline),
    "won": ("Won revenue", lambda c, f: f.won_revenue),
    "profit": ("Gross profit", lambda c, f: f.gross_profit),
    "roi": ("ROI", lambda c, f: f.roi if f.roi is not None else Decimal("-1e12")),
}


@dataclass
class Rollup:
    label: str
    figures: Figures = field(default_factory=Figures)
    children: list[Rollup] = field(default_factory=list)


@dataclass
class Analysis:
    rows: list[tuple[Campaign, Figures]]
    total: Figures
    by_type: list[Rollup]


def campaign_year() -> Any:
    """A campaign's year: the year it starts, or it was created when it has no start."""
    return func.coalesce(extract("year", Campaign.starts_on), extract("year", Campaign.created_at))


def analysis(filters: AnalysisFilters) -> Analysis:
    """All campaigns matching the filters with their figures, sorted, with roll-ups per
    type and sub-type and a grand total."""
    query = select(Campaign).options(*_campaign_loads()).order_by(Campaign.name)
    conditions = []
    if filters.year:
        conditions.append(campaign_year() == filters.year)
    if filters.type_id:
        conditions.append(Campaign.type_id == filters.type_id)
    if filters.sub_type_id:
        conditions.append(Campaign.sub_type_id == filters.sub_type_id)
    if conditions:
        query = query.where(and_(*conditions))
    campaigns = list(db.session.scalars(query))
    all_figures = figures([c.id for c in campaigns])
    rows = [(c, all_figures.get(c.id, Figures())) for c in campaigns]
    key = SORTS.get(filters.sort, SORTS["roi"])[1]
    rows.sort(key=lambda row: key(*row), reverse=filters.sort != "name")
    total = Figures()
    types: dict[str, Rollup] = {}
    for campaign, figs in rows:
        total.add(figs)
        rollup = types.setdefault(campaign.type.name, Rollup(campaign.type.name))
        rollup.figures.add(figs)
        sub_name = campaign.sub_type.name if campaign.sub_type else "(no sub-type)"
        child = next((c for c in rollup.children if c.label == sub_name), None)
        if child is None:
            child = Rollup(sub_name)
            rollup.children.append(child)
        child.figures.add(figs)
    return Analysis(rows=rows, total=total, by_type=sorted(types.values(), key=lambda r: r.label))


def campaign_years() -> list[int]:
    """The years campaigns ran in, latest first (for the analysis' year filter)."""
    years = db.session.scalars(select(campaign_year()).distinct())
    return sorted({int(y) for y in years if y}, reverse=True)


def _campaign_loads() -> list[Any]:
    return [joinedload(Campaign.type), joinedload(Campaign.sub_type), joinedload(Campaign.owner)]


def statuses() -> list[str]:
    return [s.value for s in CampaignStatus]


# ---------------------------------------------------------------- a campaign's page


def tracks_of(campaign: Campaign) -> dict[str, Track | None]:
    """The tracks a campaign names: for its contacts and for its opportunities."""
    return {
        name: db.session.get(Track, track_id) if track_id else None
        for name, track_id in (
            ("contacts", campaign.contact_track_id),
            ("opportunities", campaign.opportunity_track_id),
        )
    }


def load_campaign(campaign_id: int) -> Campaign | None:
    """A campaign with its type, sub-type, owner and location."""
    return db.session.scalars(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .options(*_campaign_loads(), joinedload(Campaign.location))
    ).first()


def opportunities_of(campaign_id: int) -> list[Opportunity]:
    """The opportunities the campaign brought, newest first."""
    return list(
        db.session.scalars(
            select(Opportunity)
            .where(Opportunity.campaign_id == campaign_id)
            .options(
                joinedload(Opportunity.stage),
                joinedload(Opportunity.status),
                joinedload(Opportunity.company),
            )
            .order_by(Opportunity.created_at.desc())
        )
    )


def activities_of(
    campaign_id: int, viewer: Member, limit: int = RECENT_ACTIVITIES
) -> list[Activity]:
    """The campaign's latest activities the viewer may see (``activity.read``), latest due
    date first."""
    return list(
        db.session.scalars(
            select(Activity)
            .where(Activity.campaign_id == campaign_id, visible_activities(viewer))
            .options(joinedload(Activity.type), joinedload(Activity.assigned_to))
            .order_by(Activity.due_on.desc())
            .limit(limit)
        )
    )
