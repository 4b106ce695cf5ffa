"""One-time password reset links, issued by an admin for a member who forgot theirs.

A link carries a token signed with the app's secret (itsdangerous, its own salt) holding the
member's id and a fingerprint of their current password hash. It is good for an hour
(``LINK_LIFETIME``) and once: setting a password through it changes the hash, so the link
(and any other link issued before) leads nowhere afterwards; so does the member changing
their password themselves, or being deactivated. Nothing is stored: the admin sees the link
once, and it is e-mailed to the member when a mail server is configured.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from crmlite.extensions import db
from crmlite.models import Member, OutboxKind
from crmlite.services import events, outbox
from crmlite.services.mailer import sender_domain
from crmlite.services.members import PasswordRefused, password_refusal, set_password
from crmlite.services.outbox import Outgoing

LINK_LIFETIME = timedelta(hours=1)
SALT = "crmlite.password-reset"


class LinkRefused(Exception):
    """The link is forged, too old, used already, or for a member who may not sign in."""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _fingerprint(member: Member) -> str:
    return hashlib.sha256(member.password_hash.encode()).hexdigest()[:32]


def issue_reset_token(member: Member, *, by: Member, now: datetime) -> str:
    """A new reset token for this member (their link is built from it by the caller)."""
    events.publish(events.PasswordResetIssued(member=member, by=by, at=now))
    return str(_serializer().dumps([member.id, _fingerprint(member)]))


def member_for_token(token: str) -> Member:
    """The member this token may set a password for, or LinkRefused saying why not."""
    try:
        payload: Any = _serializer().loads(token, max_age=int(LINK_LIFETIME.total_seconds()))
    except SignatureExpired:
        raise LinkRefused(
            "This link has expired: reset links are good for an hour. Ask an admin for a new one."
        ) from None
    except BadSignature:
        raise LinkRefused("This is not a valid reset link. Ask an admin for a new one.") from None
    member_id, fingerprint = payload if isinstance(payload, list) and len(payload) == 2 else (0, "")
    member = db.session.get(Member, member_id) if isinstance(member_id, int) else None
    if member is None or not member.active or fingerprint != _fingerprint(member):
        raise LinkRefused(
            "This link was used already or is no longer valid. Ask an admin for a new one."
        )
    return member


def reset_password(token: str, *, new: str, new_again: str, now: datetime) -> Member:
    """Set the member's new password through their link (used up by it); every sign-in of
    theirs ends. LinkRefused for a bad link, PasswordRefused for a refused password."""
    member = member_for_token(token)
    if (refusal := password_refusal(new, email=member.email)) is not None:
        raise PasswordRefused(refusal, "new_password")
    if new != new_again:
        raise PasswordRefused(
            "The two passwords differ: type it the same twice.", "new_password_again"
        )
    set_password(member, new, by=None, now=now)
    return member


def mail_is_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def queue_reset_link(member: Member, url: str, *, team_name: str, now: datetime) -> None:
    """Put the e-mail with the link in the outbox; the worker sends it."""
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    text = (
        f"Hello {member.name},\n\n"
        f"An admin of {team_name} issued a link for you to set a new crmlite password:\n\n"
        f"{url}\n\n"
        f"It works once, within {minutes} minutes. If you did not ask for it, tell your admin.\n"
    )
    outbox.enqueue(
        Outgoing(
            key=f"password-reset:{member.id}:{now.timestamp():.6f}",
            kind=OutboxKind.ACCOUNT,
            to_address=member.email,
            to_name=member.name,
            subject=f"Set your {team_name} password",
            body_text=text,
        ),
        domain=sender_domain(current_app.config["MAIL_FROM"]),
        now=now,
    )
