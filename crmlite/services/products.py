"""The product catalogue: what the team sells on its own (the opportunity types, as the
method calls them), each with its category (Service, Managed Service or Other — how the
opportunity's forecast table groups its lines), a default revenue and cost per sale (per
month for a recurring product), and whether it is still offered.

The rules:
- a name is required, one line, at most 120 characters, unique whatever its case;
- amounts follow services/money.py (the form parses them; the service refuses negatives);
- a product in use (by a forecast line or as an opportunity's type) is never deleted, only
  made inactive: it is then no longer offered, and what has it keeps it;
- changing the defaults changes nothing already entered: a line copies them when created.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select, union

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import ForecastLine, Member, Opportunity, OpportunityType, ProductCategory
from crmlite.services import events
from crmlite.services.money import ZERO, is_valid_amount
from crmlite.services.parsing import clean_line

MAX_NAME = 120
# The forecast table's order, as the seed shows it.
CATEGORY_ORDER = [c.value for c in ProductCategory]


class ProductRefused(ValueError):
    """Input the catalogue's rules refuse; ``field`` names the form field it belongs to."""

    def __init__(self, message: str, field: str = "name") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ProductValues:
    name: str
    category: str
    default_revenue: Decimal
    default_cost: Decimal
    recurring: bool
    active: bool


def catalogue() -> list[OpportunityType]:
    """Every product, active or not, by category (the forecast table's order) and name."""
    order = case({c: i for i, c in enumerate(CATEGORY_ORDER)}, value=OpportunityType.category)
    return list(db.session.scalars(select(OpportunityType).order_by(order, OpportunityType.name)))


def in_use() -> set[int]:
    """Products some forecast line or opportunity has: they may be deactivated, not deleted."""
    used = union(
        select(ForecastLine.product_id).where(ForecastLine.product_id.is_not(None)),
        select(Opportunity.type_id).where(Opportunity.type_id.is_not(None)),
    )
    return set(db.session.scalars(select(used.subquery().c[0]).distinct()))


def _checked(values: ProductValues, except_id: int | None) -> ProductValues:
    name = clean_line(values.name)
    if not name:
        raise ProductRefused("Enter the product's name.")
    if len(name) > MAX_NAME:
        raise ProductRefused(f"The name can have at most {MAX_NAME} characters.")
    taken = db.session.scalar(
        select(OpportunityType.id).where(
            func.lower(OpportunityType.name) == name.lower(),
            OpportunityType.id != (except_id or 0),
        )
    )
    if taken:
        raise ProductRefused(f"There is a product called {name} already.")
    if values.category not in CATEGORY_ORDER:
        raise ProductRefused("Choose Service, Managed Service or Other.", "category")
    for field, amount in (
        ("default_revenue", values.default_revenue),
        ("default_cost", values.default_cost),
    ):
        if not is_valid_amount(amount):
            raise ProductRefused("Enter an amount of 0.00 or more.", field)
    return ProductValues(
        name=name,
        category=values.category,
        default_revenue=values.default_revenue,
        default_cost=values.default_cost,
        recurring=values.recurring,
        active=values.active,
    )


def save_product(product: OpportunityType | None, values: ProductValues) -> OpportunityType:
    """Add a product (``product`` None) or change one; lines already entered keep their
    amounts."""
    values = _checked(values, product.id if product is not None else None)
    if product is None:
        product = OpportunityType(name=values.name)
        db.session.add(product)
    product.name = values.name
    product.category = values.category
    product.default_revenue = values.default_revenue
    product.default_cost = values.default_cost
    product.recurring = values.recurring
    product.active = values.active
    db.session.flush()
    return product


def delete_product(product: OpportunityType, *, by: Member) -> None:
    """Only a product nothing uses may go; one in use may only be made inactive.
    Published (``Deleted``) for the audit log."""
    if product.id in in_use():
        raise ProductRefused(
            f"{product.name} is used by opportunities or forecast lines, so it cannot be "
            "deleted. Make it inactive instead."
        )
    name = product.name
    db.session.delete(product)
    db.session.flush()
    events.publish(events.Deleted("product", name, by=by, at=utcnow()))


def category_of(product: OpportunityType | None) -> str:
    """A line's category: its product's, "Other" without one."""
    return product.category if product is not None else ProductCategory.OTHER.value


def default_amounts(product_id: int | None) -> tuple[Decimal, Decimal, bool]:
    """What a new line for the product starts with: revenue, cost (per month when
    recurring) and whether it recurs; nothing (0.00, one-off) without a product."""
    product = db.session.get(OpportunityType, product_id) if product_id else None
    if product is None:
        return ZERO, ZERO, False
    return product.default_revenue, product.default_cost, product.recurring
