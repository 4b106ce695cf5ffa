"""What each list page exports: its columns and all its rows, read through the same
service query as the page (same filters, same permissions), streamed.

A ``Table`` is a title, typed columns and an iterator of rows. The rows come straight from
SQL in batches (``yield_per``), so an export of 10,000 opportunities is a constant number
of queries and never holds them all in memory; the web layer (``web/exporting.py``) writes
them as CSV or XLSX. Values stay typed here — amounts as ``Decimal``, days as ``date``,
moments as aware ``datetime`` — and each format writes them its own way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityType,
    BusinessUnit,
    Campaign,
    Company,
    Contact,
    Location,
    Member,
    Opportunity,
    OpportunityStatus,
    OpportunityType,
    SalesStage,
)
from crmlite.services import (
    activities,
    attainment,
    board,
    campaigns,
    companies,
    deal_lists,
    forecast,
    hygiene,
    stalled_opportunities,
)
from crmlite.services.money import cents
from crmlite.services.periods import month_name
from crmlite.services.statuses import is_open

BATCH = 1000  # rows fetched from the database at a time


class Kind(StrEnum):
    """How a column's values are written."""

    TEXT = "text"
    AMOUNT = "amount"  # Decimal money, two places
    NUMBER = "number"  # a whole number (a count, points, a percentage)
    DATE = "date"
    MOMENT = "moment"  # an aware datetime, written in the team's time zone


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = Kind.TEXT


@dataclass
class Table:
    """An export: its file name (without extension), columns and rows (one value per
    column, None for an empty cell)."""

    name: str
    columns: list[Column]
    rows: Iterable[tuple[Any, ...]]


def _text(*titles: str) -> list[Column]:
    return [Column(title) for title in titles]


def _streamed(query: Any) -> Iterator[Any]:
    """The query's rows, fetched in batches (a server-side cursor on PostgreSQL) on a
    connection of their own, opened when the first row is asked for: a streamed response
    reads them after its view has returned and its session has ended."""
    engine = db.engine  # resolved now, inside the app context

    def rows() -> Iterator[Any]:
        with engine.connect() as connection:
            yield from connection.execution_options(yield_per=BATCH).execute(query)

    return rows()


# ---------------------------------------------------------------- opportunities (the board)


OPPORTUNITY_COLUMNS = [
    Column("Id", Kind.NUMBER),
    *_text("Name", "Stage", "Status", "Type", "Company", "Contact", "Account manager"),
    Column("Revenue", Kind.AMOUNT),
    Column("Cost", Kind.AMOUNT),
    Column("Margin", Kind.AMOUNT),
    Column("Probability %", Kind.NUMBER),
    Column("Won amount", Kind.AMOUNT),
    Column("Lost amount", Kind.AMOUNT),
    Column("Lost reason"),
    Column("Expected close", Kind.DATE),
    Column("Closed at", Kind.MOMENT),
    *_text("Rating", "Next step", "Source", "Campaign", "Location", "Business unit"),
    Column("Next open activity", Kind.DATE),
    Column("Updated at", Kind.MOMENT),
]


