"""Sign-in sessions in the web layer: the check on every request, idle and absolute ends, the
fresh-password prompt, and the "known browser" cookie.

- Flask-Login keeps "<member id>:<token>" in the session and remember cookies;
  ``load_member`` finds that sign-in (``services.sessions``), in the one query that loads the
  member, and refuses it once it has ended. A sign-in without "Keep me signed in" also ends
  after SESSION_IDLE_MINUTES without a request: the last request's time is kept in the
  (signed) session cookie, so noting it costs no database write; the page's own
  once-a-minute refresh (``POLLED_ENDPOINTS``) does not count as activity.
- ``ask_for_fresh_password`` (Setup's ``before_request``): the password must have been typed
  in this sign-in within FRESH_PASSWORD_MINUTES, else the person confirms it on
  ``/confirm-password`` and comes back to the page they were on.
- A browser that signed in to an account gets a signed cookie naming that member: the
  per-account sign-in throttle (``services.sign_in``) does not hold it back.
"""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, session, url_for
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from crmlite.database import utcnow
from crmlite.extensions import login_manager
from crmlite.models import Member, MemberSession
from crmlite.services import sessions
from crmlite.services.parsing import parse_id
from crmlite.web import is_htmx, safe_next

# Requests the page makes by itself (the "Due soon" strip every minute): not activity.
POLLED_ENDPOINTS = {"activities.due_soon"}
LAST_SEEN = "_seen"  # key in the session cookie: when the last request came (epoch seconds)
SEEN_EVERY = 60  # seconds; noted at most this often, so the cookie is not rewritten each time
KNOWN_BROWSER_COOKIE = "crmlite_known"
KNOWN_BROWSER_DAYS = 365
KNOWN_BROWSER_SALT = "crmlite.known-browser"


# ---------------------------------------------------------------- every request


@login_manager.user_loader
def load_member(user_id: str) -> Member | None:
    """The member of the sign-in this cookie stands for, or None once it has ended."""
    member_id, _, token = user_id.partition(":")
    ident = parse_id(member_id)
    found = sessions.find_session(ident, token, now=utcnow()) if ident and token else None
    if found is not None and not found.session.remember and _idle_too_long():
        found = None
    if found is None:
        _forget_sign_in()
        return None
    g.member_session = found.session
    g.team = found.team  # read with the sign-in; the team_settings hook keeps it
    _note_activity()
    return found.session.member


def _idle_too_long() -> bool:
    seen = session.get(LAST_SEEN)
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    return isinstance(seen, int) and time.time() - seen > idle


def _note_activity() -> None:
    if request.endpoint in POLLED_ENDPOINTS:
        return
    seen = session.get(LAST_SEEN)
    now = int(time.time())
    if not isinstance(seen, int) or now - seen >= SEEN_EVERY:
        session[LAST_SEEN] = now


def _forget_sign_in() -> None:
    """Drop an ended sign-in from the cookies, so it is not looked up again."""
    session.pop("_user_id", None)
    session.pop(LAST_SEEN, None)
    if current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        session["_remember"] = "clear"  # Flask-Login deletes the remember cookie


def current_session() -> MemberSession | None:
    """The sign-in of this request (None when nobody is signed in)."""
    if not current_user.is_authenticated:
        return None
    row: MemberSession | None = g.get("member_session")
    return row


def begin_session(row: MemberSession) -> None:
    """Right after Flask-Login's ``login_user``: the idle clock starts now."""
    g.member_session = row
    session[LAST_SEEN] = int(time.time())


# ---------------------------------------------------------------- fresh password


def _fresh_within() -> timedelta:
    return timedelta(minutes=current_app.config["FRESH_PASSWORD_MINUTES"])


def password_is_fresh() -> bool:
    row = current_session()
    return row is not None and sessions.password_is_fresh(row, now=utcnow(), within=_fresh_within())


def _return_to() -> str:
    """Where to come back to after confirming: the page the person is on."""
    home = url_for("main.home")
    if is_htmx():
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        target = current.path + (f"?{current.query}" if current.query else "")
        return safe_next(target, home)
    if request.method == "GET":
        return safe_next(request.full_path.rstrip("?"), home)
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc and referrer.netloc != request.host:
        return home
    return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""), home)


def ask_for_fresh_password() -> Response | None:
    """None when the password was typed recently enough; else the way to "Confirm your
    password" (htmx is sent there as a whole page), coming back here afterwards."""
    if not current_user.is_authenticated or password_is_fresh():
        return None
    target = url_for("auth.confirm_password", next=_return_to())
    if is_htmx():
        return Response("", 401, {"HX-Redirect": target})
    return redirect(target, 303)


# ---------------------------------------------------------------- known browser


def _known_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=KNOWN_BROWSER_SALT)


def remember_browser(response: Response, member: Member) -> None:
    """Mark this browser as one ``member`` signs in from."""
    response.set_cookie(
        KNOWN_BROWSER_COOKIE,
        _known_serializer().dumps(member.id),
        max_age=KNOWN_BROWSER_DAYS * 86_400,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )


def known_browser_of() -> int | None:
    """The member who signed in from this browser before, if its cookie says so."""
    value = request.cookies.get(KNOWN_BROWSER_COOKIE)
    if not value:
        return None
    try:
        member_id = _known_serializer().loads(value, max_age=KNOWN_BROWSER_DAYS * 86_400)
    except BadSignature:
        return None
    return member_id if isinstance(member_id, int) else None
