"""Opportunity pages: every field editable in place, forecast lines, team, extra contacts,
notes, stage history and activities; and the list of stalled opportunities.

Each section of the page is a partial (``templates/opportunities/_<section>.html``) with
one root element and a stable id. With htmx, an endpoint that changes a section returns
that partial (an invalid form comes back with its errors, status 200); without JS the same
POST redirects back to the page, or renders the whole page with the form and its errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    Field,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
)
from wtforms.widgets import TextInput

from crmlite.extensions import db
from crmlite.models import Member, Opportunity, Rating
from crmlite.services import forecast_lines, pick_lists, reference, stalled_opportunities
from crmlite.services import opportunity_details as details
from crmlite.services import opportunity_notes as notes
from crmlite.services import opportunity_people as people
from crmlite.services.funnel import ChangedMeanwhile, may_change
from crmlite.services.next_steps import is_stalled
from crmlite.services.opportunity_details import InvalidFields
from crmlite.services.team import local_today
from crmlite.web import is_htmx, strip

bp = Blueprint("opportunities", __name__, url_prefix="/opportunities")

CHANGED_MEANWHILE = (
    "Someone changed this opportunity since you opened it; here are the current values."
)
CENTS = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)
NONE_CHOICE = SelectChoice(0, "—")
ONE_OFF, RECURRING = "one-off", "recurring"


# ---------------------------------------------------------------- fields and forms


class MoneyField(DecimalField):
    """An amount of money with cents; "1,200.00" and "1 200.00" read as 1200.00."""

    widget = TextInput()

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, places=2, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        try:
            self.data = Decimal(str(valuelist[0]).replace(",", "").replace(" ", ""))
        except (InvalidOperation, ValueError) as exc:
            self.data = None
            raise ValueError("Enter an amount such as 1,200.00.") from exc


class Amount:
    """An amount that is finite, not negative, and has at most two decimals."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __call__(self, _form: FlaskForm, field: Field) -> None:
        value: Decimal | None = field.data
        if value is None:
            return
        if not value.is_finite():
            raise StopValidation("Enter an amount such as 1,200.00.")
        if value < 0:
            raise StopValidation(f"The {self.what} cannot be negative.")
        if value > MAX_AMOUNT:
            raise StopValidation(f"The {self.what} is too large.")
        if value != value.quantize(CENTS):
            raise StopValidation("Use at most two decimals (cents).")


class IdSelectField(SelectField):
    """A choice of a record by id; 0 means none. Whether the record exists is the service's
    rule, so an outdated or forged id gets a clear message instead of "Not a valid choice"."""

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, coerce=int, validate_choice=False, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        try:
            self.data = int(valuelist[0] or 0)
        except ValueError as exc:
            self.data = None
            raise ValueError("Choose from the list.") from exc

    def set_choices(self, items: Sequence[Any], label: str = "name", none: bool = True) -> None:
        choices = [SelectChoice(item.id, getattr(item, label)) for item in items]
        self.choices = [NONE_CHOICE, *choices] if none else choices


class FieldsForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[strip],
        validators=[DataRequired("Enter the opportunity's name."), Length(max=200)],
    )
    type_id = IdSelectField("Type")
    rating = SelectField("Rating", choices=[SelectChoice(r.value, r.value) for r in Rating])
    revenue = MoneyField(
        "Revenue",
        validators=[InputRequired("Enter the revenue (0.00 if none)."), Amount("revenue")],
    )
    cost = MoneyField(
        "Cost", validators=[InputRequired("Enter the cost (0.00 if none)."), Amount("cost")]
    )
    expected_close_on = DateField("Expected close", validators=[Optional()])
    probability = IntegerField(
        "Probability %",
        validators=[Optional(), NumberRange(0, 100, "Enter a probability from 0 to 100.")],
    )
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


