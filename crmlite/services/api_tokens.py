"""Personal access tokens for the JSON API.

- A member creates tokens on their own account page: a name (what it is for) and a scope,
  *read* (the API refuses every change) or *read-write*. The secret is shown once, when it
  is created: only its SHA-256 digest is stored, so the database alone cannot be used to
  call the API. Secrets start with ``crm_`` so they are recognisable (e.g. by secret
  scanners) and carry 256 random bits.
- A token acts with its member's rights, exactly as the pages do (services/permissions.py);
  it stops working when it is revoked, or when its member is deactivated.
- When a token was last used is noted at most once a minute, so reading the API costs no
  write per request.
- Requests with a token that is not valid are counted per client address, with the sign-in
  page's limit (``LOGIN_RATE_LIMIT``): past it the address waits, as a password guesser does
  (the API's own limit counts per token, which made-up tokens would escape).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from datetime import datetime, timedelta

from limits import parse_many
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from crmlite.extensions import db, limiter
from crmlite.models import ApiToken, Member, TokenScope
from crmlite.services.parsing import clean_line

PREFIX = "crm_"
MAX_NAME_LENGTH = 80
MAX_TOKENS = 20  # live tokens per member: enough for every integration, not a leak's worth
USE_NOTED_EVERY = timedelta(minutes=1)


class TokenRefused(ValueError):
    """The token cannot be created as asked; the message says why, ``field`` where."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(member: Member, *, name: str, scope: str, now: datetime) -> tuple[ApiToken, str]:
    """A new token of the member's, and its secret (to show once; never stored)."""
    label = clean_line(name)
    if not label:
        raise TokenRefused("Name the token: what will use it?", "name")
    if len(label) > MAX_NAME_LENGTH:
        raise TokenRefused(f"A token's name has at most {MAX_NAME_LENGTH} characters.", "name")
    if scope not in {s.value for s in TokenScope}:
        raise TokenRefused("Choose read only, or read and write.", "scope")
    if len(live_tokens(member)) >= MAX_TOKENS:
        raise TokenRefused(
            f"You have {MAX_TOKENS} tokens already: revoke one you no longer use first.", "name"
        )
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        member_id=member.id,
        name=label,
        scope=scope,
        token_digest=digest(secret),
        prefix=secret[:10],
        created_at=now,
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


def live_tokens(member: Member) -> list[ApiToken]:
    """The member's tokens that still work, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.member_id == member.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_token(member: Member, token_id: int, *, now: datetime) -> ApiToken | None:
    """Revoke one of the member's own tokens (None: no such live token of theirs)."""
    token = db.session.scalar(
        select(ApiToken).where(
            ApiToken.id == token_id,
            ApiToken.member_id == member.id,
            ApiToken.revoked_at.is_(None),
        )
    )
    if token is not None:
        token.revoked_at = now
        db.session.flush()
    return token


def find_token(secret: str) -> ApiToken | None:
    """The live token of this secret, with its member, if the member is active; else None.
    One query."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalars(
        select(ApiToken)
        .join(ApiToken.member)
        .options(contains_eager(ApiToken.member))
        .where(ApiToken.token_digest == digest(secret), ApiToken.revoked_at.is_(None))
    ).one_or_none()
    if token is None or not token.member.active:
        return None
    return token


def note_use(token: ApiToken, *, now: datetime) -> bool:
    """Note that the token was used now, at most once a minute; True when it was noted
    (the caller commits)."""
    if token.last_used_at is not None and now - token.last_used_at < USE_NOTED_EVERY:
        return False
    token.last_used_at = now
    return True


def refused_token_wait(address: str, *, limit: str) -> int:
    """Note a request from this address with a token that is not valid; the seconds it must
    wait before the next one is answered (0: none)."""
    if not limiter.enabled:
        return 0
    key = "api-refused-token/" + address
    wait = 0.0
    for item in parse_many(limit):
        if not limiter.limiter.hit(item, key):
            reset_at = limiter.limiter.get_window_stats(item, key).reset_time
            wait = max(wait, reset_at - time.time(), 1)
    return math.ceil(wait)