def opportunities(filters: board.BoardFilters, today: date, tz: ZoneInfo) -> Table:
    """Every opportunity the board shows with these filters (every column, all its cards,
    by stage), with the names of what it refers to joined in: one query, streamed. "Next
    step" is the card's state (stalled, overdue, today, scheduled, won, lost)."""
    contact_name = Contact.first_name + " " + Contact.last_name
    query = (
        select(
            Opportunity.id,
            Opportunity.name,
            SalesStage.name,
            OpportunityStatus.name,
            OpportunityType.name,
            Company.name,
            contact_name,
            Member.name,
            Opportunity.revenue,
            Opportunity.cost,
            Opportunity.won_amount,
            Opportunity.lost_amount,
            Opportunity.lost_reason,
            Opportunity.expected_close_on,
            Opportunity.closed_at,
            Opportunity.rating,
            Opportunity.probability,
            Opportunity.source,
            Campaign.name,
            Location.name,
            BusinessUnit.name,
            Opportunity.first_open_activity_on,
            Opportunity.last_open_activity_on,
            Opportunity.updated_at,
            SalesStage.is_won,
            SalesStage.is_lost,
        )
        .join(SalesStage, SalesStage.id == Opportunity.stage_id)
        .join(OpportunityStatus, OpportunityStatus.id == Opportunity.status_id)
        .outerjoin(OpportunityType, OpportunityType.id == Opportunity.type_id)
        .outerjoin(Company, Company.id == Opportunity.company_id)
        .outerjoin(Contact, Contact.id == Opportunity.contact_id)
        .outerjoin(Member, Member.id == Opportunity.account_manager_id)
        .outerjoin(Campaign, Campaign.id == Opportunity.campaign_id)
        .outerjoin(Location, Location.id == Opportunity.location_id)
        .outerjoin(BusinessUnit, BusinessUnit.id == Opportunity.business_unit_id)
        .order_by(SalesStage.position, Opportunity.closed_at.desc(), Opportunity.stage_entered_at)
        .order_by(Opportunity.id)
    )
    query = board.on_board(query, filters, today, tz)

    streamed = _streamed(query)

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in streamed:
            (ident, name, stage, status, kind, company, contact, manager, revenue, cost) = r[:10]
            won, lost, lost_reason, close_on, closed_at, rating, probability, source = r[10:18]
            campaign, location, unit, first_open, last_open, updated_at, is_won, is_lost = r[18:]
            state = board.card_state(is_won, is_lost, first_open, last_open, today)
            yield (
                ident,
                name,
                stage,
                status,
                kind,
                company,
                contact,
                manager,
                revenue,
                cost,
                cents(revenue - cost),
                probability,
                won,
                lost,
                lost_reason,
                close_on,
                closed_at,
                rating,
                state,
                source,
                campaign,
                location,
                unit,
                first_open,
                updated_at,
            )

    return Table("opportunities", OPPORTUNITY_COLUMNS, rows())


# ---------------------------------------------------------------- companies and contacts


COMPANY_COLUMNS = [
    Column("Id", Kind.NUMBER),
    *_text("Name", "Phone", "E-mail", "Website", "Industry", "Account manager"),
    *_text("Location", "Business unit", "Street", "City", "Region", "Postal code", "Country"),
    Column("Open opportunities", Kind.NUMBER),
    Column("Created at", Kind.MOMENT),
]


def company_rows(q: str) -> Table:
    """The companies list for the search ``q``, all of it, with the number of open
    opportunities of each counted in the same query."""
    open_counts = (
        select(Opportunity.company_id, func.count(Opportunity.id).label("open_count"))
        .where(is_open(), Opportunity.company_id.is_not(None))
        .group_by(Opportunity.company_id)
        .subquery()
    )
    query = (
        select(
            Company.id,
            Company.name,
            Company.phone,
            Company.email,
            Company.website,
            Company.industry,
            Member.name,
            Location.name,
            BusinessUnit.name,
            Company.street,
            Company.city,
            Company.region,
            Company.postal_code,
            Company.country,
            func.coalesce(open_counts.c.open_count, 0),
            Company.created_at,
        )
        .outerjoin(Member, Member.id == Company.account_manager_id)
        .outerjoin(Location, Location.id == Company.location_id)
        .outerjoin(BusinessUnit, BusinessUnit.id == Company.business_unit_id)
        .outerjoin(open_counts, open_counts.c.company_id == Company.id)
    )
    query = companies.companies_listed(query, q)
    return Table("companies", COMPANY_COLUMNS, (tuple(r) for r in _streamed(query)))


