"""The import wizard's forms: the file and what it holds; which column feeds which field,
what to do with duplicates, and a name to keep the mapping under."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectChoice, SelectField
from wtforms.validators import Length, Optional

from crmlite.models import DuplicateMode, ImportKind
from crmlite.services.imports.mapping import FIELDS
from crmlite.web.fields import LineField

KIND_CHOICES = [SelectChoice(kind.value, kind.label) for kind in ImportKind]
DUPLICATE_CHOICES = [
    SelectChoice(DuplicateMode.SKIP.value, "Skip them: keep what crmlite has"),
    SelectChoice(DuplicateMode.UPDATE.value, "Update them with the file's non-empty cells"),
    SelectChoice(DuplicateMode.CREATE.value, "Create them anyway"),
]
NOT_IMPORTED = ""


class UploadForm(FlaskForm):
    kind = SelectField(
        "The file holds",
        choices=KIND_CHOICES,
        validate_choice=True,
        description="Import companies and contacts first: opportunities and activities refer "
        "to them.",
    )
    data_file = FileField(
        "File (CSV or Excel .xlsx)",
        description="The first row names the columns. Up to 32 MB (about 200,000 rows).",
        render_kw={"accept": ".csv,.txt,.xlsx,text/csv,text/plain,"
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    )  # fmt: skip


class ColumnsForm(FlaskForm):
    """One select per field of the kind, added by ``columns_form``."""

    duplicates = SelectField(
        "Rows matching a company (by name or web domain) or a contact (by e-mail) already here",
        choices=DUPLICATE_CHOICES,
        validate_choice=True,
        default=DuplicateMode.SKIP.value,
    )
    mapping_name = LineField(
        "Save this mapping as",
        description="Optional: a name to pick it again for the next file of this shape.",
        validators=[Optional(), Length(max=120)],
    )

    def field_names(self) -> list[str]:
        return [name for name in self._fields if name.startswith("column_")]

    def columns(self) -> dict[str, str]:
        """field key → header, for the fields a column was chosen for."""
        return {
            name.removeprefix("column_"): self[name].data
            for name in self.field_names()
            if self[name].data
        }


def columns_form(
    kind: str, headers: list[str], columns: dict[str, str], **kwargs: Any
) -> ColumnsForm:
    """The mapping form of this kind of import, each select offering the file's headers
    and preset to ``columns``."""

    class Form(ColumnsForm):
        pass

    choices = [SelectChoice(NOT_IMPORTED, "— not imported —")] + [
        SelectChoice(h, h) for h in headers
    ]
    for field in FIELDS[kind]:
        setattr(
            Form,
            f"column_{field.key}",
            SelectField(
                field.label + (" (required)" if field.required else ""),
                choices=choices,
                validate_choice=True,
                default=columns.get(field.key, NOT_IMPORTED),
            ),
        )
    return Form(**kwargs)
