"""The JSON API under /api/v1 (issue #17): opportunities, companies, contacts, activities,
points and dashboard figures, for programs signed in with a member's personal access token.
The plumbing is in ``base``; one module per kind of record; ``spec`` is the OpenAPI
document."""

from __future__ import annotations

from flask import Flask

from crmlite.extensions import csrf
from crmlite.web.api import activities, figures, opportunities, people, spec
from crmlite.web.api.base import authenticate, bp, http_error_as_problem, limit_every_route

__all__ = [
    "activities",
    "authenticate",
    "bp",
    "figures",
    "http_error_as_problem",
    "opportunities",
    "people",
    "register",
    "spec",
]

limit_every_route()


def register(app: Flask) -> None:
    """The blueprint, without CSRF checks: its callers sign in with a token, never a cookie."""
    csrf.exempt(bp)
    app.register_blueprint(bp)
