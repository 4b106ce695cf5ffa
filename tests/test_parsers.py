"""The one parser of each kind: amounts, ids, whole numbers, text (services.money, .parsing)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmlite.services import money, parsing
from crmlite.services.money import InvalidAmount, parse_amount
from crmlite.services.parsing import InvalidNumber, parse_id, parse_whole

HOSTILE_AMOUNTS = [
    "Infinity",
    "-Infinity",
    "inf",
    "NaN",
    "sNaN",
    "1e309",
    "1e20",
    "12e3",
    "1E3",
    "0x10",
    "abc",
    "",
    "   ",
    "1,23",
    "1,2345",
    ",100",
    "1.234",
    "0.001",
    "4000.005",
    "²",
    "١٢٣",
    "1 000",
    "$100",
    "--1",
    "+5",
    "1.",
    ".",
    "10000000000",
    "10,000,000,000.00",
    "99999999999999999999999999",
    "1\x00",
    "１２",
    "-1",
    "-0.01",
]


@pytest.mark.parametrize("text", HOSTILE_AMOUNTS)
def test_hostile_amounts_are_refused_with_the_rule(text: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_amount(text, label="The revenue")
    assert str(refused.value).startswith("The revenue ")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", "0.00"),
        ("1234", "1234.00"),
        ("1234.5", "1234.50"),
        (" 1,234.50 ", "1234.50"),
        ("1,234,567.89", "1234567.89"),
        ("9999999999.99", "9999999999.99"),
        ("007", "7.00"),
    ],
)
def test_amounts_a_person_writes(text: str, value: str) -> None:
    assert parse_amount(text) == Decimal(value)
    assert parse_amount(text).as_tuple().exponent == -2


def test_messages_say_what_is_wrong() -> None:
    with pytest.raises(InvalidAmount, match="cannot be negative"):
        parse_amount("-5", label="The won amount")
    with pytest.raises(InvalidAmount, match="at most two decimals"):
        parse_amount("0.001")
    with pytest.raises(InvalidAmount, match=r"below 10,000,000,000\.00"):
        parse_amount("10000000000")
    with pytest.raises(InvalidAmount, match="“abc” is not"):
        parse_amount("abc", label="The won amount")
    assert parse_amount("-5", negative=True) == Decimal("-5.00")


@given(st.decimals(min_value=0, max_value=money.MAXIMUM, places=2))
def test_every_amount_survives_its_own_formatting(value: Decimal) -> None:
    assert parse_amount(money.format_amount(value)) == value
    assert parse_amount(f"{value:.2f}") == value


@given(st.text(max_size=30))
def test_anything_typed_is_an_amount_within_bounds_or_refused(text: str) -> None:
    try:
        value = parse_amount(text)
    except InvalidAmount:
        return
    assert value.is_finite() and 0 <= value < money.LIMIT
    assert value == value.quantize(money.CENTS)


def test_rounding_and_percentages_round_half_up() -> None:
    assert money.cents(2.675) == Decimal("2.68")  # a SQLite float sum
    assert money.cents(None) == Decimal("0.00")
    assert money.as_decimal(0.1) == Decimal("0.1") and money.as_decimal(None) == 0
    assert money.whole_percent(2895, 4000) == 72
    assert money.whole_percent(1, 200) == 1  # 0.5 % rounds up
    assert money.whole_percent(5, 0) is None
    assert money.percent(1, 3, places=1) == Decimal("33.3")
    assert money.weighted(Decimal("6200.00"), 60) == Decimal("3720.00")


@pytest.mark.parametrize(
    "text", ["", "0", "-1", "²", "١٢٣", "1.0", "1e3", " 1 2", "2147483648", "99999999999", "0x1"]
)
def test_what_is_not_an_id(text: str) -> None:
    assert parse_id(text) is None


def test_ids() -> None:
    assert parse_id("42") == 42
    assert parse_id(" 42 ") == 42
    assert parse_id("2147483647") == 2_147_483_647
    assert parse_id(None) is None
    assert parsing.parse_ids(["3", "x", "3", "7", "0"]) == [3, 7]


def test_whole_numbers() -> None:
    assert parse_whole("1,000", label="The quota") == 1000
    with pytest.raises(InvalidNumber, match="The quota must be from 1 to 10,000"):
        parse_whole("10001", label="The quota", minimum=1, maximum=10_000)
    with pytest.raises(InvalidNumber, match="whole number written with the digits 0–9"):
        parse_whole("1e9", label="The quota")
    with pytest.raises(InvalidNumber, match="cannot be negative"):
        parse_whole("-3", label="The count")
    assert parse_whole("-3", minimum=-10) == -3


def test_text_loses_control_characters() -> None:
    assert parsing.clean_line("  Acme\x00 Corp\r\nWest\t ") == "Acme Corp West"
    assert parsing.clean_multiline("line one\r\nline\x00 two\tend\x07") == "line one\nline two\tend"
    assert parsing.clean_line(None) == ""


def test_shown_amounts_and_percentages_round_half_up() -> None:
    assert money.half_up(Decimal("2.5")) == 3 and money.half_up(Decimal("0.125"), 2) == Decimal(
        "0.13"
    )
    assert money.format_amount(Decimal("1234.5")) == "1,234.50"
    assert money.format_amount(Decimal("1234.50"), 0) == "1,235"  # not to even
    assert money.format_amount(Decimal("-2.50"), 0) == "-3"
    assert money.format_amount(None) == "—"
    assert money.format_percent(72) == "72 %"
    assert money.format_percent(Decimal("12.5")) == "13 %"
    assert money.format_percent(Decimal("64.95"), 1) == "65.0 %"
    assert money.format_percent(None) == "—"
