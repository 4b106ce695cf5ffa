"""Companies and contacts: lists, details and edit pages."""

from __future__ import annotations

from crmlite.web.placeholder import placeholder_blueprint

bp = placeholder_blueprint(
    "companies",
    "/companies",
    "Companies",
    "companies and contacts with their opportunities and activities.",
)
