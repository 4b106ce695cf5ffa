"""The audit log: who signed in, and who changed rights, points, quotas or closed deals, or
deleted something, when and from where (issue #14)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.database import UTCDateTime, utcnow
from crmlite.models.base import Model, fk

# Column lengths; what is longer is cut (with "…") rather than refused: recording never
# stops the action it records.
SUMMARY_LENGTH = 500
NAME_LENGTH = 120
OBJECT_KIND_LENGTH = 40
ADDRESS_LENGTH = 64


class AuditKind(StrEnum):
    """What kind of thing an entry records (the admin page filters on it)."""

    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET_ISSUED = "password_reset_issued"
    ROLE_CHANGED = "role_changed"
    POINT_VALUE_CHANGED = "point_value_changed"
    QUOTA_CHANGED = "quota_changed"
    ACTIVITY_REOPENED = "activity_reopened"
    CLOSED_DEAL_MOVED = "closed_deal_moved"
    DELETED = "deleted"
    WEBHOOK_CHANGED = "webhook_changed"
    NEXT_STEP_TYPE_CHANGED = "next_step_type_changed"
    CHECKLIST_OVERRIDDEN = "checklist_overridden"

    @property
    def label(self) -> str:
        return {
            "sign_in": "Sign-in",
            "sign_in_failed": "Failed sign-in",
            "signed_out_everywhere": "Signed out everywhere",
            "password_changed": "Password changed",
            "password_reset_issued": "Password reset issued",
            "role_changed": "Role changed",
            "point_value_changed": "Point value changed",
            "quota_changed": "Quota changed",
            "activity_reopened": "Closed activity reopened",
            "closed_deal_moved": "Won or lost deal moved",
            "deleted": "Deleted",
            "webhook_changed": "Webhook added or changed",
            "next_step_type_changed": "Next-step type changed",
            "checklist_overridden": "Won with set-up items open",
        }[self.value]


class AuditEntry(Model):
    """One thing that happened, as a person reads it (``summary``), with who did it, the
    values before and after where there are some, the record it concerns and the client's
    address where known. The member's name is kept beside their id so the entry still says
    who when the member is gone."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who did it; None when nobody was signed in (a failed sign-in, a reset link).
    member_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    member_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    kind: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(String(SUMMARY_LENGTH))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    # The record it concerns, e.g. ("opportunity", 12); a deleted one has no id left.
    object_kind: Mapped[str | None] = mapped_column(String(OBJECT_KIND_LENGTH))
    object_id: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))

    __table_args__ = (
        # The admin page: newest first, optionally of one kind or one member's.
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_kind_at", "kind", "at"),
        Index("ix_audit_entries_member_at", "member_id", "at"),
    )

    @property
    def kind_label(self) -> str:
        try:
            return AuditKind(self.kind).label
        except ValueError:
            return self.kind
