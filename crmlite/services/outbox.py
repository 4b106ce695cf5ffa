"""The outbox: what crmlite sends is queued here, in the database, and the worker hands it
to the mail server (services/delivery.py). Nothing is sent inside a web request.

- **Queued once**: every row has a unique ``key`` naming the message and its recipient
  ("campaign-send:12", "track:40:7"); queuing the same key again adds nothing, so two tabs
  pressing Send, or two runners, queue one message.
- **Claimed once**: a worker claims due rows in one UPDATE (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL; SQLite's write lock does the same there) for a lease; a second worker skips
  them. A row whose lease ran out (its worker died mid-send) is claimed again and sent with
  the same Message-ID.
- **In order per contact**: a row is not claimed while an earlier row for the same contact
  is still waiting, so a track's day-0 e-mail always goes before its day-6 one.
- **Retried**: a temporary failure (4xx, timeout, connection refused) puts the row back with
  an exponential backoff (1, 2, 4 … minutes, at most ``MAX_BACKOFF``) until ``MAX_ATTEMPTS``;
  a permanent one (5xx) fails the row at once, its error kept and shown.

Webhook deliveries (services/webhooks.py) live in a sibling table but are claimed, retried
and backed off by the same functions (``claim_due``, ``mark_retry``, ``backoff``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from crmlite.database import dialect_insert, utcnow
from crmlite.extensions import db
from crmlite.models import OutboxKind, OutboxMessage, OutboxStatus, WebhookDelivery

MAX_ATTEMPTS = 10
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=4)
LEASE = timedelta(minutes=5)
WAITING = (OutboxStatus.QUEUED.value, OutboxStatus.SENDING.value)
# The tables claimed, retried and backed off alike (webhooks reuse the machinery).
Queued = OutboxMessage | WebhookDelivery


@dataclass(frozen=True)
class Outgoing:
    """A stored message to queue: the worker sends it as written."""

    key: str
    kind: OutboxKind
    to_address: str
    subject: str
    body_text: str
    to_name: str = ""
    body_html: str = ""
    headers: Mapping[str, str] | None = None
    contact_id: int | None = None
    step_run_id: int | None = None
    not_before: datetime | None = None


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID fixed when the row is queued: a resend after a crash repeats it."""
    safe = "".join(c if c.isalnum() else "." for c in key)
    return f"<{safe}.{secrets.token_hex(6)}@{domain}>"