CONTACT_COLUMNS = [
    Column("Id", Kind.NUMBER),
    *_text("First name", "Last name", "Title", "Company", "E-mail", "Phone", "Mobile"),
    *_text("Street", "City", "Region", "Postal code", "Country"),
    Column("Unsubscribed at", Kind.MOMENT),
    Column("Bounced at", Kind.MOMENT),
    Column("Created at", Kind.MOMENT),
]


def contact_rows(q: str) -> Table:
    """The contacts list for the search ``q``, all of it."""
    query = select(
        Contact.id,
        Contact.first_name,
        Contact.last_name,
        Contact.title,
        Company.name,
        Contact.email,
        Contact.phone,
        Contact.mobile,
        Contact.street,
        Contact.city,
        Contact.region,
        Contact.postal_code,
        Contact.country,
        Contact.unsubscribed_at,
        Contact.bounced_at,
        Contact.created_at,
    ).outerjoin(Company, Company.id == Contact.company_id)
    query = companies.contacts_listed(query, q)
    return Table("contacts", CONTACT_COLUMNS, (tuple(r) for r in _streamed(query)))


# ---------------------------------------------------------------- activities


ACTIVITY_COLUMNS = [
    Column("Id", Kind.NUMBER),
    *_text("Subject", "Type code", "Type", "Status", "Assigned to", "Assigned by"),
    Column("Due", Kind.DATE),
    Column("Starts at", Kind.MOMENT),
    Column("Ends at", Kind.MOMENT),
    *_text("Where", "Company", "Contact", "Phone", "Opportunity", "Campaign"),
    Column("Closed at", Kind.MOMENT),
    Column("Closed by"),
    Column("Points earned", Kind.NUMBER),
]


def activity_rows(filters: activities.ActivityFilters, today: date) -> Table:
    """The activity list with these filters, all of it, in its order (the filters carry
    whose list it is, which the view checked: a rep's own, or whoever a manager asked
    for)."""
    assigned_by = aliased(Member)
    closed_by = aliased(Member)
    query = (
        select(
            Activity.id,
            Activity.subject,
            ActivityType.code,
            ActivityType.name,
            Activity.status,
            Member.name,
            assigned_by.name,
            Activity.due_on,
            Activity.starts_at,
            Activity.ends_at,
            Activity.place,
            Company.name,
            Contact.first_name + " " + Contact.last_name,
            Activity.phone,
            Opportunity.name,
            Campaign.name,
            Activity.closed_at,
            closed_by.name,
            Activity.points_earned,
        )
        .join(ActivityType, ActivityType.id == Activity.type_id)
        .join(Member, Member.id == Activity.assigned_to_id)
        .outerjoin(assigned_by, assigned_by.id == Activity.assigned_by_id)
        .outerjoin(closed_by, closed_by.id == Activity.closed_by_id)
        .outerjoin(Company, Company.id == Activity.company_id)
        .outerjoin(Contact, Contact.id == Activity.contact_id)
        .outerjoin(Opportunity, Opportunity.id == Activity.opportunity_id)
        .outerjoin(Campaign, Campaign.id == Activity.campaign_id)
    )
    query = activities.listed(query, filters, today)
    return Table("activities", ACTIVITY_COLUMNS, (tuple(r) for r in _streamed(query)))


# ---------------------------------------------------------------- campaigns


CAMPAIGN_COLUMNS = [
    Column("Id", Kind.NUMBER),
    *_text("Campaign", "Type", "Sub-type", "Status"),
    Column("Starts", Kind.DATE),
    Column("Actual cost", Kind.AMOUNT),
    Column("Budget", Kind.AMOUNT),
    Column("Opportunities", Kind.NUMBER),
    Column("Pipeline", Kind.AMOUNT),
    Column("Weighted", Kind.AMOUNT),
    Column("Won", Kind.NUMBER),
    Column("Won revenue", Kind.AMOUNT),
    Column("Gross profit", Kind.AMOUNT),
    Column("ROI %", Kind.AMOUNT),
    Column("Cost / opportunity", Kind.AMOUNT),
    Column("Win rate %", Kind.AMOUNT),
]


