"""Ids, whole numbers and text from forms, query strings, CSV files, the CLI and the API.

The rules, the same wherever a value comes from:

- **Ids** are ASCII digits (no sign, no spaces inside, no other scripts' digits such as
  "²" or "٣") from 1 to 2,147,483,647, what an id column holds on every database. Anything
  else is not an id: a path with it answers 404, a filter 400, a form field says so.
- **Whole numbers** (counts, points, minutes, percentages) are ASCII digits, optionally
  grouped by commas in threes, with a minus sign only where negatives make sense, within
  the bounds the field states.
- **Hours** (time spent) are ASCII digits with an optional decimal point and at most two
  decimals (``1``, ``1.5``, ``0.25``), more than 0 and at most 24 (one entry is one day's
  work).
- **E-mail addresses** follow email-validator's syntax rules (no DNS look-up): a local part,
  an @ and a domain with a dot that is not a reserved name (``localhost``, ``.test``,
  ``.invalid``…), at most 254 characters. The sign-in form, the member, contact and web forms,
  ``flask crm add-member`` and CSV imports all ask ``parse_email``.
- **Text** never holds NUL or other control characters: they are removed on the way in,
  except tab and line breaks in multi-line text. Single-line text loses its line breaks
  too. Lengths are bounded as the columns are.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from email_validator import EmailNotValidError, validate_email

MAX_ID = 2_147_483_647
# Where a whole number has no bound of its own: what a 32-bit integer column holds.
MAX_INT = 2_147_483_647
_ID = re.compile(r"[0-9]{1,10}")
_HOURS = re.compile(r"[0-9]{1,2}(?:\.[0-9]{1,2})?|\.[0-9]{1,2}")
MAX_HOURS = Decimal(24)
_WHOLE = re.compile(r"(-)?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)")
# C0 controls but tab, newline and carriage return; DEL; C1 controls.
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x85\u2028\u2029]+")


MAX_EMAIL_LENGTH = 254


class InvalidNumber(ValueError):
    """What was typed is not a number the field accepts; the message says why."""


class InvalidEmail(ValueError):
    """What was typed is not an e-mail address; the message says why."""


def parse_id(value: Any) -> int | None:
    """The id in a path, query string or form value, or None when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 1 <= value <= MAX_ID else None
    text = value.strip() if isinstance(value, str) else ""
    if not _ID.fullmatch(text):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def parse_ids(values: list[str]) -> list[int]:
    """The ids among several form values (ticked boxes), in order, without repeats;
    anything that is not an id is left out."""
    found: dict[int, None] = {}
    for value in values:
        number = parse_id(value)
        if number is not None:
            found[number] = None
    return list(found)


def parse_whole(
    value: Any,
    *,
    label: str = "The number",
    minimum: int = 0,
    maximum: int = MAX_INT,
) -> int:
    """A whole number within [minimum, maximum], or InvalidNumber naming the rule."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            raise InvalidNumber(f"{label} is required: enter a whole number.")
        match = _WHOLE.fullmatch(text)
        if match is None:
            raise InvalidNumber(
                f"{label} must be a whole number written with the digits 0–9; “{text[:20]}” is not."
            )
        number = int(match[2].replace(",", ""))
        if match[1]:
            number = -number
    if number < minimum or number > maximum:
        if minimum == 0 and number < 0:
            raise InvalidNumber(f"{label} cannot be negative.")
        raise InvalidNumber(f"{label} must be from {minimum:,} to {maximum:,}.")
    return number


def optional_whole(
    value: Any, *, label: str = "The number", minimum: int = 0, maximum: int = MAX_INT
) -> int | None:
    """Like parse_whole, but an empty value is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_whole(value, label=label, minimum=minimum, maximum=maximum)


def parse_hours(value: Any, *, label: str = "The hours") -> Decimal:
    """Hours spent, e.g. "1.5", as a Decimal in hundredths: more than 0, at most 24, or
    InvalidNumber naming the rule."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidNumber(f"{label} are required: enter a number such as 1.5.")
    if not _HOURS.fullmatch(text):
        raise InvalidNumber(
            f"{label} must be a number of hours with at most two decimals, such as 1.5; "
            f"“{text[:20]}” is not."
        )
    hours = Decimal(text).quantize(Decimal("0.01"))
    if not 0 < hours <= MAX_HOURS:
        raise InvalidNumber(f"{label} must be more than 0 and at most 24.")
    return hours


def without_controls(text: str) -> str:
    """The text without NUL and other control characters; tab and line breaks kept."""
    return _CONTROL_MULTILINE.sub("", text)


def clean_text(value: Any, *, multiline: bool = False) -> str:
    """Text without control characters (tab and line breaks kept in multi-line text), and
    without surrounding spaces."""
    if value is None:
        return ""
    text = str(value)
    if multiline:
        text = _CONTROL_MULTILINE.sub("", text.replace("\r\n", "\n"))
    else:
        text = _CONTROL_MULTILINE.sub("", _LINE_BREAKS.sub(" ", text))
    return text.strip()


def clean_line(value: Any) -> str:
    """Single-line text: control characters and line breaks become spaces."""
    return clean_text(value)


def clean_multiline(value: Any) -> str:
    """Multi-line text: tabs and line breaks kept, other control characters removed."""
    return clean_text(value, multiline=True)


def parse_email(value: Any) -> str:
    """The e-mail address typed (surrounding spaces removed, the domain in lower case), or
    InvalidEmail saying what is wrong with it."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidEmail("Enter an e-mail address.")
    if len(text) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"An e-mail address has at most {MAX_EMAIL_LENGTH} characters.")
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidEmail(f"Enter a valid e-mail address: {error}") from None


# A text a spreadsheet would read as a formula starts with one of these; a CSV export puts
# an apostrophe before it (web/exporting.py), and an import takes it off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guarded(text: str) -> str:
    """A CSV text cell a spreadsheet will not read as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
