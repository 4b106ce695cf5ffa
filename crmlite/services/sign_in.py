"""Signing in: the password check, the per-account throttle, and what is published.

Two limits guard the sign-in form. Per client address, ``LOGIN_RATE_LIMIT`` (the web layer's
limiter decorator). Per account, here: after ``LOGIN_ACCOUNT_RATE_LIMIT`` failed sign-ins
(default 5 in 5 minutes) for one e-mail address, typed from anywhere, that account's sign-in
is refused until the window ends, a few minutes at most, never for good. Counted for any
e-mail typed, a member's or not, so the answer tells nobody who is a member. The browser of
someone who signed in to that account before (the web layer's signed "known browser"
cookie) is not held back, so an attacker who keeps guessing cannot lock the member out of
their usual computer. The counts live in the limiter's store (``RATELIMIT_STORAGE_URI``),
shared by every worker when it is Redis.

Every attempt is published for the audit log: ``SignedIn`` or ``SignInFailed`` (with why:
unknown e-mail, wrong password, inactive, throttled) and the client's address.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import datetime

from limits import RateLimitItem, parse_many

from crmlite.extensions import limiter
from crmlite.models import Member
from crmlite.services import events, members

THROTTLED = "throttled"


@dataclass(frozen=True)
class SignInResult:
    member: Member | None  # signed in; None when refused
    refusal: str = ""  # why not (for the audit log; the page says the same for all but one)
    wait_seconds: int = 0  # when throttled: until the account may try again


def _account_key(email: str) -> str:
    normalised = members.normalise_email(email)
    return "sign-in-account/" + hashlib.sha256(normalised.encode()).hexdigest()


def _limits(limit: str) -> list[RateLimitItem]:
    return parse_many(limit)


def account_wait(email: str, *, limit: str) -> int:
    """Seconds until this account's sign-in is allowed again; 0 when it is now."""
    if not limiter.enabled:
        return 0
    key = _account_key(email)
    wait = 0.0
    for item in _limits(limit):
        if not limiter.limiter.test(item, key):
            reset_at = limiter.limiter.get_window_stats(item, key).reset_time
            wait = max(wait, reset_at - time.time(), 1)
    return math.ceil(wait)


def record_failure(email: str, *, limit: str) -> None:
    if limiter.enabled:
        key = _account_key(email)
        for item in _limits(limit):
            limiter.limiter.hit(item, key)


def sign_in(
    email: str,
    password: str,
    *,
    address: str,
    now: datetime,
    account_limit: str,
    known_browser_of: int | None = None,
) -> SignInResult:
    """Check the e-mail and password unless the account is throttled (``known_browser_of``:
    the member whose browser this is, who is never held back), count a failure, and publish
    what happened. The caller starts the session and commits."""
    wait = account_wait(email, limit=account_limit)
    if wait:
        member = members.find_by_email(email) if known_browser_of is not None else None
        if member is None or member.id != known_browser_of:
            events.publish(
                events.SignInFailed(email=email, address=address, reason=THROTTLED, at=now)
            )
            return SignInResult(None, THROTTLED, wait)
    check = members.check_sign_in(email, password)
    if check.member is None:
        record_failure(email, limit=account_limit)
        events.publish(
            events.SignInFailed(email=email, address=address, reason=check.refusal, at=now)
        )
        return SignInResult(None, check.refusal)
    events.publish(events.SignedIn(member=check.member, address=address, at=now))
    return SignInResult(check.member)
