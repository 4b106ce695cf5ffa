"""Personal access tokens: how another program signs in to the JSON API as a member."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.database import UTCDateTime
from crmlite.models.base import Model, created_at_column, fk, rel
from crmlite.models.people import Member


class TokenScope(StrEnum):
    READ = "read"
    READ_WRITE = "read-write"

    @property
    def label(self) -> str:
        return {"read": "Read only", "read-write": "Read and write"}[self.value]


class ApiToken(Model):
    """A member's personal access token for the API: it acts with the member's rights,
    limited to reading when its scope is ``read``. Only a SHA-256 digest of the secret is
    stored (the secret is shown once, when it is created); ``prefix`` is its first
    characters, so the member can tell their tokens apart."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = fk("members.id", ondelete="CASCADE", nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(80))
    scope: Mapped[str] = mapped_column(String(16), default=TokenScope.READ.value)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("scope IN ('read', 'read-write')", name="scope_values"),)

    member: Mapped[Member] = rel(Member)

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.READ_WRITE.value
