"""The web layer: blueprints, sign-in guard, security headers, error pages, filters."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, abort, g, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from crmlite.database import end_unwritten_transaction, write_intent
from crmlite.extensions import db, login_manager
from crmlite.services import permissions
from crmlite.services.parsing import InvalidNumber, parse_id, parse_whole
from crmlite.web import filters, incoming

if TYPE_CHECKING:
    from crmlite.models import Member

F = TypeVar("F", bound=Callable[..., Any])

READ_ONLY_METHODS = {"GET", "HEAD", "OPTIONS"}

# No inline scripts or styles, no eval: every script is a file under static/.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


def public(view: F) -> F:
    """Mark a view as reachable without signing in (sign-in page, public tracking/forms);
    its endpoint is ``PUBLIC`` in ``services.permissions.ROUTES`` too (a test checks both)."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def me() -> Member:
    """The signed-in member itself, not the request's proxy: what a service keeps (an
    event published with it, a row's author) may outlive the request."""
    return cast("Member", current_user._get_current_object())


def may(action: str, record: Any = None) -> bool:
    """Whether the signed-in member may (``services.permissions``); templates ask it too."""
    return permissions.allows(current_user, action, record)


def require(action: str, record: Any = None) -> None:
    """403 unless the signed-in member may do this with this record."""
    permissions.require(current_user, action, record)


def get_or_404(model: type, ident: int) -> Any:
    """The record with this id, else 404 (also for a number no id column holds)."""
    obj = db.session.get(model, ident) if parse_id(ident) is not None else None
    if obj is None:
        abort(404)
    return obj


class BadQuery(ValueError):
    """A value in the query string the page cannot read; the message says what to fix."""


