"""The Commitment checklist's Setup form: one set-up item."""

from __future__ import annotations

from flask_wtf import FlaskForm

from crmlite.web.fields import LineField


class ChecklistItemForm(FlaskForm):
    label = LineField("New set-up item", description="e.g. “Agreement signed and filed”.")
