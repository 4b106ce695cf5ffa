"""Members: sign-in checks, passwords and profile changes.

**New passwords** (set by the member, an admin, a reset link or ``flask crm add-member``;
``password_refusal`` is the one rule): at least 12 characters (at most 256); not the member's
e-mail address or the part before its @; not a common password (the bundled
``crmlite/common-passwords.txt``), nor one of those with digits or symbols added at the end
("Password2024!"). Compared without regard to case. Passwords set before this rule keep
working until changed.

**E-mail addresses** go through ``parsing.parse_email``, the rule the forms use too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import Member, MemberSession, Role
from crmlite.services import events, points, sessions
from crmlite.services.parsing import InvalidEmail, parse_email
from crmlite.services.team import get_team

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
PASSWORD_HINT = (
    f"At least {MIN_PASSWORD_LENGTH} characters; neither the e-mail address nor a common password."
)
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "common-passwords.txt"
# What people add to a common word to make it "strong": digits and symbols at the end.
_PADDING = re.compile(r"[\W\d_]+$")
# Compared against when the e-mail is unknown, so a wrong e-mail takes as long as a
# wrong password and timing does not tell which members exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Werkzeug's current default (scrypt), salted."""
    return generate_password_hash(password)


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords, lower-case (read once)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def password_refusal(password: str, *, email: str) -> str | None:
    """Why this cannot be a new password for the member with this e-mail, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    lowered = password.strip().lower()
    base = _PADDING.sub("", lowered) or lowered
    address = email.strip().lower()
    if {lowered, base} & {address, address.partition("@")[0]}:
        return "Do not use your e-mail address as your password."
    if {lowered, base} & common_passwords():
        return "This is one of the most common passwords: choose one that is hard to guess."
    return None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_refusal(email: str) -> str | None:
    """Why this cannot be a member's e-mail address (the forms' rule), or None."""
    try:
        parse_email(email)
    except InvalidEmail as error:
        return str(error)
    return None


def find_by_email(email: str) -> Member | None:
    return db.session.scalar(select(Member).where(Member.email == normalise_email(email)))


def assignment_refusal(
    member_id: int | None, *, current_id: int | None = None, what: str = "The member"
) -> str | None:
    """Why this member cannot be given a role on a record (owner, account manager,
    assignee), or None when they can: they must be a member of the team and still active;
    one who left keeps what was theirs already (``current_id``)."""
    if member_id is None or member_id == current_id:
        return None
    member = db.session.get(Member, member_id)
    if member is None:
        return f"{what} must be a member of the team: choose one from the list."
    if not member.active:
        return f"{what} must be an active member: {member.name} no longer works here."
    return None


def authenticate(email: str, password: str) -> Member | None:
    """The active member with this e-mail and password, or None."""
    return check_sign_in(email, password).member


@dataclass(frozen=True)
class SignInCheck:
    member: Member | None  # the member signing in; None when refused
    refusal: str = ""  # why not, for the audit log: "unknown e-mail", "wrong password", "inactive"


def check_sign_in(email: str, password: str) -> SignInCheck:
    """Whether this e-mail and password sign in, and if not, why (never shown to the person:
    the sign-in page says the same whatever the reason). Stamps the member's last sign-in."""
    member = find_by_email(email)
    if member is None:
        check_password_hash(_DUMMY_HASH, password)
        return SignInCheck(None, "unknown e-mail")
    if not check_password_hash(member.password_hash, password):
        return SignInCheck(None, "wrong password")
    if not member.active:
        return SignInCheck(None, "inactive")
    member.last_sign_in_at = utcnow()
    db.session.flush()
    return SignInCheck(member)


def password_matches(member: Member, password: str) -> bool:
    return check_password_hash(member.password_hash, password)