def whole_arg(
    args: MultiDict[str, str], name: str, label: str, minimum: int, maximum: int
) -> int | None:
    """A whole number from the query string (a year, a quarter, a month): None when absent,
    BadQuery naming the bounds and what was typed when it is not one of them."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return parse_whole(raw, label=label, minimum=minimum, maximum=maximum)
    except InvalidNumber:
        raise BadQuery(
            f"{label} must be a whole number from {minimum} to {maximum}, not “{raw[:20]}”."
        ) from None


def offset_arg() -> int:
    """Where a "Load more" list goes on (``?offset=``): a whole number of rows, 0 when
    missing or malformed."""
    try:
        return parse_whole(request.args.get("offset") or "0", label="The offset")
    except InvalidNumber:
        return 0


def strip(value: str | None) -> str | None:
    """WTForms filter: surrounding spaces are never meant."""
    return value.strip() if isinstance(value, str) else value


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def announce(say: str = "", focus: str | list[str] = "") -> dict[str, str]:
    """Response headers telling the page what just happened: static/app.js says ``say`` in
    the page's polite live region and, once the answer has settled, puts the focus on the
    first element ``focus`` (a CSS selector, or several to try in order) finds: the card, row
    or block that was worked on, in its new place."""
    detail: dict[str, Any] = {}
    if say:
        detail["say"] = say
    if focus:
        detail["focus"] = [focus] if isinstance(focus, str) else focus
    return {"HX-Trigger-After-Settle": json.dumps({"crm-done": detail})}


def safe_next(target: str | None, default: str) -> str:
    """Where to go back to: a path on this site, else ``default``; never an open redirect
    to another host (browsers read a backslash as a slash, and drop tabs and newlines)."""
    if not target:
        return default
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 or ord(c) == 127 for c in target)
    ):
        return default
    return target


def register_web(app: Flask) -> None:
    from crmlite.web import (
        activities,
        api,
        audit,
        auth,
        board,
        calendar,
        campaigns,
        capture,
        checklists,
        companies,
        dashboard,
        documents,
        email_campaigns,
        imports,
        main,
        opportunities,
        points,
        products,
        public_pages,
        quotas,
        setup,
        time_expenses,
        tracks,
        webhooks,
    )

    incoming.register(app)  # before the blueprints: their <int:…> routes use its converter
    api.register(app)
    for module in (
        auth,
        main,
        board,
        opportunities,
        companies,
        activities,
        calendar,
        points,
        dashboard,
        quotas,
        campaigns,
        email_campaigns,
        public_pages,
        tracks,
        setup,
        capture,
        audit,
        imports,
        webhooks,
        products,
        time_expenses,
        documents,
        checklists,
    ):
        app.register_blueprint(module.bp)

    # The user loader, which checks the sign-in behind each request: web/sessions.py.
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"

    filters.register(app)
    _register_guards(app)
    _register_error_pages(app)


def is_public(app: Flask, endpoint: str) -> bool:
    """Reachable without signing in: marked ``@public`` and ``PUBLIC`` in the route rules."""
    view = app.view_functions.get(endpoint)
    return getattr(view, "is_public", False) and permissions.ROUTES.get(endpoint) is (
        permissions.PUBLIC
    )


def _register_guards(app: Flask) -> None:
    @app.before_request
    def mark_read_only() -> None:
        # SQLite: read-only requests begin deferred, so they never queue behind writers.
        g.write_intent_token = write_intent.set(request.method not in READ_ONLY_METHODS)

    @app.teardown_request
    def reset_write_intent(_exc: BaseException | None) -> None:
        token = g.pop("write_intent_token", None)
        if token is not None:
            write_intent.reset(token)

    @app.teardown_request
    def keep_prepared_statements(exc: BaseException | None) -> None:
        if exc is None:
            end_unwritten_transaction(db.session())

    # The API signs its callers in with their token (never the session cookie) before the
    # sign-in guard and the route rules below look at who is signed in.
    from crmlite.web.api import authenticate

    app.before_request(authenticate)

    @app.before_request
    def require_sign_in() -> Any:
        if request.endpoint is None or request.endpoint == "static":
            return None
        if is_public(app, request.endpoint) or current_user.is_authenticated:
            return None
        if is_htmx():
            # htmx would swap the sign-in page into a fragment: send the browser there instead.
            return "", 401, {"HX-Redirect": url_for("auth.login")}
        return login_manager.unauthorized()

    @app.before_request
    def team_settings() -> None:
        from crmlite.services.team import get_team

        if request.endpoint and request.endpoint != "static":
            # Held for the request, so later get_team() calls find it in the session's
            # identity map instead of querying again. A signed-in request has it already
            # (read with the sign-in, web/sessions.py).
            g.team = g.get("team") or get_team()
            g.team_name = g.team.name
            g.tz = ZoneInfo(g.team.time_zone)

    @app.before_request
    def check_route_rule() -> None:
        """The endpoint's rule (``services.permissions.ROUTES``): a role the action never
        allows is refused here, before any record is looked up; the view checks the record.
        An endpoint without a rule is refused to everyone."""
        endpoint = request.endpoint
        if endpoint is None or endpoint == "static" or is_public(app, endpoint):
            return
        rule = permissions.ROUTES.get(endpoint)
        if rule is None or rule is permissions.PUBLIC:
            app.logger.error("No permission rule for the endpoint %s: refused", endpoint)
            abort(403)
        if not permissions.role_may(current_user.role, rule.action):
            abort(403)

    @app.context_processor
    def permission_helpers() -> dict[str, Any]:
        return {"may": may}

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # HSTS once crmlite is reached over TLS (PREFERRED_URL_SCHEME=https, or this request
        # came in over https, as the proxy tells with TRUSTED_PROXIES).
        hsts = app.config["STRICT_TRANSPORT_SECURITY"]
        if hsts and (request.is_secure or app.config["PREFERRED_URL_SCHEME"] == "https"):
            response.headers.setdefault("Strict-Transport-Security", hsts)
        if current_user and getattr(current_user, "is_authenticated", False):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


PLAIN_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def _register_error_pages(app: Flask) -> None:
    messages = {
        400: ("Bad request", "The request could not be understood."),
        401: ("Sign-in needed", "Please sign in to continue."),
        403: ("Not allowed", "You do not have permission to see or change this."),
        404: ("Not found", "There is nothing here. It may have been removed."),
        405: ("Not allowed", "That action is not available here."),
        429: ("Too many attempts", "Too many attempts. Wait a minute, then try again."),
        500: ("Something went wrong", "Something went wrong on our side. Nothing was saved."),
        503: ("Not available just now", "This is not available just now. Try again later."),
    }

    def render_error(code: int, detail: str | None = None) -> tuple[str, int]:
        title, message = messages.get(code, ("Error", "Something went wrong."))
        return render_template(
            "errors/error.html", code=code, title=title, message=detail or message
        ), code

    @app.errorhandler(SecurityError)
    def untrusted_host(_error: SecurityError) -> tuple[str, int, dict[str, str]]:
        # A Host outside TRUSTED_HOSTS: no link can be built for it, so no page either.
        return "Bad request: crmlite is not served at that address.\n", 400, PLAIN_TEXT

    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError) -> tuple[str, int]:
        db.session.rollback()
        return render_error(
            400,
            "The form expired or was not sent by crmlite. "
            "Reload the page and try again; nothing was changed.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if error.code in (301, 302, 303, 307, 308):
            return error
        db.session.rollback()
        if request.path.startswith("/api/"):  # no route (404, 405) under the API: JSON too
            from crmlite.web.api import http_error_as_problem

            return http_error_as_problem(error)
        return render_error(error.code or 500)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Any:
        db.session.rollback()
        if app.testing:
            raise error
        app.logger.exception("Unhandled error", exc_info=error)
        if request.path.startswith("/api/"):
            from crmlite.web.api import http_error_as_problem

            return http_error_as_problem(InternalServerError("Nothing was saved."))
        return render_error(500)
