"""The outbox: every message crmlite sends, one row per (message, recipient), kept in the
database until the worker has handed it to the mail server (services/outbox.py)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.database import UTCDateTime
from crmlite.models.base import Model, created_at_column, fk


class OutboxStatus(StrEnum):
    QUEUED = "queued"  # waiting (also between retries: see ``not_before``)
    SENDING = "sending"  # claimed by a worker until ``claimed_until``
    SENT = "sent"
    FAILED = "failed"  # refused for good (5xx), or temporary failures past the last retry
    SKIPPED = "skipped"  # the recipient unsubscribed or bounces since it was queued

    @property
    def label(self) -> str:
        return self.value.capitalize()


class OutboxKind(StrEnum):
    CAMPAIGN = "campaign"  # a campaign e-mail to one contact (its EmailSend row)
    TRACK = "track"  # a track step's e-mail
    TEST = "test"  # "Send a test to me"
    ACCOUNT = "account"  # password-reset links and other mail to members


class OutboxMessage(Model):
    """One message to one recipient. ``key`` is unique, so queuing the same send twice
    queues it once; ``message_id`` is fixed when queued, so the rare message sent again
    after a worker died mid-send carries the same Message-ID (mail programs show it once)."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    contact_id: Mapped[int | None] = fk("contacts.id", ondelete="SET NULL")
    to_address: Mapped[str] = mapped_column(String(254))
    to_name: Mapped[str] = mapped_column(String(200), default="")
    # A stored message (track, test, account mail); a campaign send is written from its
    # e-mail when it goes (``email_send_id``), its links pointing at ``base_url``.
    subject: Mapped[str] = mapped_column(String(300), default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[str] = mapped_column(Text, default="")  # JSON object
    email_send_id: Mapped[int | None] = fk("email_sends.id", ondelete="CASCADE", unique=True)
    step_run_id: Mapped[int | None] = fk("track_step_runs.id", ondelete="SET NULL")
    base_url: Mapped[str] = mapped_column(String(300), default="")
    message_id: Mapped[str] = mapped_column(String(250))
    status: Mapped[str] = mapped_column(String(12), default=OutboxStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'skipped')", name="status_values"
        ),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_outbox_messages_due", "status", "not_before", "id"),
        Index("ix_outbox_messages_contact", "contact_id", "id"),
    )
