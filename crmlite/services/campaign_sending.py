"""Sending a campaign e-mail: recording its contacts, queuing their messages in the outbox,
the page's figures, and writing each message when the worker sends it.

Send records one row per contact of the group (unique per e-mail and contact: sending
again, or to a second group, never mails anyone twice) and puts one outbox message per
waiting row (unique too), in two INSERT … SELECT statements whatever the group's size, in
the request's one transaction; the worker (services/delivery.py) writes each message when it
goes (``Writer``) and records the outcome here (``record_outcome``). Contacts who
unsubscribed, bounce or have no address are skipped and counted, checked again when the
message goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any

from markupsafe import Markup
from sqlalchemy import String, case, cast, delete, exists, func, literal, select, update

from crmlite.database import UTCDateTime, dialect_insert, random_hex_sql, utcnow
from crmlite.extensions import db
from crmlite.links import absolute_url
from crmlite.models import (
    CampaignEmail,
    CampaignEmailLink,
    Company,
    Contact,
    EmailSend,
    MarketingListMember,
    Member,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    SendStatus,
)
from crmlite.services import tracking
from crmlite.services.campaign_emails import Templates, compile_email, context_for, render
from crmlite.services.mailer import (
    SkipReason,
    compose,
    recipient,
    sender_domain,
    skip_reason,
    skip_reason_sql,
)
from crmlite.services.outbox import Outgoing

# How a send is recorded: queued for a contact who may be mailed, else skipped and why.
STATUS_FOR_SKIP = {
    None: SendStatus.QUEUED,
    SkipReason.UNSUBSCRIBED: SendStatus.SKIPPED_UNSUBSCRIBED,
    SkipReason.NO_ADDRESS: SendStatus.SKIPPED_NO_ADDRESS,
    SkipReason.BOUNCED: SendStatus.SKIPPED_BOUNCED,
}
SKIPPED = tuple(status for status in STATUS_FOR_SKIP.values() if status != SendStatus.QUEUED)


@dataclass(frozen=True)
class SendCounts:
    """An e-mail's sends counted by status, and the figures its pages show from them:
    waiting (queued for the worker, or waiting for a retry), sent, failed (refused by the
    mail server for good) and skipped (unsubscribed, no address)."""

    by_status: dict[str, int]

    def __getitem__(self, status: str) -> int:
        return self.by_status.get(status, 0)

    @property
    def sent(self) -> int:
        return self[SendStatus.SENT.value]

    @property
    def waiting(self) -> int:
        return self[SendStatus.QUEUED.value]

    @property
    def failed(self) -> int:
        return self[SendStatus.FAILED.value]

    @property
    def skipped(self) -> int:
        return sum(self[status.value] for status in SKIPPED)

    @property
    def total(self) -> int:
        """Every contact the e-mail was queued for; from the first, it can no longer change."""
        return sum(self.by_status.values())


def status_counts(email_id: int) -> dict[str, int]:
    """An e-mail's sends by status (every status, 0 when none): one query."""
    counts = {status.value: 0 for status in SendStatus}
    for status, count in db.session.execute(
        select(EmailSend.status, func.count(EmailSend.id))
        .where(EmailSend.email_id == email_id)
        .group_by(EmailSend.status)
    ):
        counts[status] = count
    return counts


def send_counts(email_id: int) -> SendCounts:
    return SendCounts(status_counts(email_id))


def campaign_email_rows(campaign_id: int) -> list[tuple[CampaignEmail, SendCounts]]:
    """A campaign's e-mails, newest first, each with its sends counted by status: two
    queries whatever their number."""
    found = db.session.scalars(
        select(CampaignEmail)
        .where(CampaignEmail.campaign_id == campaign_id)
        .order_by(CampaignEmail.created_at.desc(), CampaignEmail.id.desc())
    ).all()
    counts = {e.id: {status.value: 0 for status in SendStatus} for e in found}
    if found:
        for email_id, status, count in db.session.execute(
            select(EmailSend.email_id, EmailSend.status, func.count(EmailSend.id))
            .where(EmailSend.email_id.in_(list(counts)))
            .group_by(EmailSend.email_id, EmailSend.status)
        ):
            counts[email_id][status] = count
    return [(e, SendCounts(counts[e.id])) for e in found]


