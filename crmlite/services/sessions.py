"""Sign-ins that really end: one row per sign-in (``MemberSession``), checked on every request.

Why a table rather than one token per member: each browser's sign-in can end on its own
(signing out here leaves the member's phone signed in), every sign-in gets a new token (so
the remember cookie differs each time), and its absolute end is kept on the server, where a
copied cookie cannot stretch it. The session and remember cookies carry
"<member id>:<token>"; only a SHA-256 digest of the token is stored.

A sign-in ends when the member signs out (that one), signs out everywhere (all of them), or
changes their password (all but the one they changed it in, which gets a new token), when an
admin signs them out everywhere, changes their role or deactivates them, and at
``expires_at``. Reading one costs the request no extra query: the member comes with it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import contains_eager

from crmlite.extensions import db
from crmlite.models import Member, MemberSession, Team
from crmlite.services import events
from crmlite.services.team import SETTINGS_ID


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    member: Member, *, remember: bool, lifetime: timedelta, now: datetime
) -> MemberSession:
    """A new sign-in for this member, ending ``lifetime`` from now; its token is set on the
    member (``member.session_token``) for Flask-Login's cookies and is nowhere else. Sign-ins
    that have ended, anyone's, are cleared away on the way."""
    db.session.execute(delete(MemberSession).where(MemberSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    row = MemberSession(
        member_id=member.id,
        token_digest=_digest(token),
        remember=remember,
        created_at=now,
        expires_at=now + lifetime,
        password_confirmed_at=now,
    )
    db.session.add(row)
    db.session.flush()
    member.session_token = token
    return row


# Every request asks it: built once (building it took about as long as running it). The
# team's settings (one row) come along: every page reads them next (one statement fewer).
_SESSION_WITH_MEMBER = (
    select(MemberSession, Team)
    .join(MemberSession.member)
    .options(contains_eager(MemberSession.member))
    .outerjoin(Team, Team.id == SETTINGS_ID)
    .where(MemberSession.token_digest == bindparam("digest"))
)


class SignIn(NamedTuple):
    """A sign-in found (with its member), and the team's settings read with it (None when
    the database has none yet)."""

    session: MemberSession
    team: Team | None


def find_session(member_id: int, token: str, *, now: datetime) -> SignIn | None:
    """The sign-in this cookie stands for, with its member and the team's settings, in one
    query; None when it has ended (signed out, revoked, expired) or the member may no longer
    sign in."""
    found = db.session.execute(_SESSION_WITH_MEMBER, {"digest": _digest(token)}).first()
    if found is None:
        return None
    row, team = found
    if row.member_id != member_id or row.expires_at <= now or not row.member.active:
        return None
    row.member.session_token = token
    return SignIn(row, team)


def end_session(row: MemberSession) -> None:
    """Sign out of this one sign-in: its cookies lead nowhere from now on."""
    db.session.delete(row)
    db.session.flush()


def end_all_sessions(member: Member, *, keep: MemberSession | None = None) -> int:
    """End every sign-in of this member (but ``keep``, when given); how many ended."""
    query = delete(MemberSession).where(MemberSession.member_id == member.id)
    if keep is not None:
        query = query.where(MemberSession.id != keep.id)
    result = db.session.execute(query.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def sign_out_everywhere(member: Member, *, by: Member, now: datetime) -> None:
    """End every sign-in of this member, in every browser ("Sign out everywhere", by the
    member or an admin)."""
    end_all_sessions(member)
    events.publish(events.SignedOutEverywhere(member=member, by=by, at=now))


def renew_session(row: MemberSession, *, now: datetime) -> None:
    """A new token for the same sign-in (after a password change): a copy of the old cookie
    leads nowhere. The new token is set on the member, as at sign-in."""
    token = secrets.token_urlsafe(32)
    row.token_digest = _digest(token)
    row.password_confirmed_at = now
    row.member.session_token = token
    db.session.flush()


def confirm_password(row: MemberSession, *, now: datetime) -> None:
    """The member typed their password again in this sign-in."""
    row.password_confirmed_at = now
    db.session.flush()


def password_is_fresh(row: MemberSession, *, now: datetime, within: timedelta) -> bool:
    """Whether the password was typed in this sign-in within ``within`` of now."""
    return now - row.password_confirmed_at <= within


def sessions_open(member: Member, *, now: datetime) -> int:
    """How many sign-ins of this member have not ended (browsers signed in)."""
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(MemberSession)
            .where(MemberSession.member_id == member.id, MemberSession.expires_at > now)
        )
        or 0
    )
