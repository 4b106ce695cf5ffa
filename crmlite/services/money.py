"""Money: what a person may type as an amount, how amounts round, and percentages.

The rules, the same on every form, import, CLI option and API field:

- An amount is ASCII digits with an optional decimal point and at most two decimals:
  ``1234``, ``1234.5``, ``1234.50``. Thousands may be grouped with commas, in groups of
  three: ``1,234.50`` (``1,23`` is refused). Spaces around it are ignored.
- No exponents (``1e3``), no ``NaN`` or ``Infinity``, no other digits than 0–9, no currency
  signs, and no minus sign unless the field allows negative amounts (none does today).
- Amounts are below 10,000,000,000.00 (ten billion): what every money column holds on
  SQLite and PostgreSQL alike, with room for sums.
- Amounts are kept as exact ``Decimal`` cents. Figures derived from amounts (sums from SQL,
  weighted revenue, averages) round half up to the cent; percentages round half up to a
  whole percent unless a screen shows decimals.
"""

from __future__ import annotations

import functools
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_currency, list_currencies

from crmlite.models.base import AMOUNT_LIMIT, ZERO

CENTS = Decimal("0.01")
# Exclusive upper bound of every stored amount (the CHECK constraints use the same figure).
LIMIT = Decimal(AMOUNT_LIMIT)
MAXIMUM = LIMIT - CENTS

_AMOUNT = re.compile(r"(-)?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]*))?")
# Shown in place of a stored figure that is not a number, so one odd row never takes a page down.
INVALID_MARKER = "⚠ not a number"
FORMAT_HINT = "digits with an optional decimal point and up to two decimals, e.g. 1,234.50"


class InvalidAmount(ValueError):
    """What was typed is not an amount crmlite accepts; the message says why."""


def parse_amount(
    text: str | Decimal | int | None, *, label: str = "The amount", negative: bool = False
) -> Decimal:
    """The amount a person typed, as exact cents, or InvalidAmount naming the rule broken.

    ``label`` names the field in the message ("The revenue", "The won amount").
    Decimals and ints (from code, not people) pass through the same bounds.
    """
    if isinstance(text, bool):
        raise InvalidAmount(f"{label} must be {FORMAT_HINT}.")
    if isinstance(text, int | Decimal):
        return _bounded(Decimal(text), label, negative, str(text))
    raw = (text or "").strip()
    if not raw:
        raise InvalidAmount(f"{label} is required: enter {FORMAT_HINT}.")
    match = _AMOUNT.fullmatch(raw)
    if match is None:
        raise InvalidAmount(f"{label} must be {FORMAT_HINT}; “{raw[:20]}” is not.")
    sign, whole, decimals = match.groups()
    if decimals is not None and not 1 <= len(decimals) <= 2:
        raise InvalidAmount(
            f"{label} can have at most two decimals (cents)."
            if decimals
            else f"{label} must be {FORMAT_HINT}; “{raw[:20]}” is not."
        )
    value = Decimal(whole.replace(",", "") + ("." + decimals if decimals else ""))
    return _bounded(-value if sign else value, label, negative, raw)


def _bounded(value: Decimal, label: str, negative: bool, raw: str) -> Decimal:
    if not value.is_finite():
        raise InvalidAmount(f"{label} must be {FORMAT_HINT}; “{raw[:20]}” is not.")
    if value < 0 and not negative:
        raise InvalidAmount(f"{label} cannot be negative.")
    if abs(value) >= LIMIT:
        raise InvalidAmount(f"{label} must be below 10,000,000,000.00.")
    if value != value.quantize(CENTS, rounding=ROUND_HALF_UP):
        raise InvalidAmount(f"{label} can have at most two decimals (cents).")
    return value.quantize(CENTS)


def optional_amount(
    text: str | None, *, label: str = "The amount", negative: bool = False
) -> Decimal | None:
    """Like parse_amount, but an empty field is None (no amount)."""
    if text is None or not str(text).strip():
        return None
    return parse_amount(text, label=label, negative=negative)


def is_valid_amount(value: Decimal | None, *, negative: bool = False) -> bool:
    """Whether a stored or computed amount is one crmlite can hold."""
    if value is None:
        return False
    try:
        _bounded(Decimal(value), "", negative, "")
    except (InvalidAmount, InvalidOperation):
        return False
    return True


