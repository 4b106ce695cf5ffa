"""The opportunity page's rules: editing its fields, forecast lines, team, extra contacts
and notes, and the list of stalled opportunities.

Plain functions: they take models and plain values, change models and ``flush()``; they
never commit and never look at the request. A refused change raises ``InvalidFields``
(messages per field, nothing changed) or ``ChangedMeanwhile`` (someone saved first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import groupby
from zoneinfo import ZoneInfo

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
    OpportunityStatus,
    OpportunityTeamMember,
    OpportunityType,
    Rating,
    SalesStage,
    StageChange,
)
from crmlite.models.base import ZERO
from crmlite.services.funnel import ChangedMeanwhile
from crmlite.services.next_steps import stalled

MAX_NOTE_LENGTH = 10_000

__all__ = ["ChangedMeanwhile", "InvalidFields"]


class InvalidFields(ValueError):
    """The rules refuse the change; ``errors`` maps a field name to a message for the person."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# ---------------------------------------------------------------- loading the page


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


def activities_of(opportunity_id: int) -> tuple[list[Activity], list[Activity]]:
    """The opportunity's activities in one query: open ones by due date and time, then done
    ones, most recently closed first."""
    query = (
        select(Activity)
        .where(Activity.opportunity_id == opportunity_id)
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


# ---------------------------------------------------------------- choices for the forms


def opportunity_types(keep_id: int | None = None) -> list[OpportunityType]:
    """Active types, plus the one in use even if it was retired since."""
    return list(
        db.session.scalars(
            select(OpportunityType)
            .where((OpportunityType.active) | (OpportunityType.id == (keep_id or 0)))
            .order_by(OpportunityType.name)
        )
    )


def line_statuses() -> list[OpportunityStatus]:
    return list(
        db.session.scalars(
            select(OpportunityStatus)
            .where(OpportunityStatus.active)
            .order_by(OpportunityStatus.position)
        )
    )


def active_members(keep_ids: Iterable[int | None] = ()) -> list[Member]:
    """Members who may be assigned, plus any already assigned who has left since."""
    keep = [i for i in keep_ids if i]
    return list(
        db.session.scalars(
            select(Member).where(Member.active | Member.id.in_(keep)).order_by(Member.name)
        )
    )


def campaigns() -> list[Campaign]:
    return list(db.session.scalars(select(Campaign).order_by(Campaign.name)))


def companies() -> list[Company]:
    return list(db.session.scalars(select(Company).order_by(Company.name)))


def contacts_of(company_id: int | None) -> list[Contact]:
    """The contacts of a company, by name; none when no company is chosen."""
    if not company_id:
        return []
    return list(
        db.session.scalars(
            select(Contact)
            .where(Contact.company_id == company_id)
            .order_by(Contact.first_name, Contact.last_name, Contact.id)
        )
    )


# ---------------------------------------------------------------- the fields


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


def _exists(model: type, ident: int | None) -> bool:
    return ident is None or db.session.get(model, ident) is not None


def _check_member(
    errors: dict[str, str], field: str, member_id: int | None, current_id: int | None
) -> None:
    if member_id is None or member_id == current_id:
        return
    member = db.session.get(Member, member_id)
    if member is None:
        errors[field] = "Choose a member of the team."
    elif not member.active:
        errors[field] = f"{member.name} no longer works here; choose an active member."


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
    if values.type_id != opportunity.type_id and not _exists(OpportunityType, values.type_id):
        errors["type_id"] = "Choose a type from the list."
    if not _exists(Campaign, values.campaign_id):
        errors["campaign_id"] = "Choose a campaign from the list."
    if not _exists(Location, values.location_id):
        errors["location_id"] = "Choose a location from the list."
    if not _exists(BusinessUnit, values.business_unit_id):
        errors["business_unit_id"] = "Choose a business unit from the list."
    _check_member(
        errors, "account_manager_id", values.account_manager_id, opportunity.account_manager_id
    )
    _check_member(
        errors, "sales_associate_id", values.sales_associate_id, opportunity.sales_associate_id
    )
    if not _exists(Company, values.company_id):
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


# ---------------------------------------------------------------- forecast lines


@dataclass(frozen=True)
class LineValues:
    """A forecast line as entered: for a recurring line the amounts are per month."""

    product_id: int | None
    description: str
    recurring: bool
    revenue: Decimal
    cost: Decimal
    months: int
    status_id: int | None
    include_in_forecast: bool


def recompute_totals(opportunity: Opportunity) -> None:
    """The opportunity's revenue and cost are the sums of its forecast lines' totals (every
    line counts; "include in forecast" only concerns the forecast reports). Without lines
    left they are 0.00 until entered again by hand."""
    lines = opportunity.forecast_lines
    opportunity.revenue = sum((line.total_revenue for line in lines), ZERO)
    opportunity.cost = sum((line.total_cost for line in lines), ZERO)


def _check_line(values: LineValues) -> None:
    errors: dict[str, str] = {}
    if values.months < 1:
        errors["months"] = "A line runs for at least 1 month."
    if values.revenue < 0:
        errors["revenue"] = "The revenue cannot be negative."
    if values.cost < 0:
        errors["cost"] = "The cost cannot be negative."
    if not _exists(OpportunityType, values.product_id):
        errors["product_id"] = "Choose a product from the list."
    if not _exists(OpportunityStatus, values.status_id):
        errors["status_id"] = "Choose a status from the list."
    if errors:
        raise InvalidFields(errors)


def _apply_line(line: ForecastLine, values: LineValues) -> None:
    line.product_id = values.product_id
    line.description = values.description.strip()
    line.recurring = values.recurring
    line.revenue = values.revenue
    line.cost = values.cost
    # A one-off line has no duration; 1 keeps the stored row honest.
    line.months = values.months if values.recurring else 1
    line.status_id = values.status_id
    line.include_in_forecast = values.include_in_forecast


def add_line(
    opportunity: Opportunity,
    values: LineValues,
    *,
    by: Member,
    expected_version: int | None,
) -> ForecastLine:
    """Add a forecast line at the end; the opportunity's revenue and cost follow."""
    check_version(opportunity, expected_version)
    _check_line(values)
    line = ForecastLine(
        position=max((x.position for x in opportunity.forecast_lines), default=0) + 1
    )
    _apply_line(line, values)
    opportunity.forecast_lines.append(line)
    recompute_totals(opportunity)
    opportunity.updated_by_id = by.id
    db.session.flush()
    return line


def find_line(opportunity: Opportunity, line_id: int) -> ForecastLine | None:
    return next((x for x in opportunity.forecast_lines if x.id == line_id), None)


def update_line(
    opportunity: Opportunity,
    line: ForecastLine,
    values: LineValues,
    *,
    by: Member,
    expected_version: int | None,
) -> ForecastLine:
    """Change a forecast line; the opportunity's revenue and cost follow."""
    check_version(opportunity, expected_version)
    _check_line(values)
    _apply_line(line, values)
    recompute_totals(opportunity)
    opportunity.updated_by_id = by.id
    db.session.flush()
    return line


def remove_line(
    opportunity: Opportunity, line: ForecastLine, *, by: Member, expected_version: int | None
) -> None:
    """Remove a forecast line; the opportunity's revenue and cost follow."""
    check_version(opportunity, expected_version)
    opportunity.forecast_lines.remove(line)
    recompute_totals(opportunity)
    opportunity.updated_by_id = by.id
    db.session.flush()


# ---------------------------------------------------------------- team and extra contacts
# These rows hang off the opportunity without changing it: adding a helper does not make
# a fields form someone has open out of date.


def add_team_member(opportunity: Opportunity, member_id: int | None, role: str) -> None:
    """Add a member to the opportunity's team, once, with the role they play."""
    member = db.session.get(Member, member_id) if member_id else None
    if member is None or not member.active:
        raise InvalidFields({"member_id": "Choose an active member of the team."})
    if any(row.member_id == member.id for row in opportunity.team):
        raise InvalidFields({"member_id": f"{member.name} is already on this opportunity's team."})
    opportunity.team.append(
        OpportunityTeamMember(member_id=member.id, member=member, role=role.strip())
    )
    db.session.flush()


def remove_team_member(opportunity: Opportunity, member_id: int) -> bool:
    row = next((r for r in opportunity.team if r.member_id == member_id), None)
    if row is None:
        return False
    opportunity.team.remove(row)
    db.session.flush()
    return True


def add_extra_contact(opportunity: Opportunity, contact_id: int | None, role: str) -> None:
    """Add another contact involved in the sale (decision maker, technical contact…), once."""
    contact = db.session.get(Contact, contact_id) if contact_id else None
    if contact is None:
        raise InvalidFields({"contact_id": "Choose a contact from the list."})
    if contact.id == opportunity.contact_id:
        raise InvalidFields({"contact_id": f"{contact.name} is already the main contact."})
    if any(row.contact_id == contact.id for row in opportunity.extra_contacts):
        raise InvalidFields({"contact_id": f"{contact.name} is already listed here."})
    opportunity.extra_contacts.append(
        OpportunityContact(contact_id=contact.id, contact=contact, role=role.strip())
    )
    db.session.flush()


def remove_extra_contact(opportunity: Opportunity, contact_id: int) -> bool:
    row = next((r for r in opportunity.extra_contacts if r.contact_id == contact_id), None)
    if row is None:
        return False
    opportunity.extra_contacts.remove(row)
    db.session.flush()
    return True


def extra_contact_choices(opportunity: Opportunity) -> list[Contact]:
    """Contacts of the opportunity's company not yet on it."""
    taken = {row.contact_id for row in opportunity.extra_contacts} | {opportunity.contact_id}
    return [c for c in contacts_of(opportunity.company_id) if c.id not in taken]


# ---------------------------------------------------------------- notes


def add_note(
    opportunity: Opportunity, body: str, *, by: Member, now: datetime | None = None
) -> OpportunityNote:
    """Append a stamped note (who, when, text). Notes are never edited or removed."""
    text = body.strip()
    if not text:
        raise InvalidFields({"body": "Write the note first."})
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidFields({"body": f"Keep a note under {MAX_NOTE_LENGTH:,} characters."})
    note = OpportunityNote(
        opportunity_id=opportunity.id,
        author_id=by.id,
        created_at=now or datetime.now(UTC),
        body=text,
    )
    db.session.add(note)
    db.session.flush()
    return note


# ---------------------------------------------------------------- stalled opportunities


@dataclass(frozen=True)
class StalledOpportunity:
    opportunity: Opportunity
    days_in_stage: int


@dataclass(frozen=True)
class StalledGroup:
    account_manager: Member | None
    opportunities: list[StalledOpportunity]


def stalled_by_account_manager(
    today: date, tz: ZoneInfo, account_manager_id: int | None = None
) -> list[StalledGroup]:
    """Open opportunities without a next step (no open activity due today or later),
    grouped by account manager (by name; unassigned last), longest in their stage first.
    One query whatever their number."""
    query = (
        select(Opportunity)
        .outerjoin(Member, Member.id == Opportunity.account_manager_id)
        .where(stalled(today))
        .options(
            joinedload(Opportunity.account_manager),
            joinedload(Opportunity.stage),
            joinedload(Opportunity.company),
        )
        .order_by(
            Member.name.is_(None),
            Member.name,
            Member.id,
            Opportunity.stage_entered_at,
            Opportunity.id,
        )
    )
    if account_manager_id is not None:
        query = query.where(Opportunity.account_manager_id == account_manager_id)
    rows = list(db.session.scalars(query).unique())
    groups = []
    for manager_id, items in groupby(rows, key=lambda o: o.account_manager_id):
        opportunities = list(items)
        groups.append(
            StalledGroup(
                account_manager=opportunities[0].account_manager if manager_id else None,
                opportunities=[
                    StalledOpportunity(o, (today - o.stage_entered_at.astimezone(tz).date()).days)
                    for o in opportunities
                ],
            )
        )
    return groups