def insert_new(rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows, leaving out those whose key is queued already: how many went in."""
    if not rows:
        return 0
    insert = dialect_insert(OutboxMessage, db.engine.dialect.name)
    statement = insert.values(rows).on_conflict_do_nothing().returning(OutboxMessage.id)
    return len(db.session.scalars(statement).all())


def row_for(outgoing: Outgoing, *, domain: str, now: datetime) -> dict[str, Any]:
    return {
        "key": outgoing.key,
        "kind": outgoing.kind.value,
        "contact_id": outgoing.contact_id,
        "to_address": outgoing.to_address.strip(),
        "to_name": outgoing.to_name,
        "subject": outgoing.subject,
        "body_text": outgoing.body_text,
        "body_html": outgoing.body_html,
        "headers": json.dumps(dict(outgoing.headers or {})),
        "step_run_id": outgoing.step_run_id,
        "base_url": "",
        "message_id": message_id_for(outgoing.key, domain),
        "status": OutboxStatus.QUEUED.value,
        "attempts": 0,
        "not_before": outgoing.not_before or now,
        "last_error": "",
        "created_at": now,
    }


def enqueue(outgoing: Outgoing, *, domain: str, now: datetime | None = None) -> bool:
    """Queue one message; False when its key was queued already (nothing added). Part of
    the caller's transaction: the message exists exactly when what produced it does."""
    return insert_new([row_for(outgoing, domain=domain, now=now or utcnow())]) == 1


def enqueue_many(outgoing: Iterable[Outgoing], *, domain: str, now: datetime | None = None) -> int:
    now = now or utcnow()
    return insert_new([row_for(o, domain=domain, now=now) for o in outgoing])


def headers_of(row: OutboxMessage) -> dict[str, str]:
    loaded = json.loads(row.headers or "{}")
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


# ------------------------------------------------------------------------ the worker's side


def _claimable(table: Any, now: datetime) -> ColumnElement[bool]:
    """Due and waiting (or claimed by a worker whose lease ran out)."""
    return or_(
        and_(table.status == OutboxStatus.QUEUED.value, table.not_before <= now),
        and_(table.status == OutboxStatus.SENDING.value, table.claimed_until < now),
    )


def claim_due(
    table: type[Queued],
    limit: int,
    *,
    now: datetime,
    lease: timedelta = LEASE,
    also: ColumnElement[bool] | None = None,
) -> list[int]:
    """Take up to ``limit`` due rows of a queue table (the outbox, or webhook deliveries:
    same status, attempts, not_before and claimed_until columns) for this worker, committed,
    oldest first, and only those meeting ``also``. Returns their ids."""
    candidates = (
        select(table.id)
        .where(_claimable(table, now), *([] if also is None else [also]))
        .order_by(table.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # Two statements, not UPDATE … WHERE id IN (SELECT … LIMIT): PostgreSQL may run such a
    # subquery again and take more rows than asked. The SELECT locks what it returns
    # (SQLite: the transaction's write lock), so the UPDATE takes exactly those.
    ids = list(db.session.scalars(candidates))
    if ids:
        db.session.execute(
            update(table)
            .where(table.id.in_(ids))
            .values(
                status=OutboxStatus.SENDING.value,
                claimed_until=now + lease,
                attempts=table.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return ids


def claim(limit: int, *, now: datetime | None = None, lease: timedelta = LEASE) -> list[int]:
    """Take up to ``limit`` due rows for this worker, committed, oldest first; a contact's
    row only when none of their earlier rows still waits. Returns their ids."""
    earlier = aliased(OutboxMessage)
    in_order = ~exists().where(
        earlier.contact_id == OutboxMessage.contact_id,
        earlier.id < OutboxMessage.id,
        earlier.status.in_(WAITING),
    )
    return claim_due(OutboxMessage, limit, now=now or utcnow(), lease=lease, also=in_order)


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 1, 2, 4, 8 … minutes, at most MAX_BACKOFF."""
    return min(FIRST_BACKOFF * (2 ** max(0, attempts - 1)), MAX_BACKOFF)


def mark_sent(row: Queued, *, now: datetime) -> None:
    row.status = OutboxStatus.SENT.value
    row.sent_at = now
    row.claimed_until = None
    row.last_error = ""


def mark_failed(row: Queued, error: str) -> None:
    row.status = OutboxStatus.FAILED.value
    row.claimed_until = None
    row.last_error = error[:500]


def mark_skipped(row: OutboxMessage, reason: str) -> None:
    row.status = OutboxStatus.SKIPPED.value
    row.claimed_until = None
    row.last_error = reason[:500]


def mark_retry(row: Queued, error: str, *, now: datetime) -> bool:
    """Back in the queue after a temporary failure, or failed for good after the last
    attempt. True when it will be tried again."""
    if row.attempts >= MAX_ATTEMPTS:
        mark_failed(row, f"gave up after {row.attempts} attempts: {error}")
        return False
    row.status = OutboxStatus.QUEUED.value
    row.not_before = now + backoff(row.attempts)
    row.claimed_until = None
    row.last_error = error[:500]
    return True


def release(ids: list[int]) -> None:
    """Hand back claimed rows that were not tried (the server went away first)."""
    if ids:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.SENDING.value)
            .values(
                status=OutboxStatus.QUEUED.value,
                claimed_until=None,
                attempts=OutboxMessage.attempts - 1,  # claimed: at least 1
            )
            .execution_options(synchronize_session=False)
        )


# ----------------------------------------------------------------------------- what pages show


def recent_problems(limit: int = 20) -> list[OutboxMessage]:
    """Failed rows and rows waiting for a retry, newest first (for the admin's view)."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                or_(
                    OutboxMessage.status == OutboxStatus.FAILED.value,
                    and_(
                        OutboxMessage.status == OutboxStatus.QUEUED.value,
                        OutboxMessage.attempts > 0,
                    ),
                )
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def kind_counts() -> dict[str, dict[str, int]]:
    """Rows by kind and status (every status, 0 when none): one query."""
    counts: dict[str, dict[str, int]] = {
        kind.value: {status.value: 0 for status in OutboxStatus} for kind in OutboxKind
    }
    for kind, status, number in db.session.execute(
        select(OutboxMessage.kind, OutboxMessage.status, func.count(OutboxMessage.id)).group_by(
            OutboxMessage.kind, OutboxMessage.status
        )
    ):
        counts.setdefault(kind, {s.value: 0 for s in OutboxStatus})[status] = number
    return counts


class NotFailed(ValueError):
    """Only a failed message can be tried again."""


def try_again(row: OutboxMessage, *, now: datetime) -> None:
    """A failed message back in the queue, its attempts counted from zero (e.g. after the
    address was corrected or the server's refusal was sorted out). The campaign send or
    track step it belongs to waits again too."""
    if row.status != OutboxStatus.FAILED.value:
        raise NotFailed("Only a failed message can be tried again.")
    row.status = OutboxStatus.QUEUED.value
    row.attempts = 0
    row.not_before = now
    row.last_error = ""