class LineForm(FlaskForm):
    product_id = IdSelectField("Product")
    description = StringField("Description", filters=[strip], validators=[Length(max=200)])
    kind = SelectField(
        "Kind",
        choices=[SelectChoice(ONE_OFF, "One-off"), SelectChoice(RECURRING, "Recurring (monthly)")],
        default=ONE_OFF,
    )
    revenue = MoneyField(
        "Revenue",
        description="Per month when recurring.",
        validators=[InputRequired("Enter the revenue (0.00 if none)."), Amount("revenue")],
    )
    cost = MoneyField(
        "Cost",
        description="Per month when recurring.",
        validators=[InputRequired("Enter the cost (0.00 if none)."), Amount("cost")],
    )
    months = IntegerField(
        "Months",
        default=1,
        validators=[
            InputRequired("Enter the number of months (1 for a one-off)."),
            NumberRange(1, 600, "A line runs for 1 to 600 months."),
        ],
    )
    status_id = IdSelectField("Status")
    include_in_forecast = BooleanField("Include in forecast", default=True)


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


# ---------------------------------------------------------------- helpers


def _me() -> Member:
    return cast(Member, current_user._get_current_object())  # type: ignore[attr-defined]


def _load(opportunity_id: int) -> Opportunity:
    opportunity = details.load_opportunity(opportunity_id)
    if opportunity is None:
        abort(404)
    return opportunity


def _load_for_change(opportunity_id: int) -> Opportunity:
    """The opportunity, if the signed-in member may change it (else 403, nothing changes)."""
    opportunity = _load(opportunity_id)
    if not may_change(_me(), opportunity):
        abort(403)
    return opportunity


def _reload(opportunity_id: int) -> Opportunity:
    """After a commit or a rollback: what the database now holds."""
    db.session.rollback()
    return _load(opportunity_id)


def _posted_version() -> int | None:
    """The opportunity's version the form was loaded with (a plain field, not prefixed, so
    one out-of-band update refreshes it in every form of the page)."""
    value = request.form.get("version", "")
    return int(value) if value.isdigit() else None


def _apply_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = form[name]
        field.errors = [*field.errors, message]


def _to_id(value: int | None) -> int | None:
    return value or None


def _blank(form_class: type[FlaskForm], **kwargs: Any) -> Any:
    """A form that ignores the posted data (another section's form on the same page)."""
    return form_class(formdata=None, **kwargs)


# ---------------------------------------------------------------- section contexts


def _fields_form(opportunity: Opportunity, formdata: bool = True) -> FieldsForm:
    kwargs: dict[str, Any] = {} if formdata else {"formdata": None}
    form = FieldsForm(obj=opportunity, **kwargs)
    if details.totals_are_computed(opportunity):
        del form.revenue
        del form.cost
    if not form.is_submitted() or not formdata:
        form.use_stage_default.data = False
    form.type_id.set_choices(pick_lists.opportunity_types(keep_id=opportunity.type_id))
    form.campaign_id.set_choices(pick_lists.campaigns())
    members = pick_lists.active_members(
        keep_ids=(opportunity.account_manager_id, opportunity.sales_associate_id)
    )
    form.account_manager_id.set_choices(members)
    form.sales_associate_id.set_choices(members)
    form.company_id.set_choices(pick_lists.companies())
    form.company_id.render_kw = {
        "hx-get": url_for(".contact_options"),
        "hx-target": "#contact_id",
        "hx-swap": "innerHTML",
        "hx-trigger": "change",
    }
    form.contact_id.set_choices(pick_lists.contacts_of(form.company_id.data or None))
    stage = opportunity.stage
    form.probability.description = (
        f"The {stage.name} stage's default is {stage.default_probability} %."
    )
    form.location_id.set_choices(reference.locations())
    form.business_unit_id.set_choices(reference.business_units())
    return form


