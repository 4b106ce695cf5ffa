"""The shared form fields (web.fields): each reads input through the one parser of its kind."""

from __future__ import annotations

from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import HiddenInput

from crmlite.web.fields import NONE_CHOICE, IdSelectField, MoneyField, WholeNumberField


class ExampleForm(Form):
    revenue = MoneyField("Revenue")
    minutes = WholeNumberField("Reminder", minimum=0, maximum=10_080)
    member_id = IdSelectField("Member")
    listed_id = IdSelectField("Listed", validate_choice=True)
    carried_id = IdSelectField(widget=HiddenInput())


def submitted(**values: str) -> ExampleForm:
    form = ExampleForm(MultiDict(values))
    form.member_id.set_choices([])
    form.listed_id.choices = [NONE_CHOICE, SelectChoice(7, "Seven")]
    form.validate()
    return form


@pytest.mark.parametrize("typed", ["1,234.50", "1234.5", " 12 "])
def test_money_field_reads_amounts_as_cents(typed: str) -> None:
    form = submitted(revenue=typed)
    assert not form.revenue.errors
    assert form.revenue.data == Decimal(typed.replace(",", "").strip()).quantize(Decimal("0.01"))


@pytest.mark.parametrize("typed", ["12e3", "Infinity", "0.001", "-5", "1 000"])
def test_money_field_refuses_what_is_not_an_amount_naming_the_field(typed: str) -> None:
    form = submitted(revenue=typed)
    assert form.revenue.data is None
    assert form.revenue.errors and form.revenue.errors[0].startswith("The revenue ")
    assert form.revenue._value() == typed  # kept for the person to correct


def test_whole_number_field_keeps_its_bounds() -> None:
    assert submitted(minutes="10,080").minutes.data == 10_080
    assert submitted(minutes="10081").minutes.errors == ["The reminder must be from 0 to 10,080."]
    assert submitted(minutes="-5").minutes.errors == ["The reminder cannot be negative."]
    assert submitted(minutes="").minutes.data is None


def test_id_select_field_refuses_what_is_not_an_id() -> None:
    assert submitted(member_id="42").member_id.data == 42  # whether it exists: the service's
    assert submitted(member_id="").member_id.data == 0
    for typed in ("x", "-1", "²", "99999999999"):
        form = submitted(member_id=typed)
        assert (form.member_id.data, form.member_id.errors) == (
            None,
            ["Member: choose one from the list."],
        )


def test_id_select_field_may_accept_only_the_listed_ids() -> None:
    assert submitted(listed_id="7").listed_id.errors == []
    assert submitted(listed_id="0").listed_id.errors == []
    assert submitted(listed_id="8").listed_id.errors == ["Listed: choose one from the list."]
    assert submitted(listed_id="x").listed_id.errors == ["Listed: choose one from the list."]


def test_id_select_field_may_carry_an_id_hidden() -> None:
    assert 'type="hidden" value="12"' in submitted(carried_id="12").carried_id()
    assert 'value=""' in submitted(carried_id="x").carried_id()
