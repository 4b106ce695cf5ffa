"""What comes in with a request, checked before any view reads it (issue #13):

- **Size**: every request body is limited (``MAX_CONTENT_LENGTH``, a few MB); the routes
  that take larger uploads (e-mail capture) raise their own limit. Beyond it the answer is a
  413 page that says what the limit is.
- **Control characters**: NUL and other control characters never reach a view: they are
  removed from every query-string and form value (tab and line breaks are kept; single-line
  fields drop line breaks themselves, see ``web/fields.py``). PostgreSQL cannot store a NUL
  and no person types one.
- **Ids in paths**: ``<int:…>`` in a route matches ASCII digits up to the largest id a column
  holds (``services.parsing.MAX_ID``); anything else is simply not found (404), never a
  database error.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, render_template, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from crmlite.extensions import db
from crmlite.services.parsing import MAX_ID, without_controls


class CleanMultiDict(ImmutableMultiDict[str, Any]):
    """Query-string or form values without control characters (uploaded files untouched)."""

    def __init__(self, mapping: Any = None) -> None:
        if mapping is None:
            super().__init__()
            return
        items = mapping.items(multi=True) if hasattr(mapping, "items") else mapping
        super().__init__(
            [(key, without_controls(v) if isinstance(v, str) else v) for key, v in items]
        )


class CleanRequest(Request):
    parameter_storage_class = CleanMultiDict


class IdConverter(IntegerConverter):
    """``<int:id>``: ASCII digits, 1 to MAX_ID."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MB" if size >= 1024 * 1024 else f"{size // 1024} KB"


def register(app: Flask) -> None:
    """Before the blueprints: the converter applies to the routes as they are added."""
    app.request_class = CleanRequest
    app.url_map.converters["int"] = IdConverter

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:

        db.session.rollback()
        limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
        return render_template(
            "errors/error.html",
            code=413,
            title="Too large",
            message=f"What you sent is larger than the {megabytes(limit)} crmlite accepts. "
            "Nothing was saved.",
        ), 413