def _line_form(prefix: str, formdata: bool = True, obj: Any = None) -> LineForm:
    kwargs: dict[str, Any] = {"prefix": prefix}
    if not formdata:
        kwargs["formdata"] = None
    if obj is not None:
        kwargs["obj"] = obj
        kwargs["kind"] = RECURRING if obj.recurring else ONE_OFF
    form = LineForm(**kwargs)
    form.product_id.set_choices(
        pick_lists.opportunity_types(keep_id=obj.product_id if obj else None)
    )
    form.status_id.set_choices(pick_lists.line_statuses())
    return form


def _team_form(opportunity: Opportunity, formdata: bool = True) -> TeamForm:
    form = TeamForm(prefix="team") if formdata else _blank(TeamForm, prefix="team")
    on_team = {row.member_id for row in opportunity.team}
    form.member_id.set_choices([m for m in pick_lists.active_members() if m.id not in on_team])
    return form


def _contact_form(opportunity: Opportunity, formdata: bool = True) -> ExtraContactForm:
    form = (
        ExtraContactForm(prefix="extra") if formdata else _blank(ExtraContactForm, prefix="extra")
    )
    form.contact_id.set_choices(people.extra_contact_choices(opportunity))
    return form


def _note_form(formdata: bool = True) -> NoteForm:
    return NoteForm(prefix="note") if formdata else _blank(NoteForm, prefix="note")


def _base_context(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "opportunity": opportunity,
        "can_change": may_change(_me(), opportunity),
        "computed": details.totals_are_computed(opportunity),
    }


def _section_extras(
    section: str, opportunity: Opportunity, context: dict[str, Any], given: set[str]
) -> dict[str, Any]:
    """What one section shows besides the opportunity; forms in ``given`` are supplied."""
    can_change = context["can_change"]
    if section == "activities":
        today = local_today(g.tz)
        open_activities, done_activities = details.activities_of(opportunity.id)
        next_step = details.next_step_among(open_activities, today)
        return {
            "today": today,
            "open_activities": open_activities,
            "done_activities": done_activities,
            "next_step": next_step,
            "stalled": is_stalled(opportunity, today),
        }
    if section == "header" and "stalled" not in context:
        return {"stalled": is_stalled(opportunity, local_today(g.tz))}
    if not can_change:
        return {}
    if section == "lines" and "add_form" not in given:
        return {"add_form": _line_form("add", formdata=False)}
    if section == "team" and "team_form" not in given:
        return {"team_form": _team_form(opportunity, formdata=False)}
    if section == "contacts" and "contact_form" not in given:
        return {"contact_form": _contact_form(opportunity, formdata=False)}
    if section == "notes" and "note_form" not in given:
        return {"note_form": _note_form(formdata=False)}
    return {}


# Activities before the header: the header's "stalled" badge reuses what they found.
SECTIONS = ("activities", "header", "fields", "lines", "team", "contacts", "notes", "history")


def _render_section(section: str, opportunity: Opportunity, **overrides: Any) -> str:
    context = _base_context(opportunity)
    context.update(_section_extras(section, opportunity, context, set(overrides)))
    context.update(overrides)
    template = section
    if section == "fields" and overrides.get("fields_form") is not None:
        template = "fields_form"
    return render_template(f"opportunities/_{template}.html", **context)


def _render_page(opportunity: Opportunity, **overrides: Any) -> str:
    context = _base_context(opportunity)
    for section in SECTIONS:
        context.update(_section_extras(section, opportunity, context, set(overrides)))
    context.update(overrides)
    return render_template("opportunities/detail.html", **context)


def _respond(section: str, opportunity: Opportunity, **overrides: Any) -> str:
    """The section alone for htmx, else the whole page with it (a form with its errors)."""
    if is_htmx():
        return _render_section(section, opportunity, **overrides)
    return _render_page(opportunity, **overrides)


def _back_to(opportunity_id: int, section: str) -> Response:
    return redirect(
        url_for(".detail", opportunity_id=opportunity_id, _anchor=f"opportunity-{section}")
    )