def half_up(value: Decimal, places: int = 0) -> Decimal:
    """A number rounded half up to ``places`` decimals: 2.5 → 3 and 0.125 → 0.13 (Python's
    ``round()`` and ``Decimal`` formatting would round to even: 2 and 0.12). A value that is
    not a finite number (a row stored before the CHECK constraints, read from SQLite as
    Infinity) comes back as it is, for ``format_amount`` to mark."""
    if not value.is_finite():
        return value
    quantum = _QUANTA.get(places) or Decimal(1).scaleb(-places)
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(5)}


def as_decimal(value: Any) -> Decimal:
    """A number from SQL (SQLite may hand back a float or an int) as a Decimal, unrounded;
    a float as it prints (0.1, not 0.1000000000000000055…); None is zero."""
    if value is None:
        return ZERO
    return value if isinstance(value, Decimal) else Decimal(str(value))


def cents(value: Any) -> Decimal:
    """A figure derived from amounts (a SQL sum, which SQLite may hand back as a float or an
    int; a product with a percentage) as exact cents, rounded half up; None is zero."""
    return half_up(as_decimal(value), 2)


def from_cents(value: Any, places: int = 2) -> Decimal:
    """An amount kept by the database as a whole number of hundredths (``places`` 2: cents;
    4: cents times a percentage, as the kept weighted totals are), as exact cents; None is
    zero."""
    amount = Decimal(int(value or 0)).scaleb(-places)
    return amount if places == 2 else half_up(amount, 2)


def percent(part: Any, whole: Any, places: int = 0) -> Decimal | None:
    """part ÷ whole in percent, rounded half up to ``places`` decimals; None when the whole
    is zero or missing, or either is not a finite number (no meaningful percentage)."""
    if not whole:
        return None
    part, whole = as_decimal(part), as_decimal(whole)
    if not (part.is_finite() and whole.is_finite()):
        return None
    return half_up(part * 100 / whole, places)


def whole_percent(part: Any, whole: Any) -> int | None:
    """part ÷ whole as a whole percent, half up; None without a (non-zero) whole."""
    value = percent(part, whole)
    return None if value is None else int(value)


def weighted(amount: Decimal, probability: int | Decimal) -> Decimal:
    """An amount times a probability in percent, in cents."""
    return cents(amount * Decimal(probability) / 100)


def format_amount(value: Decimal | int | None, places: int = 2) -> str:
    """1234.5 → "1,234.50"; with ``places=0`` 1234.50 → "1,235" (half up); None → "—"."""
    if value is None:
        return "—"
    number = Decimal(value)
    if not number.is_finite():
        return INVALID_MARKER
    return f"{half_up(number, places):,.{places}f}"


# Figures are written the US way ("$1,234.50", "€1,234.50"); the currency is the team's.
LOCALE = "en_US"


def is_currency(code: str) -> bool:
    """An ISO 4217 code Babel knows, e.g. "USD", "EUR", "GBP"."""
    return code in list_currencies()


def format_money(value: Decimal | int | None, currency: str, *, whole: bool = False) -> str:
    """An amount with its currency, formatted by Babel: 1234.5 in USD → "$1,234.50", in EUR
    → "€1,234.50"; ``whole`` rounds half up to whole units ("$1,235"), as column headers
    show; None → "—"."""
    if value is None:
        return "—"
    number = Decimal(value)
    if not number.is_finite():
        return INVALID_MARKER
    return _in_currency(half_up(number, 0 if whole else 2), currency, whole)


@functools.lru_cache(maxsize=8192)
def _in_currency(rounded: Decimal, currency: str, whole: bool) -> str:
    """Babel's text for an amount already rounded, remembered: a page shows the same column
    totals and amounts on every load, and Babel takes about 0.1 ms each."""
    if whole:
        return format_currency(rounded, currency, "¤#,##0", locale=LOCALE, currency_digits=False)
    return format_currency(rounded, currency, locale=LOCALE)


def format_percent(value: Decimal | int | float | None, places: int = 0) -> str:
    """A percentage as shown: 72 → "72 %", 12.5 → "13 %", 64.95 with one place → "65.0 %"
    (half up); None (no meaningful percentage) → "—"."""
    if value is None:
        return "—"
    if type(value) is int and not places:  # a whole percent (hundreds a page)
        return f"{value} %"
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return f"{half_up(number, places):.{places}f} %"
