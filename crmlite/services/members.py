"""Members: sign-in checks, passwords and profile changes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import Member, Role
from crmlite.services import points
from crmlite.services.team import get_team

MIN_PASSWORD_LENGTH = 10
# Compared against when the e-mail is unknown, so a wrong e-mail takes as long as a
# wrong password and timing does not tell which members exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Werkzeug's current default (scrypt), salted."""
    return generate_password_hash(password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


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
    member = find_by_email(email)
    if member is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(member.password_hash, password) or not member.active:
        return None
    member.last_sign_in_at = utcnow()
    db.session.flush()
    return member


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
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
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
    this one keep the points quota they had."""
    if member.id == by.id and (role != Role.ADMIN or not active):
        raise MemberRefused("You cannot remove your own admin rights.", "role")
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
