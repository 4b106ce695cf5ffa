"""Form fields shared by every area: each reads what a person typed through the one parser of
its kind (``services.money``, ``services.parsing``), keeps the raw text for redisplay, and
puts the parser's message next to the field."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from wtforms import Field, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import TextInput

from crmlite.services import money, parsing

NONE_CHOICE = SelectChoice(0, "—")


class MoneyField(Field):
    """An amount of money (``services.money`` rules); empty is None unless required.

    ``label_in_message`` names the field in errors: "The revenue must be …".
    """

    widget = TextInput()

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        what: str | None = None,
        required: bool = False,
        negative: bool = False,
        **kwargs: Any,
    ) -> None:
        render_kw = kwargs.setdefault("render_kw", {})
        render_kw.setdefault("inputmode", "decimal")
        render_kw.setdefault("autocomplete", "off")
        super().__init__(label, validators, **kwargs)
        self.what = what or f"The {str(label or 'amount').lower()}"
        self.required = required
        self.negative = negative
        self.raw: str | None = None

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        self.raw = str(valuelist[0])
        self.data = None
        if not self.raw.strip() and not self.required:
            return
        try:
            self.data = money.parse_amount(self.raw, label=self.what, negative=self.negative)
        except money.InvalidAmount as error:
            raise ValueError(str(error)) from error

    def _value(self) -> str:
        if self.raw is not None:
            return self.raw
        value: Decimal | None = self.data
        return "" if value is None else f"{value:.2f}"


class WholeNumberField(Field):
    """A whole number within bounds (``services.parsing`` rules); empty is None unless
    required."""

    widget = TextInput()

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        what: str | None = None,
        minimum: int = 0,
        maximum: int = parsing.MAX_INT,
        required: bool = False,
        **kwargs: Any,
    ) -> None:
        render_kw = kwargs.setdefault("render_kw", {})
        render_kw.setdefault("inputmode", "numeric")
        super().__init__(label, validators, **kwargs)
        self.what = what or f"The {str(label or 'number').lower()}"
        self.minimum, self.maximum, self.required = minimum, maximum, required
        self.raw: str | None = None

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        self.raw = str(valuelist[0])
        self.data = None
        if not self.raw.strip() and not self.required:
            return
        try:
            self.data = parsing.parse_whole(
                self.raw, label=self.what, minimum=self.minimum, maximum=self.maximum
            )
        except parsing.InvalidNumber as error:
            raise ValueError(str(error)) from error

    def _value(self) -> str:
        if self.raw is not None:
            return self.raw
        return "" if self.data is None else str(self.data)


class HoursField(Field):
    """Hours spent (``services.parsing.parse_hours``); always required."""

    widget = TextInput()

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("render_kw", {}).setdefault("inputmode", "decimal")
        super().__init__(label, validators, **kwargs)
        self.raw: str | None = None

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        self.raw = str(valuelist[0])
        self.data = None
        try:
            self.data = parsing.parse_hours(self.raw)
        except parsing.InvalidNumber as error:
            raise ValueError(str(error)) from error

    def pre_validate(self, form: Any) -> None:
        if self.data is None and not self.process_errors:
            raise StopValidation("Enter the hours, such as 1.5.")

    def _value(self) -> str:
        if self.raw is not None:
            return self.raw
        return "" if self.data is None else str(self.data)


class IdSelectField(SelectField):
    """A choice of a record by id; 0 (or empty) means none. Whether the record exists and may
    be chosen is the service's rule, so an outdated or forged id gets a clear message there
    instead of "Not a valid choice"; a value that is not an id at all is refused here.

    ``validate_choice=True``: only the ids listed (0 only when "—" is offered) are accepted,
    for forms whose service takes the id as given. ``widget=HiddenInput()`` carries a
    chosen id along in a hidden input."""

    data: int | None  # None: what was sent is not an id (the field has an error)

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        validate_choice: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, coerce=int, validate_choice=validate_choice, **kwargs)

    def process_data(self, value: Any) -> None:
        # A record without one (None stored, no default) shows "—" and reads as 0.
        super().process_data(0 if value is None else value)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        raw = str(valuelist[0]).strip()
        if raw in ("", "0"):
            self.data = 0
            return
        self.data = parsing.parse_id(raw)
        if self.data is None:
            raise ValueError(self.refusal)

    @property
    def refusal(self) -> str:
        return f"{self.label.text}: choose one from the list."

    def pre_validate(self, form: Any) -> None:
        # What validate_choice refuses, in words that name the field.
        try:
            super().pre_validate(form)
        except ValidationError:
            raise ValidationError(self.refusal) from None

    def _value(self) -> str:
        # What a hidden input carries (``widget=HiddenInput()``), e.g. the stage a card
        # moves to while the move's question is answered.
        return str(self.data) if self.data else ""

    def set_choices(self, items: Sequence[Any], label: str = "name", none: bool = True) -> None:
        choices = [SelectChoice(item.id, getattr(item, label)) for item in items]
        self.choices = [NONE_CHOICE, *choices] if none else choices


class LineField(StringField):
    """Single-line text without control characters or surrounding spaces."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist:
            self.data = parsing.clean_line(valuelist[0])


class EmailAddress:
    """Validator: an e-mail address by ``parsing.parse_email``, the rule the CLI and imports
    use too (no DNS look-up); ``message`` replaces the parser's own. Empty values are left to
    ``DataRequired``/``Optional``."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message

    def __call__(self, _form: Any, field: Field) -> None:
        if not field.data:
            return
        try:
            parsing.parse_email(field.data)
        except parsing.InvalidEmail as error:
            raise ValidationError(self.message or str(error)) from None
