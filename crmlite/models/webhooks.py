"""Webhooks: URLs an admin subscribed to events, what is queued for each of them, and every
attempt to deliver it (services/webhooks.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.database import UTCDateTime
from crmlite.models.base import Model, created_at_column, fk

URL_LENGTH = 500
ERROR_LENGTH = 500


class WebhookSubscription(Model):
    """A URL that hears about the events it names (``events``: their names, space-separated).
    ``secret`` ("whsec_<base64>") signs every delivery; the receiver checks with it.
    ``allow_private`` lets it point inside the network (an admin's explicit, audited choice)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[str] = mapped_column(String(400), default="")
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_private: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()
    created_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")

    @property
    def event_names(self) -> list[str]:
        return self.events.split()


class WebhookDelivery(Model):
    """One event for one subscription, queued in the transaction of the change it reports and
    claimed by the worker like an outbox row (same statuses, lease and backoff: see
    services/webhooks.py). ``key`` is unique per (event, subscription), so the same event
    reported twice is delivered once; ``message_id`` is the ``webhook-id`` header, the same
    on every retry, so a receiver can drop a delivery it already has."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    subscription_id: Mapped[int] = fk(
        "webhook_subscriptions.id", ondelete="CASCADE", nullable=False
    )
    event_type: Mapped[str] = mapped_column(String(40))
    message_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # the JSON body, exactly as signed and sent
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(ERROR_LENGTH), default="")
    response_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name="status_values"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_webhook_deliveries_due", "status", "not_before", "id"),
        Index("ix_webhook_deliveries_subscription", "subscription_id", "id"),
    )


class WebhookAttempt(Model):
    """One try at delivering: when, the answer's status code (None: no answer), how long it
    took, and what went wrong. The webhook's page lists them, newest first."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = fk("webhook_deliveries.id", ondelete="CASCADE", nullable=False)
    subscription_id: Mapped[int] = fk(
        "webhook_subscriptions.id", ondelete="CASCADE", nullable=False
    )
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    response_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(12))  # sent, retrying, failed
    error: Mapped[str] = mapped_column(String(ERROR_LENGTH), default="")

    __table_args__ = (
        Index("ix_webhook_attempts_subscription", "subscription_id", "id"),
        Index("ix_webhook_attempts_delivery", "delivery_id"),
    )