def _version_oob(opportunity: Opportunity, old_version: int | None) -> str:
    """Out-of-band: the forms of this page that were loaded at the version this change
    replaced now carry the new one, so the person's own changes never look like someone
    else's. Forms loaded earlier stay stale and are refused."""
    if old_version is None:
        return ""
    return render_template(
        "opportunities/_version_oob.html", opportunity=opportunity, old_version=old_version
    )


# ---------------------------------------------------------------- the page


@bp.get("/<int:opportunity_id>")
def detail(opportunity_id: int) -> str:
    """The page. Without JS, ``?edit=fields``, ``?edit=line-<id>`` and ``?remove=<id>``
    open a section's form in place, as the Edit buttons do with htmx."""
    opportunity = _load(opportunity_id)
    overrides: dict[str, Any] = {}
    if may_change(_me(), opportunity):
        edit = request.args.get("edit", "")
        if edit == "fields":
            overrides["fields_form"] = _fields_form(opportunity)
        elif edit.startswith("line-") and edit[5:].isdigit():
            line = forecast_lines.find_line(opportunity, int(edit[5:]))
            if line is not None:
                overrides["edit_line_id"] = line.id
                overrides["edit_form"] = _line_form("edit", obj=line)
        remove = request.args.get("remove", "")
        if remove.isdigit() and forecast_lines.find_line(opportunity, int(remove)) is not None:
            overrides["remove_line_id"] = int(remove)
    return _render_page(opportunity, **overrides)


# ---------------------------------------------------------------- fields


@bp.get("/<int:opportunity_id>/activities")
def activities_section(opportunity_id: int) -> str:
    """The activities section alone, refreshed when one is logged or closed."""
    return _render_section("activities", _load(opportunity_id))


@bp.get("/<int:opportunity_id>/fields")
def fields(opportunity_id: int) -> str:
    return _render_section("fields", _load(opportunity_id))


@bp.get("/<int:opportunity_id>/fields/edit")
def edit_fields(opportunity_id: int) -> str:
    opportunity = _load_for_change(opportunity_id)
    return _render_section("fields", opportunity, fields_form=_fields_form(opportunity))


@bp.get("/contact-options")
def contact_options() -> str:
    """The contact choices of a company, for the fields form's contact select."""
    company_id = request.args.get("company_id", "")
    contacts = pick_lists.contacts_of(int(company_id)) if company_id.isdigit() else []
    return render_template("opportunities/_contact_options.html", contacts=contacts)


def _fields_values(form: FieldsForm) -> details.FieldValues:
    return details.FieldValues(
        name=form.name.data or "",
        type_id=_to_id(form.type_id.data),
        description=form.description.data or "",
        revenue=form.revenue.data if "revenue" in form else None,
        cost=form.cost.data if "cost" in form else None,
        expected_close_on=form.expected_close_on.data,
        rating=form.rating.data or "",
        probability=form.probability.data,
        use_stage_default=bool(form.use_stage_default.data),
        source=form.source.data or "",
        campaign_id=_to_id(form.campaign_id.data),
        account_manager_id=_to_id(form.account_manager_id.data),
        sales_associate_id=_to_id(form.sales_associate_id.data),
        company_id=_to_id(form.company_id.data),
        contact_id=_to_id(form.contact_id.data),
        location_id=_to_id(form.location_id.data),
        business_unit_id=_to_id(form.business_unit_id.data),
    )


def _fields_stale(opportunity_id: int) -> str:
    opportunity = _reload(opportunity_id)
    return _respond(
        "fields",
        opportunity,
        fields_form=_fields_form(opportunity, formdata=False),
        fields_message=CHANGED_MEANWHILE,
    )


