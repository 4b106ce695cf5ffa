"""Quota setup's forms: a member's twelve monthly revenue (and optional margin) quotas of
a year, "same every month", and one month's points quota. Amounts follow the money rules of
``services.money``."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm

from crmlite.models.people import MAX_POINTS_QUOTA
from crmlite.services.periods import MONTH_NAMES
from crmlite.services.quotas import MONTHS
from crmlite.web.fields import MoneyField, WholeNumberField


class SameEveryMonthForm(FlaskForm):
    revenue = MoneyField("Revenue quota, every month", what="The monthly revenue quota")
    margin = MoneyField("Margin quota, every month (optional)", what="The monthly margin quota")


class MonthlyQuotasForm(FlaskForm):
    """Twelve revenue and twelve optional margin amounts; an empty month has no quota."""

    def months(self) -> list[tuple[int, Any, Any]]:
        return [(m, self[f"revenue_{m}"], self[f"margin_{m}"]) for m in MONTHS]


for _month in MONTHS:
    _name = MONTH_NAMES[_month - 1]
    setattr(
        MonthlyQuotasForm,
        f"revenue_{_month}",
        MoneyField(f"{_name} revenue quota", what=f"The {_name} revenue quota"),
    )
    setattr(
        MonthlyQuotasForm,
        f"margin_{_month}",
        MoneyField(f"{_name} margin quota", what=f"The {_name} margin quota"),
    )


class PointsMonthForm(FlaskForm):
    """One month's points quota set for a member: a whole number, or "Clear" (the rule
    applies again)."""

    quota = WholeNumberField("Points quota", what="The points quota", maximum=MAX_POINTS_QUOTA)