def campaign_rows(filters: campaigns.AnalysisFilters) -> Table:
    """The campaign analysis with these filters, in its order, each campaign's figures
    (the figures are computed for all campaigns at once, as the page does)."""
    result = campaigns.analysis(filters)

    def rows() -> Iterator[tuple[Any, ...]]:
        for campaign, f in result.rows:
            yield (
                campaign.id,
                campaign.name,
                campaign.type.name,
                campaign.sub_type.name if campaign.sub_type else None,
                campaign.status,
                campaign.starts_on,
                f.actual_cost,
                f.budgeted_cost,
                f.opportunities,
                f.pipeline,
                f.weighted_pipeline,
                f.won,
                f.won_revenue,
                f.gross_profit,
                f.roi,
                f.cost_per_opportunity,
                f.win_rate,
            )

    return Table("campaigns", CAMPAIGN_COLUMNS, rows())


# ---------------------------------------------------------------- the deals behind a figure


def deal_rows(name: str, deals: deal_lists.DealList, kind: str) -> Table:
    """The deals behind a dashboard figure (asked for without the page's limit), with the
    page's columns: "won" shows when each was won and what it counts for, "pipeline" also
    its probability and weighted amount."""
    won, pipeline = kind == "won", kind == "pipeline"
    columns = [
        Column("Id", Kind.NUMBER),
        *_text("Opportunity", "Company", "Account manager", "Location", "Business unit"),
        Column("Stage"),
        Column("Won at", Kind.MOMENT) if won else Column("Expected close", Kind.DATE),
        Column("Revenue", Kind.AMOUNT),
        Column("Cost", Kind.AMOUNT),
    ]
    if won or pipeline:
        columns.append(Column("Counts for", Kind.AMOUNT))
    if pipeline:
        columns += [Column("Probability %", Kind.NUMBER), Column("Weighted", Kind.AMOUNT)]

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in deals.rows:
            row: tuple[Any, ...] = (
                r.id,
                r.name,
                r.company,
                r.account_manager,
                r.location,
                r.business_unit,
                r.stage,
                r.closed_at if won else r.expected_close_on,
                r.revenue,
                r.cost,
            )
            if won or pipeline:
                row += (r.amount,)
            if pipeline:
                row += (r.probability, r.weighted)
            yield row

    return Table(name, columns, rows())


STALLED_COLUMNS = [
    Column("Id", Kind.NUMBER),
    *_text("Account manager", "Opportunity", "Company", "Stage"),
    Column("Days in stage", Kind.NUMBER),
    Column("Revenue", Kind.AMOUNT),
    Column("Expected close", Kind.DATE),
]


def stalled_rows(groups: list[stalled_opportunities.StalledGroup]) -> Table:
    """The stalled opportunities list, group by group (account managers by name, then the
    unassigned), as the page lists them."""

    def rows() -> Iterator[tuple[Any, ...]]:
        for group in groups:
            manager = group.account_manager.name if group.account_manager else None
            for item in group.opportunities:
                o = item.opportunity
                yield (
                    o.id,
                    manager,
                    o.name,
                    o.company.name if o.company else None,
                    o.stage.name,
                    item.days_in_stage,
                    o.revenue,
                    o.expected_close_on,
                )

    return Table("stalled-opportunities", STALLED_COLUMNS, rows())


# ---------------------------------------------------------------- the dashboard's tables


DASHBOARD_MEMBER_COLUMNS = [
    *_text("Member", "Month"),
    Column("Won", Kind.AMOUNT),
    Column("Quota", Kind.AMOUNT),
    Column("%", Kind.NUMBER),
    Column("YTD won", Kind.AMOUNT),
    Column("YTD quota", Kind.AMOUNT),
    Column("YTD %", Kind.NUMBER),
]