def queue_sends(email: CampaignEmail, list_id: int, *, now: datetime | None = None) -> int:
    """One row per contact of the group not yet queued for this e-mail: queued, or skipped
    (unsubscribed, no address, bouncing: ``mailer.skip_reason``'s SQL form) and counted,
    in one INSERT … SELECT whatever the group's size. Another Send of the same e-mail may
    be recording the same contacts right now: each (e-mail, contact) is recorded once, by
    whichever comes first. Returns how many rows were added."""
    now = now or datetime.now(UTC)
    dialect = db.engine.dialect.name
    reason = skip_reason_sql(Contact)
    status = case(
        *((reason == skip.value, STATUS_FOR_SKIP[skip].value) for skip in SkipReason),
        else_=SendStatus.QUEUED.value,
    )
    rows = (
        select(
            literal(email.id),
            Contact.id,
            literal(list_id),
            func.trim(func.coalesce(Contact.email, "")),
            random_hex_sql(dialect),
            status,
            literal(""),
            literal(now, UTCDateTime()),
        )
        .join(MarketingListMember, MarketingListMember.contact_id == Contact.id)
        .where(
            MarketingListMember.list_id == list_id,
            ~exists().where(EmailSend.email_id == email.id, EmailSend.contact_id == Contact.id),
        )
        .order_by(Contact.id)
    )
    columns = [
        "email_id",
        "contact_id",
        "list_id",
        "to_address",
        "token",
        "status",
        "error",
        "queued_at",
    ]
    insert = dialect_insert(EmailSend, dialect).from_select(columns, rows)
    statement = insert.on_conflict_do_nothing().returning(EmailSend.id)
    return len(db.session.scalars(statement).all())


def build_message(
    templates: Templates,
    *,
    send: EmailSend | Any,
    to: str,
    context: dict[str, str],
    links: dict[str, int],
    base: str,
    sender: str,
    message_id: str | None = None,
) -> EmailMessage:
    """One contact's message: personalised, every written link tracked, the open pixel,
    and an unsubscribe link (in the footer and in the List-Unsubscribe header)."""
    rendered = render(templates, context)
    click = tracking.send_token(send, tracking.CLICK)

    def tracked(url: str) -> str | None:
        position = links.get(url)
        if position is None:
            return None
        return absolute_url("public.click", base=base, token=click, position=position)

    unsubscribe = absolute_url(
        "public.unsubscribe", base=base, token=tracking.send_token(send, tracking.UNSUBSCRIBE)
    )
    pixel = absolute_url("public.pixel", base=base, token=tracking.send_token(send, tracking.OPEN))
    footer = Markup(
        '<p style="font-size:12px;color:#666">Not interested any more? '
        '<a href="{}">Unsubscribe</a>.</p>'
    ).format(unsubscribe)
    html = tracking.rewrite_html(rendered.html, tracked, pixel=pixel, footer=str(footer))
    text = (
        tracking.rewrite_text(rendered.text, tracked).rstrip()
        + f"\n\n--\nNot interested any more? Unsubscribe: {unsubscribe}\n"
    )
    return compose(
        to=recipient(to, context["name"]),
        subject=rendered.subject,
        text=text,
        html=html,
        sender=sender,
        headers=tracking.unsubscribe_headers(unsubscribe),
        message_id=message_id,
    )


@dataclass(frozen=True)
class Queued:
    """What pressing Send did: contacts newly recorded for the e-mail, and messages put in
    the outbox for the worker (0 when they were there already: Send pressed twice)."""

    recorded: int
    queued: int


def queue_for_delivery(
    email: CampaignEmail,
    list_id: int | None,
    *,
    base: str,
    sender: str,
    not_before: datetime | None = None,
    now: datetime | None = None,
) -> Queued:
    """Record the group's contacts (when a group is given) and put every send of this
    e-mail still waiting into the outbox, in two statements whatever their number. Twice
    (two tabs, two managers) queues each message once. The caller commits."""
    now = now or utcnow()
    recorded = queue_sends(email, list_id, now=now) if list_id is not None else 0
    domain = sender_domain(sender)
    stamp = int(now.timestamp())
    key = literal("campaign-send:") + cast(EmailSend.id, String)
    message_id = (
        literal("<crmlite.campaign-send.")
        + cast(EmailSend.id, String)
        + literal(f".{stamp}@{domain}>")
    )
    waiting = select(
        key,
        literal(OutboxKind.CAMPAIGN.value),
        EmailSend.contact_id,
        EmailSend.to_address,
        EmailSend.id,
        literal(base),
        message_id,
        literal(OutboxStatus.QUEUED.value),
        literal(not_before or now, UTCDateTime()),
        literal(now, UTCDateTime()),
    ).where(
        EmailSend.email_id == email.id,
        EmailSend.status == SendStatus.QUEUED.value,
        ~exists().where(OutboxMessage.email_send_id == EmailSend.id),
    )
    columns = [
        "key",
        "kind",
        "contact_id",
        "to_address",
        "email_send_id",
        "base_url",
        "message_id",
        "status",
        "not_before",
        "created_at",
    ]
    insert = dialect_insert(OutboxMessage, db.engine.dialect.name)
    statement = insert.from_select(columns, waiting).on_conflict_do_nothing()
    queued = len(db.session.scalars(statement.returning(OutboxMessage.id)).all())
    return Queued(recorded=recorded, queued=queued)


def not_in_outbox(email_id: int) -> int:
    """Sends recorded as waiting that have no outbox message (recorded before the outbox,
    or left when a send was taken back half way): Send with no group queues them."""
    return (
        db.session.scalar(
            select(func.count(EmailSend.id)).where(
                EmailSend.email_id == email_id,
                EmailSend.status == SendStatus.QUEUED.value,
                ~exists().where(OutboxMessage.email_send_id == EmailSend.id),
            )
        )
        or 0
    )


