"""The opportunity's time and expense forms."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from crmlite.models import Member, Role
from crmlite.services import pick_lists, time_expenses
from crmlite.web import strip
from crmlite.web.fields import HoursField, IdSelectField, MoneyField


class TimeForm(FlaskForm):
    member_id = IdSelectField("Member")
    worked_on = DateField("Date", validators=[DataRequired("Enter a valid date.")])
    hours = HoursField("Hours")
    note = TextAreaField("Note", filters=[strip], validators=[Length(max=time_expenses.MAX_NOTE)])

    def values(self) -> time_expenses.TimeValues:
        return time_expenses.TimeValues(
            member_id=self.member_id.data or None,
            worked_on=self.worked_on.data,
            hours=self.hours.data,
            note=self.note.data or "",
        )


class ExpenseForm(FlaskForm):
    spent_on = DateField("Date", validators=[DataRequired("Enter a valid date.")])
    amount = MoneyField("Amount", validators=[InputRequired("Enter the amount spent.")])
    category = SelectField(
        "Category",
        choices=[SelectChoice(c, c) for c in time_expenses.EXPENSE_CATEGORIES],
        default="Other",
    )
    note = TextAreaField("Note", filters=[strip], validators=[Length(max=time_expenses.MAX_NOTE)])

    def values(self) -> time_expenses.ExpenseValues:
        return time_expenses.ExpenseValues(
            spent_on=self.spent_on.data,
            amount=self.amount.data,
            category=self.category.data or "",
            note=self.note.data or "",
        )


def _data(formdata: bool) -> dict[str, Any]:
    return {} if formdata else {"formdata": None}


def time_form(me: Member, formdata: bool = True) -> TimeForm:
    """A rep logs their own time; a manager chooses whose."""
    form = TimeForm(prefix="time", **_data(formdata))
    if me.role == Role.REP.value:
        form.member_id.set_choices([me], none=False)
    else:
        form.member_id.set_choices(pick_lists.active_members(), none=False)
    if not form.is_submitted() or not formdata:
        form.member_id.data = me.id
    return form


def expense_form(formdata: bool = True) -> ExpenseForm:
    return ExpenseForm(prefix="expense", **_data(formdata))