class PasswordRefused(ValueError):
    """A password change the rules refuse; the message is for the person, ``field`` names
    the form field it belongs to."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def change_password(
    member: Member,
    *,
    current: str,
    new: str,
    new_again: str,
    signed_in: MemberSession,
    now: datetime,
) -> None:
    """A member changes their own password: the current one must match, the new one follow
    the rule and be typed the same twice. Every other sign-in of theirs ends, and this one
    gets a new token (a copy of its old cookie leads nowhere)."""
    if not password_matches(member, current):
        raise PasswordRefused("This is not your current password.", "current_password")
    if (refusal := password_refusal(new, email=member.email)) is not None:
        raise PasswordRefused(refusal, "new_password")
    if new != new_again:
        raise PasswordRefused(
            "The two new passwords differ: type it the same twice.", "new_password_again"
        )
    if password_matches(member, new):
        raise PasswordRefused("This is your current password: choose a new one.", "new_password")
    set_password(member, new, by=member, now=now, keep=signed_in)
    sessions.renew_session(signed_in, now=now)


def set_password(
    member: Member,
    password: str,
    *,
    by: Member | None,
    now: datetime,
    keep: MemberSession | None = None,
) -> None:
    """Store a new password (checked by the caller) and end the member's sign-ins (but
    ``keep``); ``by`` None means through a reset link."""
    member.password_hash = hash_password(password)
    sessions.end_all_sessions(member, keep=keep)
    db.session.flush()
    events.publish(events.PasswordChanged(member=member, by=by, at=now))


def create_member(
    *,
    email: str,
    name: str,
    password: str,
    role: Role = Role.REP,
    title: str = "",
    location_id: int | None = None,
    business_unit_id: int | None = None,
) -> Member:
    if (refusal := email_refusal(email)) is not None:
        raise ValueError(f"{email}: {refusal}")
    if (refusal := password_refusal(password, email=email)) is not None:
        raise ValueError(f"Password refused: {refusal}")
    if email_taken(email):
        raise ValueError(f"{email} is already a member")
    member = Member(
        email=normalise_email(email),
        name=name.strip(),
        role=role.value,
        title=title,
        password_hash=hash_password(password),
        location_id=location_id,
        business_unit_id=business_unit_id,
    )
    db.session.add(member)
    db.session.flush()
    return member


def email_taken(email: str, *, except_id: int | None = None) -> bool:
    query = select(func.count()).select_from(Member).where(Member.email == normalise_email(email))
    if except_id is not None:
        query = query.where(Member.id != except_id)
    return bool(db.session.scalar(query))


class MemberRefused(ValueError):
    """A change the rules refuse; the message is for the person who asked."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _standing(role: str, active: bool) -> str:
    """A member's rights in one word, as the audit log shows them: their role, or inactive."""
    return role if active else "inactive"


def update_member(
    member: Member,
    *,
    by: Member,
    today: date,
    email: str,
    name: str,
    title: str,
    role: Role,
    location_id: int | None,
    business_unit_id: int | None,
    points_quota: int | None,
    active: bool,
) -> Member:
    """Save a member; an admin cannot take away their own admin rights, and months before
    this one keep the points quota they had. A change of role or of the active flag ends
    the member's sign-ins: they sign in again with their new rights, or not at all."""
    if member.id == by.id and (role != Role.ADMIN or not active):
        raise MemberRefused("You cannot remove your own admin rights.", "role")
    if (refusal := email_refusal(email)) is not None:
        raise MemberRefused(refusal, "email")
    before, after = _standing(member.role, member.active), _standing(role.value, active)
    if before != after:
        sessions.end_all_sessions(member)
        events.publish(events.RoleChanged(member, before, after, by=by, at=utcnow()))
    points.record_quota_change(
        member=member, team=get_team(), new_quota=points_quota, today=today, by=by
    )
    member.email = normalise_email(email)
    member.name = name.strip()
    member.title = title.strip()
    member.role = role.value
    member.location_id = location_id
    member.business_unit_id = business_unit_id
    member.points_quota = points_quota
    member.active = active
    db.session.flush()
    return member


def first_admin() -> Member | None:
    """The longest-standing active admin: who acts when no member is named (an import from
    the command line, a track step with no owner, an e-mail sent to nobody on the team)."""
    return db.session.scalars(
        select(Member)
        .where(Member.role == Role.ADMIN.value, Member.active.is_(True))
        .order_by(Member.id)
        .limit(1)
    ).first()
