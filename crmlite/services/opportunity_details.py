"""An opportunity's page: loading it with everything it shows, its activities and next
step, and editing its fields.

Plain functions: they take models and plain values, change models and ``flush()``; they
never commit and never look at the request. A refused change raises ``InvalidFields``
(messages per field, nothing changed) or ``ChangedMeanwhile`` (someone saved first). The
forecast lines, the team and extra contacts, and the notes have modules of their own
(forecast_lines, opportunity_people, opportunity_notes); the lists the forms offer are in
services/pick_lists.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import case, select
from sqlalchemy.orm import joinedload, selectinload

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityStatus,
    BusinessUnit,
    Campaign,
    Company,
    Contact,
    ForecastLine,
    Location,
    Member,
    Opportunity,
    OpportunityContact,
    OpportunityNote,
    OpportunityTeamMember,
    OpportunityType,
    Rating,
    SalesStage,
    StageChange,
)
from crmlite.services.funnel import ChangedMeanwhile
from crmlite.services.members import assignment_refusal
from crmlite.services.permissions import visible_activities


class InvalidFields(ValueError):
    """The rules refuse the change; ``errors`` maps a field name to a message for the person."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def load_opportunity(opportunity_id: int) -> Opportunity | None:
    """The opportunity with everything its page shows, in a fixed number of queries
    (one per collection), whatever the number of lines, notes or history rows."""
    query = (
        select(Opportunity)
        .where(Opportunity.id == opportunity_id)
        .options(
            joinedload(Opportunity.type),
            joinedload(Opportunity.status),
            joinedload(Opportunity.stage),
            joinedload(Opportunity.campaign),
            joinedload(Opportunity.account_manager),
            joinedload(Opportunity.sales_associate),
            joinedload(Opportunity.updated_by),
            joinedload(Opportunity.company),
            joinedload(Opportunity.contact),
            joinedload(Opportunity.location),
            joinedload(Opportunity.business_unit),
            selectinload(Opportunity.forecast_lines).options(
                joinedload(ForecastLine.product), joinedload(ForecastLine.status)
            ),
            selectinload(Opportunity.team).joinedload(OpportunityTeamMember.member),
            selectinload(Opportunity.extra_contacts).joinedload(OpportunityContact.contact),
            selectinload(Opportunity.notes).joinedload(OpportunityNote.author),
            selectinload(Opportunity.stage_changes).options(
                joinedload(StageChange.from_stage),
                joinedload(StageChange.to_stage),
                joinedload(StageChange.changed_by),
            ),
        )
        # A reload after a commit or a refused change shows what the database holds.
        .execution_options(populate_existing=True)
    )
    return db.session.scalars(query).unique().first()


def activities_of(opportunity_id: int, viewer: Member) -> tuple[list[Activity], list[Activity]]:
    """The opportunity's activities the viewer may see (``activity.read``) in one query:
    open ones by due date and time, then done ones, most recently closed first."""
    query = (
        select(Activity)
        .where(Activity.opportunity_id == opportunity_id, visible_activities(viewer))
        .options(joinedload(Activity.type), joinedload(Activity.assigned_to))
        .order_by(
            case((Activity.status == ActivityStatus.OPEN.value, 0), else_=1),
            Activity.due_on,
            Activity.starts_at.is_(None),
            Activity.starts_at,
            Activity.closed_at.desc(),
            Activity.id,
        )
    )
    activities = list(db.session.scalars(query))
    open_ones = [a for a in activities if a.is_open]
    done = sorted(
        (a for a in activities if not a.is_open),
        key=lambda a: a.closed_at or datetime.min.replace(tzinfo=UTC),
        reverse=True,
    )
    return open_ones, done


def next_step_among(open_activities: list[Activity], today: date) -> Activity | None:
    """The next step: the earliest open activity due today or later. Picked from the open
    activities as ``activities_of`` orders them, which is ``next_steps.next_step``'s order (an
    open activity has no ``closed_at``), so the page needs no query of its own for it."""
    return next((a for a in open_activities if a.due_on >= today), None)


def totals_are_computed(opportunity: Opportunity) -> bool:
    """Revenue and cost are the sums of the forecast lines when there are any."""
    return bool(opportunity.forecast_lines)


@dataclass(frozen=True)
class FieldValues:
    """What a person entered in the opportunity's fields form. ``revenue`` and ``cost`` are
    ignored when forecast lines exist (their sums rule)."""

    name: str
    type_id: int | None
    description: str
    revenue: Decimal | None
    cost: Decimal | None
    expected_close_on: date | None
    rating: str
    probability: int | None
    use_stage_default: bool
    source: str
    campaign_id: int | None
    account_manager_id: int | None
    sales_associate_id: int | None
    company_id: int | None
    contact_id: int | None
    location_id: int | None
    business_unit_id: int | None