def _attained(a: attainment.Attainment) -> tuple[Decimal, Decimal | None, int | None]:
    return a.total, a.quota, a.percent


def dashboard_members(summary: attainment.QuarterByMember) -> Table:
    """The quarterly summary by member, one row per member and month (as the page's
    cells: total, quota and %, and the year to date), then the monthly totals."""
    year = summary.year

    def rows() -> Iterator[tuple[Any, ...]]:
        people = [(m.name, m.months, m.ytd) for m in summary.members]
        people.append(("Monthly totals", summary.monthly_totals, summary.ytd_totals))
        for name, months, ytd in people:
            for month, this, so_far in zip(summary.months, months, ytd, strict=True):
                label = f"{year}-{month:02d}"
                yield (name, label, *_attained(this), *_attained(so_far))

    name = f"dashboard-members-{year}-q{summary.quarter}-{summary.basis.value}"
    return Table(name, DASHBOARD_MEMBER_COLUMNS, rows())


def dashboard_locations(summary: attainment.QuarterByLocation) -> Table:
    """The summary by location and business unit over a quarter or the year: per row the
    months, the total, the quota and %; the block of locations, then the block of business
    units (each adds up to the totals), then the totals."""
    months = [month_name(m, True) for m in summary.months]
    columns = [
        *_text("Group", "Name"),
        *(Column(m, Kind.AMOUNT) for m in months),
        Column("Total", Kind.AMOUNT),
        Column("Quota", Kind.AMOUNT),
        Column("%", Kind.NUMBER),
    ]

    def rows() -> Iterator[tuple[Any, ...]]:
        for group, places in (("Location", summary.locations), ("Business unit", summary.units)):
            for place in places:
                yield (group, place.name, *place.months, place.total, place.quota, place.percent)
        totals = summary.totals
        yield ("Totals", None, *totals.months, totals.total, totals.quota, totals.percent)

    period = str(summary.year) if summary.quarter is None else f"{summary.year}-q{summary.quarter}"
    name = f"dashboard-locations-{period}-{summary.basis.value}"
    return Table(name, columns, rows())


def dashboard_forecast(summary: forecast.Forecast) -> Table:
    """The forecast by member for the next three months, one row per member and month (as
    the page's cells: pipeline, weighted, quota, won, the gap still to close), then the
    totals."""
    columns = [
        *_text("Member", "Month"),
        *(Column(title, Kind.AMOUNT) for title in ("Pipeline", "Weighted", "Quota", "Won", "Gap")),
    ]

    def rows() -> Iterator[tuple[Any, ...]]:
        for member in [*summary.members, summary.totals]:
            for m in member.months:
                label = f"{m.year}-{m.month:02d}"
                yield (member.name, label, m.pipeline, m.weighted, m.quota, m.won, m.gap)

    first_year, first_month = summary.months[0]
    name = f"dashboard-forecast-{first_year}-{first_month:02d}-{summary.basis.value}"
    return Table(name, columns, rows())


def dashboard_hygiene(counts: list[hygiene.Hygiene], today: date) -> Table:
    """The hygiene counts by account manager: open deals stalled, past their close date,
    without revenue."""
    columns = [
        Column("Member"),
        *(Column(t, Kind.NUMBER) for t in ("Stalled", "Close date in the past", "Zero revenue")),
    ]
    rows = ((c.name, c.stalled, c.past_close, c.zero_revenue) for c in counts)
    return Table(f"dashboard-hygiene-{today:%Y-%m-%d}", columns, rows)


__all__ = [
    "Column",
    "Kind",
    "Table",
    "activity_rows",
    "campaign_rows",
    "company_rows",
    "contact_rows",
    "dashboard_forecast",
    "dashboard_hygiene",
    "dashboard_locations",
    "dashboard_members",
    "deal_rows",
    "opportunities",
    "stalled_rows",
]
