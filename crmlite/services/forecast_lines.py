"""An opportunity's forecast lines: the products it sells, one-off or recurring (a monthly
amount over N months). With lines, the opportunity's revenue and cost are their sums.

Plain functions that change models and ``flush()``; a refused change raises
``InvalidFields`` or ``ChangedMeanwhile`` (services/opportunity_details.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import ForecastLine, Member, Opportunity, OpportunityStatus, OpportunityType
from crmlite.services import events, products
from crmlite.services.money import ZERO, percent
from crmlite.services.opportunity_details import InvalidFields, check_version, exists


@dataclass(frozen=True)
class LineValues:
    """A forecast line as entered: for a recurring line the amounts are per month. An
    amount left empty (None) is the product's default."""

    product_id: int | None
    description: str
    recurring: bool
    revenue: Decimal | None
    cost: Decimal | None
    months: int
    status_id: int | None
    include_in_forecast: bool


@dataclass(frozen=True)
class CategoryGroup:
    """The lines of one category (Service, Managed Service, Other) and their subtotals."""

    category: str
    lines: list[ForecastLine]
    revenue: Decimal
    cost: Decimal

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return percent(self.margin, self.revenue, places=1)


def grouped(lines: list[ForecastLine]) -> list[CategoryGroup]:
    """The opportunity's lines grouped by their product's category in the seed's order
    (Service, Managed Service, Other; a line without a product is Other), each group in
    the lines' own order, with its total revenue and cost. Categories without lines are
    left out. The products must be loaded with the lines."""
    groups: list[CategoryGroup] = []
    for category in products.CATEGORY_ORDER:
        of_category = [x for x in lines if products.category_of(x.product) == category]
        if of_category:
            groups.append(
                CategoryGroup(
                    category=category,
                    lines=of_category,
                    revenue=sum((x.total_revenue for x in of_category), ZERO),
                    cost=sum((x.total_cost for x in of_category), ZERO),
                )
            )
    return groups


def with_defaults(values: LineValues) -> LineValues:
    """The line as it will be saved: an amount left empty takes the product's default."""
    if values.revenue is not None and values.cost is not None:
        return values
    revenue, cost, _recurring = products.default_amounts(values.product_id)
    return replace(
        values,
        revenue=revenue if values.revenue is None else values.revenue,
        cost=cost if values.cost is None else values.cost,
    )


def recompute_totals(opportunity: Opportunity) -> None:
    """The opportunity's revenue and cost are the sums of its forecast lines' totals (every
    line counts; "include in forecast" only concerns the forecast reports). Without lines
    left they are 0.00 until entered again by hand."""
    lines = opportunity.forecast_lines
    opportunity.revenue = sum((line.total_revenue for line in lines), ZERO)
    opportunity.cost = sum((line.total_cost for line in lines), ZERO)


def _lines_changed(opportunity: Opportunity, by: Member) -> None:
    """After a line was added, changed or removed: the revenue and cost follow, and the
    opportunity records who changed it."""
    recompute_totals(opportunity)
    opportunity.updated_by_id = by.id
    db.session.flush()


def _check_line(values: LineValues) -> None:
    errors: dict[str, str] = {}
    if values.months < 1:
        errors["months"] = "A line runs for at least 1 month."
    if values.revenue is None or values.revenue < 0:
        errors["revenue"] = "The revenue cannot be negative."
    if values.cost is None or values.cost < 0:
        errors["cost"] = "The cost cannot be negative."
    if not exists(OpportunityType, values.product_id):
        errors["product_id"] = "Choose a product from the list."
    if not exists(OpportunityStatus, values.status_id):
        errors["status_id"] = "Choose a status from the list."
    if errors:
        raise InvalidFields(errors)


def _apply_line(line: ForecastLine, values: LineValues) -> None:
    line.product_id = values.product_id
    line.description = values.description.strip()
    line.recurring = values.recurring
    line.revenue = values.revenue if values.revenue is not None else ZERO
    line.cost = values.cost if values.cost is not None else ZERO
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
    """Add a forecast line at the end; an amount left empty is its product's default (the
    line keeps its own copy). The opportunity's revenue and cost follow."""
    check_version(opportunity, expected_version)
    values = with_defaults(values)
    _check_line(values)
    line = ForecastLine(
        position=max((x.position for x in opportunity.forecast_lines), default=0) + 1
    )
    _apply_line(line, values)
    opportunity.forecast_lines.append(line)
    _lines_changed(opportunity, by)
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
    values = with_defaults(values)
    _check_line(values)
    _apply_line(line, values)
    _lines_changed(opportunity, by)
    return line


def remove_line(
    opportunity: Opportunity, line: ForecastLine, *, by: Member, expected_version: int | None
) -> None:
    """Remove a forecast line; the opportunity's revenue and cost follow."""
    check_version(opportunity, expected_version)
    name = f"{line.description or 'untitled line'} on {opportunity.name}"
    opportunity.forecast_lines.remove(line)
    _lines_changed(opportunity, by)
    events.publish(events.Deleted("forecast line", name, by=by, at=utcnow()))
