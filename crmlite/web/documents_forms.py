"""The documents section's form: one file."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField

from crmlite.services.documents import ACCEPTED


class DocumentForm(FlaskForm):
    document = FileField(
        "Upload a document",
        description=f"{ACCEPTED}; checked by what the file holds, not its name.",
        render_kw={"accept": ".pdf,.docx,.xlsx,.pptx,.png,.jpg,.jpeg,.txt,.csv,.md"},
    )
