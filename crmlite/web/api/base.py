"""The JSON API's plumbing: the blueprint, signing in with a personal access token, errors
as ``application/problem+json`` (RFC 9457), ``ETag``/``If-Match``, JSON bodies read through
the pages' own forms, and cursor pagination.

- Only ``Authorization: Bearer crm_…`` signs a caller in here: the session cookie of a
  browser is ignored on ``/api/v1``, so a page on another site cannot make a signed-in
  browser call the API (and CSRF tokens are not needed).
- A body is read by the form the page uses for the same change (``web/*_forms.py``), fed
  the JSON values as if typed: the same parsers, the same messages, field by field.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn

from flask import Blueprint, Response, current_app, g, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from crmlite.database import utcnow
from crmlite.extensions import db, limiter, login_manager
from crmlite.services import api_tokens
from crmlite.services.parsing import clean_line, parse_id, parse_whole
from crmlite.services.periods import BadDay, parse_moment
from crmlite.web import is_public

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PROBLEM_JSON = "application/problem+json"
READ_ONLY_METHODS = {"GET", "HEAD", "OPTIONS"}
DEFAULT_LIMIT, MAX_LIMIT = 50, 100

TITLES = {
    400: "Bad request",
    401: "Token needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Changed meanwhile",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    428: "If-Match needed",
    429: "Too many requests",
    500: "Server error",
}


class ApiProblem(Exception):
    """An error answered as a problem document; ``errors`` maps fields to their messages."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers or {})


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        # A problem kind crmlite defines has its own URI; a plain HTTP error is about:blank.
        "type": f"urn:crmlite:problem:{kind}" if kind else "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def fail(status: int, detail: str, **kwargs: Any) -> NoReturn:
    raise ApiProblem(status, detail, **kwargs)


def invalid(errors: Mapping[str, list[str]], detail: str | None = None) -> NoReturn:
    """422: what was sent breaks a rule; each field's messages, as the form shows them."""
    raise ApiProblem(
        422,
        detail or "Some values are not valid; nothing was changed.",
        kind="validation",
        errors=errors,
    )


@bp.errorhandler(ApiProblem)
def api_problem(error: ApiProblem) -> Response:
    db.session.rollback()
    return problem(
        error.status, error.detail, kind=error.kind, errors=error.errors, headers=error.headers
    )


def http_error_as_problem(error: HTTPException) -> Response:
    """An HTTP error (404, 405, 413, 429…) as a problem document."""
    code = error.code or 500
    detail = {
        401: "Send a personal access token: Authorization: Bearer crm_…",
        404: "There is nothing here. It may have been removed.",
        429: "Too many requests with this token. Wait, then try again (see Retry-After).",
    }.get(code) or (error.description or TITLES.get(code, "Error"))
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="crmlite"'
    if code == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = "60"
    return problem(code, detail, headers=headers)


# ---------------------------------------------------------------- signing in with a token


def bearer_secret() -> str | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


def rate_limit_key() -> str:
    """Per token (its digest, never the secret); per client address without one."""
    secret = bearer_secret()
    if secret:
        return "api-token:" + api_tokens.digest(secret)
    return "api-address:" + (request.remote_addr or "")


def authenticate() -> None:
    """Before every request (after the database's read/write intent is known, before the
    sign-in guard): an API request signs in with its token alone. No or a bad token: 401; a
    read-only token asking to change something: 403."""
    if request.blueprint != "api" or is_public(current_app, request.endpoint or ""):
        return
    secret = bearer_secret()
    token = api_tokens.find_token(secret) if secret else None
    if token is None:
        g._login_user = login_manager.anonymous_user()
        if secret is not None:
            wait = api_tokens.refused_token_wait(
                request.remote_addr or "", limit=current_app.config["LOGIN_RATE_LIMIT"]
            )
            if wait:
                raise ApiProblem(
                    429,
                    "Too many requests with tokens that are not valid: wait, then try again.",
                    headers={"Retry-After": str(wait)},
                )
        raise ApiProblem(
            401,
            "Send a valid personal access token: Authorization: Bearer crm_… "
            "(create one on your account page)."
            if secret is None
            else "That token is not valid: it was revoked, mistyped, or its member left.",
            headers={"WWW-Authenticate": 'Bearer realm="crmlite"'},
        )
    # Flask-Login's current user for this request only: nothing goes into a session cookie.
    g._login_user = token.member
    g.api_token = token
    if request.method not in READ_ONLY_METHODS and not token.can_write:
        raise ApiProblem(403, "This token may only read: create a read-and-write token to change.")
    if api_tokens.note_use(token, now=utcnow()):
        db.session.commit()


# ---------------------------------------------------------------- values out


def amount(value: Decimal | None) -> str | None:
    """Amounts travel as strings of decimals, never floats: "1234.50"."""
    return None if value is None else f"{value:.2f}"


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def etag(version: int | str) -> str:
    return f'"{version}"'


def json_response(
    body: Any, status: int = 200, *, tag: str | None = None, location: str | None = None
) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    if tag is not None:
        response.headers["ETag"] = tag
    if location is not None:
        response.headers["Location"] = location
    return response


# ---------------------------------------------------------------- values in


