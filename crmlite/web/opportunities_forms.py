"""The opportunity page's forms: its fields, a forecast line, a team member, an extra
contact and a note; each built with its choices, and read back as the values
the opportunity services take. Whether a chosen record exists and may be chosen is
the service's rule (its message goes next to the field)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from crmlite.models import Opportunity, Rating
from crmlite.services import forecast_lines, pick_lists
from crmlite.services import opportunity_details as details
from crmlite.services import opportunity_notes as notes
from crmlite.services import opportunity_people as people
from crmlite.web import strip
from crmlite.web.fields import IdSelectField, MoneyField, WholeNumberField

ONE_OFF, RECURRING = "one-off", "recurring"


def _to_id(value: int | None) -> int | None:
    """0 (the "—" choice) is no record."""
    return value or None


class FieldsForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[strip],
        validators=[DataRequired("Enter the opportunity's name."), Length(max=200)],
    )
    type_id = IdSelectField("Type")
    rating = SelectField("Rating", choices=[SelectChoice(r.value, r.value) for r in Rating])
    revenue = MoneyField("Revenue", validators=[InputRequired("Enter the revenue (0.00 if none).")])
    cost = MoneyField("Cost", validators=[InputRequired("Enter the cost (0.00 if none).")])
    expected_close_on = DateField("Expected close", validators=[Optional()])
    probability = WholeNumberField("Probability %", what="The probability", maximum=100)
    use_stage_default = BooleanField("Use the stage's default probability")
    source = StringField("Source", filters=[strip], validators=[Length(max=120)])
    campaign_id = IdSelectField("Campaign")
    account_manager_id = IdSelectField("Account manager")
    sales_associate_id = IdSelectField("Sales associate")
    company_id = IdSelectField("Company")
    contact_id = IdSelectField("Contact")
    location_id = IdSelectField("Location")
    business_unit_id = IdSelectField("Business unit")
    description = TextAreaField("Description", filters=[strip], validators=[Length(max=10_000)])

    def values(self) -> details.FieldValues:
        """What was entered; revenue and cost only when the form has them (no lines)."""
        return details.FieldValues(
            name=self.name.data or "",
            type_id=_to_id(self.type_id.data),
            description=self.description.data or "",
            revenue=self.revenue.data if "revenue" in self else None,
            cost=self.cost.data if "cost" in self else None,
            expected_close_on=self.expected_close_on.data,
            rating=self.rating.data or "",
            probability=self.probability.data,
            use_stage_default=bool(self.use_stage_default.data),
            source=self.source.data or "",
            campaign_id=_to_id(self.campaign_id.data),
            account_manager_id=_to_id(self.account_manager_id.data),
            sales_associate_id=_to_id(self.sales_associate_id.data),
            company_id=_to_id(self.company_id.data),
            contact_id=_to_id(self.contact_id.data),
            location_id=_to_id(self.location_id.data),
            business_unit_id=_to_id(self.business_unit_id.data),
        )


class LineForm(FlaskForm):
    product_id = IdSelectField("Product")
    description = StringField("Description", filters=[strip], validators=[Length(max=200)])
    kind = SelectField(
        "Kind",
        choices=[SelectChoice(ONE_OFF, "One-off"), SelectChoice(RECURRING, "Recurring (monthly)")],
        default=ONE_OFF,
    )
    # Left empty with a product chosen: the product's default (services/forecast_lines.py).
    revenue = MoneyField(
        "Revenue", description="Per month when recurring; empty: the product's default."
    )
    cost = MoneyField("Cost", description="Per month when recurring; empty: the product's default.")
    months = WholeNumberField(
        "Months",
        what="The number of months",
        minimum=1,
        maximum=600,
        default=1,
        validators=[InputRequired("Enter the number of months (1 for a one-off).")],
    )
    status_id = IdSelectField("Status")
    include_in_forecast = BooleanField("Include in forecast", default=True)

    def _amount_required(self, field: MoneyField, what: str) -> None:
        if field.data is None and not field.errors and not _to_id(self.product_id.data):
            raise ValidationError(f"Enter the {what} (0.00 if none).")

    def validate_revenue(self, field: MoneyField) -> None:
        self._amount_required(field, "revenue")

    def validate_cost(self, field: MoneyField) -> None:
        self._amount_required(field, "cost")

    def values(self) -> forecast_lines.LineValues:
        return forecast_lines.LineValues(
            product_id=_to_id(self.product_id.data),
            description=self.description.data or "",
            recurring=self.kind.data == RECURRING,
            revenue=self.revenue.data,
            cost=self.cost.data,
            months=self.months.data or 1,
            status_id=_to_id(self.status_id.data),
            include_in_forecast=bool(self.include_in_forecast.data),
        )


class TeamForm(FlaskForm):
    member_id = IdSelectField("Member")
    role = StringField("Role", filters=[strip], validators=[Length(max=80)])


class ExtraContactForm(FlaskForm):
    contact_id = IdSelectField("Contact")
    role = StringField("Role", filters=[strip], validators=[Length(max=80)])


class NoteForm(FlaskForm):
    body = TextAreaField(
        "Add a note",
        filters=[strip],
        validators=[DataRequired("Write the note first."), Length(max=notes.MAX_NOTE_LENGTH)],
    )


# ---------------------------------------------------------------- built with their choices
# ``formdata=False``: a form that ignores what was posted (another section's form on the
# same page, or a fresh one).


def _data(formdata: bool | MultiDict[str, str]) -> dict[str, Any]:
    if isinstance(formdata, MultiDict):
        # The API's JSON, read as if typed; its callers sign in with a token, not a cookie,
        # so there is no CSRF token to check (web/api/base.py).
        return {"formdata": formdata, "meta": {"csrf": False}}
    return {} if formdata else {"formdata": None}


def fields_form(
    opportunity: Opportunity,
    formdata: bool | MultiDict[str, str] = True,
    *,
    choices: bool = True,
) -> FieldsForm:
    """The fields form; ``choices=False`` leaves out the lists a page offers to choose from
    (the API's: whether a chosen record exists is the service's rule either way)."""
    form = FieldsForm(obj=opportunity, **_data(formdata))
    if details.totals_are_computed(opportunity):
        del form.revenue
        del form.cost
    if not form.is_submitted() or not formdata:
        form.use_stage_default.data = False
    if not choices:
        return form
    form.type_id.set_choices(pick_lists.opportunity_types(keep_id=opportunity.type_id))
    form.campaign_id.set_choices(pick_lists.campaigns())
    members = pick_lists.active_members(
        keep_ids=(opportunity.account_manager_id, opportunity.sales_associate_id)
    )
    form.account_manager_id.set_choices(members)
    form.sales_associate_id.set_choices(members)
    form.company_id.set_choices(pick_lists.companies())
    form.company_id.render_kw = {
        "hx-get": url_for("opportunities.contact_options"),
        "hx-target": "#contact_id",
        "hx-swap": "innerHTML",
        "hx-trigger": "change",
    }
    form.contact_id.set_choices(pick_lists.contacts_of(form.company_id.data or None))
    stage = opportunity.stage
    form.probability.description = (
        f"The {stage.name} stage's default is {stage.default_probability} %."
    )
    form.location_id.set_choices(pick_lists.locations(keep_id=opportunity.location_id))
    form.business_unit_id.set_choices(
        pick_lists.business_units(keep_id=opportunity.business_unit_id)
    )
    return form


def line_form(prefix: str, formdata: bool = True, obj: Any = None) -> LineForm:
    kwargs: dict[str, Any] = {"prefix": prefix, **_data(formdata)}
    if obj is not None:
        kwargs["obj"] = obj
        kwargs["kind"] = RECURRING if obj.recurring else ONE_OFF
    form = LineForm(**kwargs)
    form.product_id.set_choices(
        pick_lists.opportunity_types(keep_id=obj.product_id if obj else None)
    )
    form.status_id.set_choices(pick_lists.line_statuses())
    if prefix == "add":
        form.product_id.render_kw = _product_switch()
    return form


def line_form_for_product(product_id: int | None, typed: MultiDict[str, str]) -> LineForm:
    """The add-a-line form as typed so far, restarted from the chosen product's defaults:
    its revenue, cost and kind (one-off or recurring)."""
    form = line_form("add", formdata=False)
    form.process(formdata=typed)
    revenue, cost, recurring = forecast_lines.products.default_amounts(product_id)
    form.revenue.raw, form.cost.raw = None, None
    form.revenue.data, form.cost.data = revenue, cost
    form.kind.data = RECURRING if recurring else ONE_OFF
    return form


def _product_switch() -> dict[str, str]:
    """Choosing a product in the add form restarts the line from its defaults."""
    return {
        "hx-get": url_for("opportunities.line_defaults"),
        "hx-include": "closest form",
        "hx-target": "#line-add-fields",
        "hx-select": "#line-add-fields",
        "hx-swap": "outerHTML",
        "hx-trigger": "change",
    }


def team_form(opportunity: Opportunity, formdata: bool = True) -> TeamForm:
    form = TeamForm(prefix="team", **_data(formdata))
    on_team = {row.member_id for row in opportunity.team}
    form.member_id.set_choices([m for m in pick_lists.active_members() if m.id not in on_team])
    return form


def contact_form(opportunity: Opportunity, formdata: bool = True) -> ExtraContactForm:
    form = ExtraContactForm(prefix="extra", **_data(formdata))
    form.contact_id.set_choices(people.extra_contact_choices(opportunity))
    return form


def note_form(formdata: bool = True) -> NoteForm:
    return NoteForm(prefix="note", **_data(formdata))
