"""Delivery: the worker's side of the outbox. Claims due messages, writes each one (a
campaign send from its e-mail, anything else as stored), hands it to the mail server at
the configured rate and records what happened, on the outbox row and on what produced it
(the campaign send, the track step).

- The mail server took it: sent.
- The server refused this message for good (5xx), or it cannot be written (no valid
  address): failed, with the reason, shown on the campaign's page and in Setup → Outbox.
- The server cannot take mail now (4xx, timeout, connection refused, TLS unavailable): the
  message goes back with a backoff (``outbox.mark_retry``); the rest of the batch is handed
  back untried and the run stops, to try again later.
- The contact unsubscribed or bounces since it was queued: skipped.

No database transaction is open while the server talks: each outcome is committed alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import update

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import Contact, OutboxKind, OutboxMessage, SendStatus, TrackStepRun
from crmlite.services import campaign_sending, outbox
from crmlite.services.mailer import (
    SKIPPED,
    Mailer,
    MailError,
    MessageRefused,
    SkipReason,
    compose,
    recipient,
    skip_reason,
)

BATCH = 50

# A campaign send's status for each skip reason.
SEND_SKIPPED = {
    SkipReason.UNSUBSCRIBED: SendStatus.SKIPPED_UNSUBSCRIBED,
    SkipReason.NO_ADDRESS: SendStatus.SKIPPED_NO_ADDRESS,
    SkipReason.BOUNCED: SendStatus.SKIPPED_BOUNCED,
}


@dataclass
class Delivered:
    """What one run of ``deliver`` did."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    skipped: int = 0
    stopped: str = ""  # why the run stopped early (the mail server cannot take mail now)

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.retrying + self.skipped

    def line(self) -> str:
        text = (
            f"{self.sent} sent, {self.failed} failed, {self.skipped} skipped, "
            f"{self.retrying} to retry"
        )
        return f"{text}; stopped: {self.stopped}" if self.stopped else text


class Skip(Exception):
    """The recipient may not be mailed any more (``reason``)."""

    def __init__(self, reason: SkipReason) -> None:
        super().__init__(SKIPPED[reason])
        self.reason = reason


class Unwritable(Exception):
    """The message cannot be written (no valid address, its e-mail is gone)."""


def _stored(row: OutboxMessage, sender: str) -> EmailMessage:
    address = row.to_address
    if row.contact_id is not None:
        contact = db.session.get(Contact, row.contact_id)
        if contact is not None and (reason := skip_reason(contact)) is not None:
            raise Skip(reason)
        if contact is not None:
            address = contact.email  # corrected since it was queued: the address today
    try:
        to = recipient(address, row.to_name)
    except ValueError as error:
        raise Unwritable(str(error)) from error
    return compose(
        to=to,
        subject=row.subject,
        text=row.body_text,
        html=row.body_html or None,
        sender=sender,
        headers=outbox.headers_of(row),
        message_id=row.message_id,
    )


def _campaign(row: OutboxMessage, writer: campaign_sending.Writer) -> EmailMessage:
    if row.email_send_id is None:
        raise Unwritable("its campaign send is gone")
    found = writer.reader(row.email_send_id)
    if found is None:
        raise Unwritable("its contact or campaign e-mail is gone")
    email_id, reader = found
    if reader.skip is not None:
        raise Skip(reader.skip)
    try:
        return writer.message(email_id, reader, base=row.base_url, message_id=row.message_id)
    except ValueError as error:
        raise Unwritable(str(error)) from error


def _record(row: OutboxMessage, status: SendStatus, *, error: str = "") -> None:
    """Tell what produced the message how it went."""
    if row.email_send_id is not None:
        campaign_sending.record_outcome(
            row.email_send_id,
            status,
            error=error,
            to_address=row.to_address if status == SendStatus.SENT else "",
        )
    if row.step_run_id is not None:
        outcome = {
            SendStatus.SENT: "e-mail sent",
            SendStatus.FAILED: f"e-mail failed: {error}",
            SendStatus.QUEUED: "e-mail queued again",
        }.get(status, f"skipped: {error}")
        db.session.execute(
            update(TrackStepRun)
            .where(TrackStepRun.id == row.step_run_id)
            .values(outcome=outcome[:40])
        )


def deliver(
    mailer: Mailer,
    *,
    sender: str,
    limit: int | None = None,
    now: Callable[[], datetime] = utcnow,
) -> Delivered:
    """Send what is due in the outbox, batch by batch, until nothing is due, ``limit``
    messages were handled, or the mail server cannot take mail."""
    done = Delivered()
    writer = campaign_sending.Writer(sender)
    while limit is None or done.handled < limit:
        size = BATCH if limit is None else min(BATCH, limit - done.handled)
        claimed = outbox.claim(size, now=now())
        if not claimed:
            break
        for index, row_id in enumerate(claimed):
            row = db.session.get(OutboxMessage, row_id)
            if row is None:
                continue
            if not _deliver_one(row, mailer, writer, sender, done, now):
                outbox.release(claimed[index + 1 :])
                db.session.commit()
                return done
    return done


def _deliver_one(
    row: OutboxMessage,
    mailer: Mailer,
    writer: campaign_sending.Writer,
    sender: str,
    done: Delivered,
    now: Callable[[], datetime],
) -> bool:
    """One message; False when the server cannot take mail now (stop the run)."""
    try:
        if row.kind == OutboxKind.CAMPAIGN.value:
            message = _campaign(row, writer)
        else:
            message = _stored(row, sender)
    except Skip as skip:
        outbox.mark_skipped(row, str(skip))
        _record(row, SEND_SKIPPED[skip.reason], error=str(skip))
        db.session.commit()
        done.skipped += 1
        return True
    except Unwritable as error:
        outbox.mark_failed(row, str(error))
        _record(row, SendStatus.FAILED, error=str(error))
        db.session.commit()
        done.failed += 1
        return True
    db.session.commit()  # no transaction (nor SQLite's write lock) while the server talks
    try:
        mailer.send(message)
    except MessageRefused as refused:
        outbox.mark_failed(row, str(refused))
        _record(row, SendStatus.FAILED, error=str(refused))
        done.failed += 1
    except MailError as error:
        if outbox.mark_retry(row, str(error), now=now()):
            done.retrying += 1
        else:
            _record(row, SendStatus.FAILED, error=row.last_error)
            done.failed += 1
        done.stopped = str(error) or "the mail server is not available"
        db.session.commit()
        return False
    else:
        outbox.mark_sent(row, now=now())
        _record(row, SendStatus.SENT)
        done.sent += 1
    db.session.commit()
    return True


def try_again(row: OutboxMessage, *, now: datetime) -> None:
    """A failed message back in the queue (``outbox.try_again``), and its campaign send
    counted as waiting again."""
    outbox.try_again(row, now=now)
    _record(row, SendStatus.QUEUED)