def json_body() -> dict[str, Any]:
    """The request's JSON object; 415 when it is not JSON, 400 when it does not parse, 422
    when it is not an object."""
    if not request.is_json:
        fail(415, "Send the body as JSON (Content-Type: application/json).")
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        fail(400, "The body is not valid JSON.")
    if not isinstance(body, dict):
        invalid({"body": ["Send a JSON object."]})
    return body


def as_text(value: Any) -> str:
    """A JSON value as a form field would carry it."""
    if value is None:
        return ""
    if value is True:
        return "y"
    if value is False:
        return "false"
    return str(value)


def form_data(
    body: Mapping[str, Any],
    fields: Iterable[str],
    *,
    current: Mapping[str, Any] | None = None,
    ignored: Iterable[str] = (),
) -> MultiDict[str, str]:
    """What a form would receive: ``current`` (the record as it is, for a partial update)
    overlaid with the body's values. A field the form does not have, or a value that is not
    a single string, number, boolean or null, is refused (422) rather than silently dropped."""
    known = set(fields)
    skipped = set(ignored)
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {k: as_text(v) for k, v in (current or {}).items() if k in known}
    for name, value in body.items():
        if name in skipped:
            continue
        if name not in known:
            errors[name] = ["There is no such field (or it cannot be changed here)."]
        elif isinstance(value, dict | list):
            errors[name] = ["Send a single value: a string, number, boolean or null."]
        else:
            values[name] = as_text(value)
    if errors:
        invalid(errors)
    return MultiDict(values)


def form_errors(form: Any, rename: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """The form's messages per field (``rename``: the form's field name → the API's)."""
    names = rename or {}
    return {
        names.get(name, name): [str(m) for m in messages]
        for name, messages in form.errors.items()
        if messages
    }


def if_match(current: int | str) -> int | str:
    """The version the caller's change is based on, from ``If-Match``: 428 when it is
    missing (a change without one could overwrite someone's), 412 when it is not the
    record's current ETag (nothing is changed)."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        fail(
            428,
            "Send If-Match with the ETag you read (GET the record first), so a change made "
            "meanwhile is never overwritten.",
            kind="if-match-required",
        )
    sent = [part.strip().removeprefix("W/") for part in header.split(",")]
    if "*" not in sent and etag(current) not in sent:
        fail(
            412,
            "The record changed since you read it (its ETag is no longer the one you sent): "
            "GET it again; nothing was changed.",
            kind="changed-meanwhile",
            headers={"ETag": etag(current)},
        )
    return current


def changed_meanwhile() -> NoReturn:
    """Someone else saved the record while this change was being made."""
    fail(
        412,
        "The record changed while your change was being saved: GET it again; nothing was changed.",
        kind="changed-meanwhile",
    )


def id_arg(name: str) -> int | None:
    """An id filter from the query string; 422 naming it when it is not an id."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    ident = parse_id(raw)
    if ident is None:
        invalid({name: [f"{name} must be an id (digits 0–9, from 1)."]})
    return ident


def moment_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return parse_moment(raw, label=name)
    except BadDay as error:
        invalid({name: [str(error)]})


def choice_arg(name: str, choices: Iterable[str]) -> str | None:
    raw = request.args.get(name)
    if not raw:
        return None
    allowed = list(choices)
    if raw not in allowed:
        invalid({name: [f"{name} is one of: {', '.join(allowed)}."]})
    return raw


def text_arg(name: str, length: int = 100) -> str:
    """Free text from the query string (a search), without control characters."""
    return clean_line(request.args.get(name))[:length]


# ---------------------------------------------------------------- cursor pagination


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after = parse_id(value["after"]) if isinstance(value, dict) else None
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
        after = None
    if after is None:
        invalid({"cursor": ["The cursor is not one this API gave: use the `next` link as is."]})
    return after


def page_args() -> tuple[int, int | None]:
    """``limit`` (1 to 100, 50 by default) and where the page starts (after the id in the
    opaque ``cursor``)."""
    errors: dict[str, list[str]] = {}
    limit = DEFAULT_LIMIT
    raw = request.args.get("limit")
    if raw:
        try:
            limit = parse_whole(raw, label="limit", minimum=1, maximum=MAX_LIMIT)
        except ValueError as error:
            errors["limit"] = [str(error)]
    after = None
    if request.args.get("cursor"):
        try:
            after = decode_cursor(request.args["cursor"])
        except ApiProblem as problem_:
            errors.update(problem_.errors or {})
    if errors:
        invalid(errors)
    return limit, after


def page(items: list[dict[str, Any]], last_ids: list[int], limit: int) -> Response:
    """One page of a list, oldest id first: ``data`` and the ``next`` page's link (null on
    the last page); one more row than ``limit`` was read to know whether there is one."""
    more = len(items) > limit
    items = items[:limit]
    next_url = None
    if more:
        args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "cursor"}
        args["cursor"] = encode_cursor(last_ids[limit - 1])
        assert request.endpoint is not None
        next_url = url_for(request.endpoint, **{**(request.view_args or {}), **args})
    response = json_response({"data": items, "next": next_url})
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


def api_limit() -> str:
    return str(current_app.config["API_RATE_LIMIT"])


def limit_every_route() -> None:
    """The API's rate limit, counted per token."""
    limiter.limit(api_limit, key_func=rate_limit_key)(bp)