def check_version(opportunity: Opportunity, expected_version: int | None) -> None:
    """A change based on an outdated view of the opportunity is refused."""
    if expected_version != opportunity.version:
        raise ChangedMeanwhile


def exists(model: type, ident: int | None) -> bool:
    """Nothing chosen, or a record that exists."""
    return ident is None or db.session.get(model, ident) is not None


def offered(
    model: type[Location] | type[BusinessUnit], ident: int | None, current: int | None
) -> bool:
    """Nothing chosen, the one the record has already, or an active one."""
    if ident is None or ident == current:
        return True
    active = db.session.scalar(select(model.active).where(model.id == ident))
    return bool(active)


def update_fields(
    opportunity: Opportunity, values: FieldValues, *, by: Member, expected_version: int | None
) -> Opportunity:
    """Save the opportunity's fields.

    - Refused as a whole (nothing changes) when it was changed since the person opened it,
      or when any value breaks a rule: the name is required; amounts are not negative;
      every chosen record exists; members are active; the contact works at the chosen
      company; the probability is 0-100 %.
    - Revenue and cost are the sums of the forecast lines when there are any; they are
      entered here only when there are none.
    - Setting the probability by hand marks it overridden, so stage moves leave it alone;
      "use the stage's default" puts the stage's default back and clears the mark.
    """
    check_version(opportunity, expected_version)
    errors: dict[str, str] = {}
    name = values.name.strip()
    if not name:
        errors["name"] = "Enter the opportunity's name."
    computed = totals_are_computed(opportunity)
    if not computed:
        for field in ("revenue", "cost"):
            amount = getattr(values, field)
            if amount is None:
                errors[field] = f"Enter the {field} (0.00 if none)."
            elif amount < 0:
                errors[field] = f"The {field} cannot be negative."
    if values.rating not in {r.value for r in Rating}:
        errors["rating"] = "Choose Hot, Medium or Cold."
    if not values.use_stage_default and (
        values.probability is None or not 0 <= values.probability <= 100
    ):
        errors["probability"] = "Enter a probability from 0 to 100 %, or use the stage's default."
    if values.type_id != opportunity.type_id and not exists(OpportunityType, values.type_id):
        errors["type_id"] = "Choose a type from the list."
    if not exists(Campaign, values.campaign_id):
        errors["campaign_id"] = "Choose a campaign from the list."
    # An inactive location or business unit is offered only to the deal that has it.
    if not offered(Location, values.location_id, opportunity.location_id):
        errors["location_id"] = "Choose a location from the list."
    if not offered(BusinessUnit, values.business_unit_id, opportunity.business_unit_id):
        errors["business_unit_id"] = "Choose a business unit from the list."
    for field, what, chosen, current in (
        ("account_manager_id", "The account manager", values.account_manager_id,
         opportunity.account_manager_id),
        ("sales_associate_id", "The sales associate", values.sales_associate_id,
         opportunity.sales_associate_id),
    ):  # fmt: skip
        refusal = assignment_refusal(chosen, current_id=current, what=what)
        if refusal:
            errors[field] = refusal
    if not exists(Company, values.company_id):
        errors["company_id"] = "Choose a company from the list."
    if values.contact_id is not None:
        contact = db.session.get(Contact, values.contact_id)
        if contact is None:
            errors["contact_id"] = "Choose a contact from the list."
        elif values.company_id is not None and contact.company_id != values.company_id:
            errors["contact_id"] = f"{contact.name} does not work at the chosen company."
    if errors:
        raise InvalidFields(errors)

    opportunity.name = name
    opportunity.type_id = values.type_id
    opportunity.description = values.description.strip()
    if not computed:
        assert values.revenue is not None and values.cost is not None
        opportunity.revenue = values.revenue
        opportunity.cost = values.cost
    opportunity.expected_close_on = values.expected_close_on
    opportunity.rating = values.rating
    if values.use_stage_default:
        stage = db.session.get(SalesStage, opportunity.stage_id)
        assert stage is not None
        opportunity.probability = stage.default_probability
        opportunity.probability_overridden = False
    elif values.probability != opportunity.probability:
        assert values.probability is not None
        opportunity.probability = values.probability
        opportunity.probability_overridden = True
    opportunity.source = values.source.strip()
    opportunity.campaign_id = values.campaign_id
    opportunity.account_manager_id = values.account_manager_id
    opportunity.sales_associate_id = values.sales_associate_id
    opportunity.company_id = values.company_id
    opportunity.contact_id = values.contact_id
    opportunity.location_id = values.location_id
    opportunity.business_unit_id = values.business_unit_id
    opportunity.updated_by_id = by.id
    db.session.flush()
    return opportunity
