"""Setup → Products: a row of the product catalogue."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from crmlite.models import ProductCategory
from crmlite.services import products
from crmlite.services.money import ZERO
from crmlite.web import strip
from crmlite.web.fields import MoneyField

CATEGORY_CHOICES = [SelectChoice(c.value, c.value) for c in ProductCategory]
KIND_CHOICES = [
    SelectChoice("one-off", "One-off"),
    SelectChoice("recurring", "Recurring (monthly)"),
]


class ProductForm(FlaskForm):
    name = StringField(
        "Product",
        filters=[strip],
        validators=[DataRequired("Enter the product's name."), Length(max=products.MAX_NAME)],
    )
    category = SelectField("Category", choices=CATEGORY_CHOICES, default="Other")
    default_revenue = MoneyField(
        "Default revenue",
        what="The default revenue",
        description="Per month when recurring.",
        validators=[InputRequired("Enter the default revenue (0.00 if none).")],
    )
    default_cost = MoneyField(
        "Default cost",
        what="The default cost",
        description="Per month when recurring.",
        validators=[InputRequired("Enter the default cost (0.00 if none).")],
    )
    kind = SelectField("Kind", choices=KIND_CHOICES, default="one-off")
    active = BooleanField("Active (offered on forecast lines)", default=True)

    def values(self) -> products.ProductValues:
        return products.ProductValues(
            name=self.name.data or "",
            category=self.category.data or "",
            default_revenue=self.default_revenue.data or ZERO,
            default_cost=self.default_cost.data or ZERO,
            recurring=self.kind.data == "recurring",
            active=bool(self.active.data),
        )


def product_form(product: Any = None, formdata: bool = True) -> ProductForm:
    kwargs: dict[str, Any] = {} if formdata else {"formdata": None}
    if product is None:
        return ProductForm(prefix="new", **kwargs)
    return ProductForm(
        prefix=f"product-{product.id}",
        obj=product,
        kind="recurring" if product.recurring else "one-off",
        **kwargs,
    )
