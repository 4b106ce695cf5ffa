"""The team: settings, members, locations and business units; companies and contacts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.database import UTCDateTime
from crmlite.models.base import (
    ZERO,
    Model,
    Money,
    amounts_in_range,
    created_at_column,
    fk,
    rel,
    updated_at_column,
)

if TYPE_CHECKING:
    from crmlite.models.sales import Opportunity

DEFAULT_TIME_ZONE = "America/Los_Angeles"
DEFAULT_POINTS_QUOTA = 500
DEFAULT_CURRENCY = "USD"
MAX_POINTS_QUOTA = 100_000


class Paper(StrEnum):
    """The paper the app's PDFs are laid out on (a team setting)."""

    A4 = "A4"
    LETTER = "Letter"

    @property
    def label(self) -> str:
        return {"A4": "A4 (210 × 297 mm)", "Letter": "Letter (8.5 × 11 in)"}[self.value]


DEFAULT_PAPER = Paper.A4


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"

    @property
    def label(self) -> str:
        return {"admin": "Admin", "manager": "Sales manager", "rep": "Sales rep"}[self.value]


class Team(Model):
    """The one row of team-wide settings."""

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    time_zone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIME_ZONE)
    points_quota: Mapped[int] = mapped_column(Integer, default=DEFAULT_POINTS_QUOTA)
    # The ISO 4217 code amounts are shown in (one currency for the whole team).
    currency: Mapped[str] = mapped_column(
        String(3), default=DEFAULT_CURRENCY, server_default=DEFAULT_CURRENCY
    )
    # The paper of the PDFs crmlite makes (a Paper value); a browser's print uses its own.
    paper: Mapped[str] = mapped_column(
        String(6), default=DEFAULT_PAPER.value, server_default=DEFAULT_PAPER.value
    )

    __table_args__ = (
        CheckConstraint(
            f"points_quota BETWEEN 0 AND {MAX_POINTS_QUOTA}", name="points_quota_range"
        ),
        CheckConstraint("paper IN ('A4', 'Letter')", name="paper_values"),
    )


class Location(Model):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class BusinessUnit(Model):
    __tablename__ = "business_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SignedInUser(UserMixin):
    """Flask-Login's view of a member: the id it keeps in the session and the remember
    cookie is "<member id>:<sign-in token>", so a cookie leads back to one sign-in
    (``MemberSession``) and dies with it (``web/sessions.py`` checks it on every request)."""

    id: int
    # The token of the sign-in this request came with (set when it is checked); not stored.
    session_token: str | None = None

    def get_id(self) -> str:
        if not self.session_token:
            raise RuntimeError("a member signs in through services.sessions.start_session")
        return f"{self.id}:{self.session_token}"


class Member(SignedInUser, Model):
    """A person who signs in: a sales rep, a manager or an admin."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(16), default=Role.REP.value)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    location_id: Mapped[int | None] = fk("locations.id", ondelete="SET NULL", index=True)
    business_unit_id: Mapped[int | None] = fk("business_units.id", ondelete="SET NULL", index=True)
    # None: the team's quota applies.
    points_quota: Mapped[int | None] = mapped_column(Integer)
    # Secret of the private calendar subscription URL; None when revoked.
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    # What the feed shows besides open activities (the member chooses, on the feed's page):
    # captured e-mails are many and rarely wanted in a calendar, done activities usually are.
    feed_include_captured: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    feed_include_done: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()
    # What an hour of the member's time costs: time entries on opportunities cost hours × it.
    cost_rate: Mapped[Decimal] = mapped_column(Money, default=ZERO, server_default="0")

    __table_args__ = (
        CheckConstraint(
            f"points_quota IS NULL OR points_quota BETWEEN 0 AND {MAX_POINTS_QUOTA}",
            name="points_quota_range",
        ),
        amounts_in_range("cost_rate"),
    )

    location: Mapped[Location | None] = rel(Location)
    business_unit: Mapped[BusinessUnit | None] = rel(BusinessUnit)

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated members cannot sign in
        return self.active

    @property
    def initials(self) -> str:
        return "".join(part[0] for part in self.name.split()[:2]).upper()


class MemberSession(Model):
    """One sign-in of a member, in one browser: it lasts until signed out (here or
    everywhere), until ``expires_at`` (SESSION_MAX_HOURS, or REMEMBER_COOKIE_DURATION with
    "Keep me signed in"), or until the member's password, role or active flag changes. Only a
    digest of its token is stored: the database alone cannot be used to sign in."""

    __tablename__ = "member_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = fk("members.id", ondelete="CASCADE", nullable=False, index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # When the member last typed their password in this sign-in (signing in, or "Confirm
    # your password" before a change in Setup).
    password_confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    member: Mapped[Member] = rel(Member)


class AddressMixin:
    street: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(100), default="")

    @property
    def address_lines(self) -> list[str]:
        city_line = " ".join(p for p in (self.city + ",", self.region, self.postal_code) if p)
        lines = [
            self.street,
            city_line.strip(", ") if self.city or self.region else "",
            self.country,
        ]
        return [line for line in lines if line]


class Company(AddressMixin, Model):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    industry: Mapped[str] = mapped_column(String(100), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    account_manager_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL", index=True)
    location_id: Mapped[int | None] = fk("locations.id", ondelete="SET NULL")
    business_unit_id: Mapped[int | None] = fk("business_units.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    account_manager: Mapped[Member | None] = rel(Member)
    location: Mapped[Location | None] = rel(Location)
    business_unit: Mapped[BusinessUnit | None] = rel(BusinessUnit)
    contacts: Mapped[list[Contact]] = rel("Contact", back_populates="company")
    opportunities: Mapped[list[Opportunity]] = rel("Opportunity", back_populates="company")


class Contact(AddressMixin, Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = fk("companies.id", ondelete="SET NULL", index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(120), default="")
    # Lower-cased on save: e-mail capture and campaign tracking match contacts by it.
    email: Mapped[str] = mapped_column(String(254), default="", index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    mobile: Mapped[str] = mapped_column(String(40), default="")
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Since when mail to the address bounces for good (a delivery status notification was
    # captured) and why; nobody is mailed while it is set. Cleared by "Mail again" or a new
    # address.
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounce_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    company: Mapped[Company | None] = rel(Company, back_populates="contacts")

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