def scheduled_for(email_id: int) -> datetime | None:
    """When a scheduled send of this e-mail starts (its earliest waiting message), or None
    when nothing waits for a later time."""
    first = db.session.scalar(
        select(func.min(OutboxMessage.not_before))
        .join(EmailSend, EmailSend.id == OutboxMessage.email_send_id)
        .where(
            EmailSend.email_id == email_id,
            OutboxMessage.status == OutboxStatus.QUEUED.value,
            OutboxMessage.attempts == 0,
        )
    )
    return first if first is not None and first > utcnow() else None


def cancel_waiting(email_id: int) -> int:
    """Take back what has not gone yet (a scheduled send, or the rest of a running one):
    those contacts can be sent to again later. How many were taken back."""
    waiting = select(EmailSend.id).where(
        EmailSend.email_id == email_id, EmailSend.status == SendStatus.QUEUED.value
    )
    db.session.execute(
        delete(OutboxMessage)
        .where(
            OutboxMessage.email_send_id.in_(waiting),
            OutboxMessage.status == OutboxStatus.QUEUED.value,
        )
        .execution_options(synchronize_session=False)
    )
    taken = db.session.execute(
        delete(EmailSend)
        .where(
            EmailSend.email_id == email_id,
            EmailSend.status == SendStatus.QUEUED.value,
            ~exists().where(OutboxMessage.email_send_id == EmailSend.id),
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(taken, "rowcount", 0) or 0)


def test_message(email: CampaignEmail, member: Member, *, now: datetime) -> Outgoing:
    """ "Send a test to me": the e-mail as the member would read it, links not tracked."""
    first, _, last = member.name.partition(" ")
    rendered = render(
        compile_email(email.subject, email.body_text, email.body_html),
        context_for(first, last, member.email, "Your company"),
    )
    return Outgoing(
        key=f"test:{email.id}:{member.id}:{now.timestamp():.6f}",
        kind=OutboxKind.TEST,
        to_address=member.email,
        to_name=member.name,
        subject=f"[Test] {rendered.subject}",
        body_text=rendered.text,
        body_html=rendered.html,
    )


# ------------------------------------------------------------------- the worker's side


@dataclass(frozen=True)
class Reader:
    send_id: int
    token: str
    to_address: str
    context: dict[str, str]
    skip: SkipReason | None


class Writer:
    """Writes campaign sends' messages for the worker, each e-mail's templates and links
    read once."""

    def __init__(self, sender: str) -> None:
        self.sender = sender
        self._emails: dict[int, tuple[Templates, dict[str, int]]] = {}

    def _email(self, email_id: int) -> tuple[Templates, dict[str, int]]:
        if email_id not in self._emails:
            email = db.session.get(CampaignEmail, email_id)
            assert email is not None
            links = {
                url: position
                for url, position in db.session.execute(
                    select(CampaignEmailLink.url, CampaignEmailLink.position).where(
                        CampaignEmailLink.email_id == email_id
                    )
                )
            }
            templates = compile_email(email.subject, email.body_text, email.body_html)
            self._emails[email_id] = (templates, links)
        return self._emails[email_id]

    def reader(self, send_id: int) -> tuple[int, Reader] | None:
        row = db.session.execute(
            select(
                EmailSend.email_id,
                EmailSend.token,
                Contact.first_name,
                Contact.last_name,
                Contact.email,
                Contact.unsubscribed_at,
                Contact.bounced_at,
                Company.name,
            )
            .join(Contact, Contact.id == EmailSend.contact_id)
            .outerjoin(Company, Company.id == Contact.company_id)
            .where(EmailSend.id == send_id)
        ).first()
        if row is None:
            return None
        return row.email_id, Reader(
            send_id=send_id,
            token=row.token,
            to_address=(row.email or "").strip(),
            context=context_for(row.first_name, row.last_name, row.email, row.name),
            skip=skip_reason(row),
        )

    def message(self, email_id: int, reader: Reader, *, base: str, message_id: str) -> EmailMessage:
        templates, links = self._email(email_id)
        return build_message(
            templates,
            send=SimpleNamespace(id=reader.send_id, token=reader.token),
            to=reader.to_address,
            context=reader.context,
            links=links,
            base=base,
            sender=self.sender,
            message_id=message_id,
        )


def record_outcome(
    send_id: int, status: SendStatus, *, error: str = "", to_address: str = ""
) -> None:
    """The worker's word on one send: sent (when), failed (why) or skipped."""
    values: dict[str, Any] = {"status": status.value, "error": error[:500]}
    if status == SendStatus.SENT:
        values["sent_at"] = utcnow()
    if to_address:
        values["to_address"] = to_address
    db.session.execute(update(EmailSend).where(EmailSend.id == send_id).values(**values))