@bp.post("/<int:opportunity_id>/fields")
def save_fields(opportunity_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    version = _posted_version()
    form = _fields_form(opportunity)
    valid = form.validate_on_submit()
    if version != opportunity.version:
        return _fields_stale(opportunity_id)
    if not valid:
        return _respond("fields", opportunity, fields_form=form)
    try:
        details.update_fields(opportunity, _fields_values(form), by=_me(), expected_version=version)
        db.session.commit()
    except InvalidFields as refused:
        db.session.rollback()
        _apply_errors(form, refused.errors)
        return _respond("fields", _load(opportunity_id), fields_form=form)
    except (ChangedMeanwhile, StaleDataError):
        return _fields_stale(opportunity_id)
    if not is_htmx():
        return _back_to(opportunity_id, "fields")
    opportunity = _reload(opportunity_id)
    return (
        _render_section("fields", opportunity)
        + _render_section("header", opportunity, oob=True)
        + _version_oob(opportunity, version)
    )


# ---------------------------------------------------------------- forecast lines


@bp.get("/<int:opportunity_id>/lines")
def lines(opportunity_id: int) -> str:
    return _render_section("lines", _load(opportunity_id))


@bp.get("/<int:opportunity_id>/lines/<int:line_id>/edit")
def edit_line(opportunity_id: int, line_id: int) -> str:
    opportunity = _load_for_change(opportunity_id)
    line = forecast_lines.find_line(opportunity, line_id)
    if line is None:
        abort(404)
    return _render_section(
        "lines", opportunity, edit_line_id=line.id, edit_form=_line_form("edit", obj=line)
    )


def _line_values(form: LineForm) -> forecast_lines.LineValues:
    recurring = form.kind.data == RECURRING
    return forecast_lines.LineValues(
        product_id=_to_id(form.product_id.data),
        description=form.description.data or "",
        recurring=recurring,
        revenue=form.revenue.data if form.revenue.data is not None else Decimal("0.00"),
        cost=form.cost.data if form.cost.data is not None else Decimal("0.00"),
        months=form.months.data or 1,
        status_id=_to_id(form.status_id.data),
        include_in_forecast=bool(form.include_in_forecast.data),
    )


def _lines_changed(opportunity_id: int, old_version: int | None) -> str | Response:
    """After a line changed: the lines, and out of band the page's figures and versions."""
    if not is_htmx():
        return _back_to(opportunity_id, "lines")
    opportunity = _reload(opportunity_id)
    figures = render_template(
        "opportunities/_figures.html",
        opportunity=opportunity,
        oob=True,
        computed=details.totals_are_computed(opportunity),
    )
    return _render_section("lines", opportunity) + figures + _version_oob(opportunity, old_version)


def _lines_stale(opportunity_id: int, **overrides: Any) -> str:
    return _respond("lines", _reload(opportunity_id), lines_message=CHANGED_MEANWHILE, **overrides)


@bp.post("/<int:opportunity_id>/lines")
def add_line(opportunity_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    version = _posted_version()
    form = _line_form("add")
    valid = form.validate_on_submit()
    if version != opportunity.version:
        # The person's new line is kept in the form; the lines above are the current ones.
        return _lines_stale(opportunity_id, add_form=form)
    if not valid:
        return _respond("lines", opportunity, add_form=form)
    try:
        forecast_lines.add_line(opportunity, _line_values(form), by=_me(), expected_version=version)
        db.session.commit()
    except InvalidFields as refused:
        _apply_errors(form, refused.errors)
        return _respond("lines", _reload(opportunity_id), add_form=form)
    except (ChangedMeanwhile, StaleDataError):
        return _lines_stale(opportunity_id, add_form=form)
    return _lines_changed(opportunity_id, version)


@bp.post("/<int:opportunity_id>/lines/<int:line_id>")
def save_line(opportunity_id: int, line_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    line = forecast_lines.find_line(opportunity, line_id)
    if line is None:
        abort(404)
    version = _posted_version()
    form = _line_form("edit")
    valid = form.validate_on_submit()
    if version != opportunity.version:
        return _lines_stale(opportunity_id)
    if not valid:
        return _respond("lines", opportunity, edit_line_id=line_id, edit_form=form)
    try:
        forecast_lines.update_line(
            opportunity, line, _line_values(form), by=_me(), expected_version=version
        )
        db.session.commit()
    except InvalidFields as refused:
        _apply_errors(form, refused.errors)
        return _respond("lines", _reload(opportunity_id), edit_line_id=line_id, edit_form=form)
    except (ChangedMeanwhile, StaleDataError):
        return _lines_stale(opportunity_id)
    return _lines_changed(opportunity_id, version)


@bp.post("/<int:opportunity_id>/lines/<int:line_id>/remove")
def remove_line(opportunity_id: int, line_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    line = forecast_lines.find_line(opportunity, line_id)
    if line is None:
        abort(404)
    version = _posted_version()
    try:
        forecast_lines.remove_line(opportunity, line, by=_me(), expected_version=version)
        db.session.commit()
    except (ChangedMeanwhile, StaleDataError):
        return _lines_stale(opportunity_id)
    return _lines_changed(opportunity_id, version)


# ---------------------------------------------------------------- team and extra contacts


def _add_row(
    opportunity_id: int, section: str, form: FlaskForm, form_name: str, add: Callable[[], Any]
) -> str | Response:
    """Add a team member, extra contact or note with ``add``: the section again (or, without
    JS, back to the page); a refused form comes back with its errors."""
    if form.validate_on_submit():
        try:
            add()
            db.session.commit()
        except InvalidFields as refused:
            _apply_errors(form, refused.errors)
        else:
            if not is_htmx():
                return _back_to(opportunity_id, section)
            return _render_section(section, _reload(opportunity_id))
    return _respond(section, _reload(opportunity_id), **{form_name: form})


@bp.post("/<int:opportunity_id>/team")
def add_team_member(opportunity_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    form = _team_form(opportunity)
    return _add_row(
        opportunity_id,
        "team",
        form,
        "team_form",
        lambda: people.add_team_member(
            opportunity, _to_id(form.member_id.data), form.role.data or ""
        ),
    )


@bp.post("/<int:opportunity_id>/team/<int:member_id>/remove")
def remove_team_member(opportunity_id: int, member_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    if not people.remove_team_member(opportunity, member_id):
        abort(404)
    db.session.commit()
    if not is_htmx():
        return _back_to(opportunity_id, "team")
    return _render_section("team", _reload(opportunity_id))


@bp.post("/<int:opportunity_id>/contacts")
def add_extra_contact(opportunity_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    form = _contact_form(opportunity)
    return _add_row(
        opportunity_id,
        "contacts",
        form,
        "contact_form",
        lambda: people.add_extra_contact(
            opportunity, _to_id(form.contact_id.data), form.role.data or ""
        ),
    )


@bp.post("/<int:opportunity_id>/contacts/<int:contact_id>/remove")
def remove_extra_contact(opportunity_id: int, contact_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    if not people.remove_extra_contact(opportunity, contact_id):
        abort(404)
    db.session.commit()
    if not is_htmx():
        return _back_to(opportunity_id, "contacts")
    return _render_section("contacts", _reload(opportunity_id))


# ---------------------------------------------------------------- notes


@bp.post("/<int:opportunity_id>/notes")
def add_note(opportunity_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    form = _note_form()
    return _add_row(
        opportunity_id,
        "notes",
        form,
        "note_form",
        lambda: notes.add_note(opportunity, form.body.data or "", by=_me()),
    )


# ---------------------------------------------------------------- stalled


@bp.get("/stalled")
def stalled() -> str:
    """Open opportunities without a next step, by account manager. Managers and admins see
    the whole team's; a rep sees their own."""
    today = local_today(g.tz)
    me = _me()
    groups = stalled_opportunities.stalled_by_account_manager(
        today, g.tz, account_manager_id=None if me.is_manager else me.id
    )
    return render_template(
        "opportunities/stalled.html",
        groups=groups,
        today=today,
        total=sum(len(group.opportunities) for group in groups),
        whole_team=me.is_manager,
    )
