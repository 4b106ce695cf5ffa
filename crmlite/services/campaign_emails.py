"""Campaign e-mails: writing one (subject, text and HTML bodies in which the contact's name
is filled in) and sending it to a contact group, each send recorded per contact.

Bodies are Jinja templates rendered in a sandbox (a template cannot reach into the app),
the HTML one autoescaped, so a contact named ``<b>Al</b>`` shows as written. Placeholders:
``first_name``, ``last_name``, ``name``, ``company``, ``email``; an unknown one is refused
when the e-mail is saved. The links written in the e-mail are stored when it is saved: they
are the only places its tracked links lead, so an e-mail that has been sent cannot change.

Sending queues one row per contact of the group (unique per e-mail and contact: sending
again, or to a second group, never mails anyone twice), then hands the queued ones to the
mailer at its bounded rate, committing after each through ``checkpoint``: if it stops (the
server went away, the process died), sending again continues where it stopped. Contacts who
unsubscribed or have no address are skipped and counted, checked again at sending time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape
from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.orm import joinedload

from crmlite.database import utcnow
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
    SendStatus,
)
from crmlite.services import events, tracking
from crmlite.services.mailer import (
    Mailer,
    MailError,
    MessageRefused,
    SkipReason,
    compose,
    skip_reason,
)

PLACEHOLDERS = ("first_name", "last_name", "name", "company", "email")
SAMPLE = {
    "first_name": "Shane",
    "last_name": "Swanson",
    "name": "Shane Swanson",
    "company": "Tows R Us",
    "email": "shane@example.com",
}
MAX_SUBJECT = 200
MAX_BODY = 100_000
BATCH = 100

# How a send is recorded: queued for a contact who may be mailed, else skipped and why.
STATUS_FOR_SKIP = {
    None: SendStatus.QUEUED,
    SkipReason.UNSUBSCRIBED: SendStatus.SKIPPED_UNSUBSCRIBED,
    SkipReason.NO_ADDRESS: SendStatus.SKIPPED_NO_ADDRESS,
    SkipReason.BOUNCED: SendStatus.SKIPPED_BOUNCED,
}
SKIPPED = tuple(status for status in STATUS_FOR_SKIP.values() if status != SendStatus.QUEUED)

_HTML = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_TEXT = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


class EmailRefused(ValueError):
    """Input the rules refuse; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Templates:
    subject: Template
    text: Template
    html: Template | None


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _compile(env: SandboxedEnvironment, source: str, field: str) -> Template:
    try:
        template = env.from_string(source)
        template.render(SAMPLE)
    except TemplateSyntaxError as error:
        raise EmailRefused(f"Line {error.lineno}: {error.message}", field) from error
    except UndefinedError as error:
        raise EmailRefused(
            f"{error.message}. Placeholders you can use: "
            + ", ".join("{{ " + p + " }}" for p in PLACEHOLDERS),
            field,
        ) from error
    except TemplateError as error:  # the sandbox refused something
        raise EmailRefused(f"This cannot be used in an e-mail: {error}", field) from error
    return template


def compile_email(subject: str, body_text: str, body_html: str) -> Templates:
    return Templates(
        subject=_compile(_TEXT, subject, "subject"),
        text=_compile(_TEXT, body_text, "body_text"),
        html=_compile(_HTML, body_html, "body_html") if body_html.strip() else None,
    )


def text_to_html(text: str) -> str:
    """A plain HTML version of a text body: paragraphs, line breaks, links."""

    def paragraph(block: str) -> str:
        escaped = str(escape(block))
        linked = tracking.URL_RE.sub(_link, escaped)
        return "<p>" + linked.replace("\n", "<br>\n") + "</p>"

    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    return (
        '<!doctype html><html><head><meta charset="utf-8"></head><body>\n'
        + "\n".join(paragraph(b) for b in blocks)
        + "\n</body></html>"
    )


def _link(match: re.Match[str]) -> str:
    raw = match.group(0)
    url = raw.rstrip(tracking.TRAILING)
    # The URL is already escaped (&amp;): an attribute wants it that way.
    return f'<a href="{url}">{url}</a>{raw[len(url) :]}'


def render(templates: Templates, context: dict[str, str]) -> Rendered:
    text = templates.text.render(context)
    html = templates.html.render(context) if templates.html else text_to_html(text)
    return Rendered(subject=templates.subject.render(context), text=text, html=html)


def context_for(first_name: str, last_name: str, email: str, company: str | None) -> dict[str, str]:
    return {
        "first_name": first_name or "",
        "last_name": last_name or "",
        "name": f"{first_name or ''} {last_name or ''}".strip(),
        "company": company or "",
        "email": email or "",
    }


# ------------------------------------------------------------------------------ writing


def has_sends(email_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(EmailSend.email_id == email_id))))


def save_email(
    email: CampaignEmail | None,
    *,
    campaign_id: int,
    subject: str,
    body_text: str,
    body_html: str,
    by: Member,
) -> CampaignEmail:
    """Create or change a draft; its links are stored as written. Refused once sent."""
    if email is not None and has_sends(email.id):
        raise EmailRefused(
            "This e-mail has been sent, so it can no longer change. Write a new one.", "subject"
        )
    subject, body_text, body_html = subject.strip(), body_text.strip(), body_html.strip()
    if not subject:
        raise EmailRefused("Enter a subject.", "subject")
    if len(subject) > MAX_SUBJECT:
        raise EmailRefused(f"Keep the subject under {MAX_SUBJECT} characters.", "subject")
    if not body_text:
        raise EmailRefused("Write the text of the e-mail.", "body_text")
    for name, body in (("body_text", body_text), ("body_html", body_html)):
        if len(body) > MAX_BODY:
            raise EmailRefused("The e-mail is too long (100,000 characters at most).", name)
    templates = compile_email(subject, body_text, body_html)
    sample = render(templates, SAMPLE)
    links = tracking.extract_links(sample.html, sample.text)
    if email is None:
        email = CampaignEmail(campaign_id=campaign_id, created_by_id=by.id)
        db.session.add(email)
    email.subject, email.body_text, email.body_html = subject, body_text, body_html
    db.session.flush()
    db.session.execute(delete(CampaignEmailLink).where(CampaignEmailLink.email_id == email.id))
    for position, url in enumerate(links):
        db.session.add(CampaignEmailLink(email_id=email.id, position=position, url=url))
    db.session.flush()
    return email


def delete_email(email: CampaignEmail, *, by: Member) -> None:
    """Only an e-mail never sent may go. Published (``Deleted``)."""
    if has_sends(email.id):
        raise EmailRefused("This e-mail has been sent: it stays with the campaign.", "subject")
    subject = email.subject
    db.session.execute(delete(CampaignEmailLink).where(CampaignEmailLink.email_id == email.id))
    db.session.execute(delete(CampaignEmail).where(CampaignEmail.id == email.id))
    db.session.flush()
    events.publish(events.Deleted("campaign e-mail", subject, by=by, at=utcnow()))


def links_of(email_id: int) -> list[CampaignEmailLink]:
    """The links written in the e-mail, in their order (their positions are in the
    tracked addresses)."""
    return list(
        db.session.scalars(
            select(CampaignEmailLink)
            .where(CampaignEmailLink.email_id == email_id)
            .order_by(CampaignEmailLink.position)
        )
    )


def recent_sends(email_id: int, limit: int) -> list[EmailSend]:
    """The e-mail's latest sends with their contacts, newest first."""
    return list(
        db.session.scalars(
            select(EmailSend)
            .where(EmailSend.email_id == email_id)
            .options(joinedload(EmailSend.contact))
            .order_by(EmailSend.id.desc())
            .limit(limit)
        )
    )


def preview(email: CampaignEmail) -> Rendered:
    """The e-mail as the sample contact would read it (links not yet tracked)."""
    return render(compile_email(email.subject, email.body_text, email.body_html), SAMPLE)


# ----------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class SendCounts:
    """An e-mail's sends counted by status, and the figures its pages show from them:
    waiting (queued, or refused by the mail server and tried again on the next send),
    skipped (unsubscribed or without an address) and sent."""

    by_status: dict[str, int]

    def __getitem__(self, status: str) -> int:
        return self.by_status.get(status, 0)

    @property
    def sent(self) -> int:
        return self[SendStatus.SENT.value]

    @property
    def waiting(self) -> int:
        return self[SendStatus.QUEUED.value] + self[SendStatus.FAILED.value]

    @property
    def skipped(self) -> int:
        return sum(self[status.value] for status in SKIPPED)

    @property
    def total(self) -> int:
        """Every contact the e-mail was queued for; from the first, it can no longer change."""
        return sum(self.by_status.values())


@dataclass
class SendReport:
    """What one run did (queued, sent, failed, skipped) and the e-mail's totals after it."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    stopped: str = ""
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def counts(self) -> SendCounts:
        """The e-mail's totals after the run."""
        return SendCounts(self.totals)


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


def to_send(email_id: int, list_id: int | None) -> int:
    """How many e-mails sending now would hand to the mail server at most: those waiting,
    and the group's contacts it has not been queued for yet."""
    waiting = send_counts(email_id).waiting
    return waiting + (unsent_members(email_id, list_id) if list_id is not None else 0)


def unsent_members(email_id: int, list_id: int) -> int:
    """Contacts of the group this e-mail has not been queued for yet."""
    return (
        db.session.scalar(
            select(func.count(MarketingListMember.contact_id)).where(
                MarketingListMember.list_id == list_id,
                ~exists().where(
                    EmailSend.email_id == email_id,
                    EmailSend.contact_id == MarketingListMember.contact_id,
                ),
            )
        )
        or 0
    )


def queue_sends(email: CampaignEmail, list_id: int, *, now: datetime | None = None) -> int:
    """One row per contact of the group not yet queued for this e-mail: queued, or skipped
    (unsubscribed, no address, bouncing) and counted. Returns how many rows were added."""
    now = now or datetime.now(UTC)
    rows = db.session.execute(
        select(Contact.id, Contact.email, Contact.unsubscribed_at, Contact.bounced_at)
        .join(MarketingListMember, MarketingListMember.contact_id == Contact.id)
        .where(
            MarketingListMember.list_id == list_id,
            ~exists().where(EmailSend.email_id == email.id, EmailSend.contact_id == Contact.id),
        )
        .order_by(Contact.id)
    ).all()
    values = [
        {
            "email_id": email.id,
            "contact_id": row.id,
            "list_id": list_id,
            "to_address": (row.email or "").strip(),
            "token": tracking.new_send_secret(),
            "status": STATUS_FOR_SKIP[skip_reason(row)].value,
            "error": "",
            "queued_at": now,
        }
        for row in rows
    ]
    if values:
        db.session.execute(insert(EmailSend), values)
    return len(values)


def build_message(
    templates: Templates,
    *,
    send: EmailSend | Any,
    context: dict[str, str],
    links: dict[str, int],
    base: str,
    sender: str,
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
        to=formataddr((context["name"], send.to_address)),
        subject=rendered.subject,
        text=text,
        html=html,
        sender=sender,
        headers=tracking.unsubscribe_headers(unsubscribe),
    )


@dataclass(frozen=True)
class _Pending:
    """A queued send with what its message needs, read before any commit."""

    id: int
    token: str
    to_address: str
    context: dict[str, str]
    skip: SkipReason | None


def _pending(email_id: int, after_id: int) -> list[_Pending]:
    rows = db.session.execute(
        select(
            EmailSend.id,
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
        .where(
            EmailSend.email_id == email_id,
            EmailSend.status.in_([SendStatus.QUEUED.value, SendStatus.FAILED.value]),
            EmailSend.id > after_id,
        )
        .order_by(EmailSend.id)
        .limit(BATCH)
    ).all()
    return [
        _Pending(
            id=row[0],
            token=row[1],
            to_address=(row.email or "").strip(),
            context=context_for(row.first_name, row.last_name, row.email, row.name),
            skip=skip_reason(row),
        )
        for row in rows
    ]


def _set(send_id: int, **values: Any) -> None:
    db.session.execute(update(EmailSend).where(EmailSend.id == send_id).values(**values))


def deliver(
    email: CampaignEmail,
    *,
    mailer: Mailer,
    base: str,
    sender: str,
    checkpoint: Callable[[], None],
    report: SendReport | None = None,
) -> SendReport:
    """Hand this e-mail's queued (and earlier failed) sends to the mailer, recording each.
    A server that cannot take mail stops the run (``report.stopped``); the rest stays
    queued for the next run."""
    report = report or SendReport()
    templates = compile_email(email.subject, email.body_text, email.body_html)
    email_id = email.id
    links = {
        url: position
        for url, position in db.session.execute(
            select(CampaignEmailLink.url, CampaignEmailLink.position).where(
                CampaignEmailLink.email_id == email_id
            )
        )
    }
    after_id = 0
    while batch := _pending(email_id, after_id):
        checkpoint()  # no transaction (nor SQLite's write lock) is held while the server talks
        for pending in batch:
            after_id = pending.id
            if pending.skip is not None:
                _set(pending.id, status=STATUS_FOR_SKIP[pending.skip].value)
                report.skipped += 1
                checkpoint()
                continue
            message = build_message(
                templates,
                send=pending,
                context=pending.context,
                links=links,
                base=base,
                sender=sender,
            )
            try:
                mailer.send(message)
            except MessageRefused as error:
                _set(pending.id, status=SendStatus.FAILED.value, error=str(error)[:500])
                report.failed += 1
            except MailError as error:
                report.stopped = str(error) or "the mail server is not available"
                checkpoint()
                report.totals = status_counts(email_id)
                return report
            else:
                _set(
                    pending.id,
                    status=SendStatus.SENT.value,
                    to_address=pending.to_address,
                    sent_at=datetime.now(UTC),
                    error="",
                )
                report.sent += 1
            checkpoint()
    report.totals = status_counts(email_id)
    return report


def send_campaign_email(
    email: CampaignEmail,
    *,
    list_id: int | None,
    mailer: Mailer,
    base: str,
    sender: str,
    checkpoint: Callable[[], None],
) -> SendReport:
    """Queue the group's contacts (when a group is given), then send what is queued."""
    report = SendReport()
    if list_id is not None:
        report.queued = queue_sends(email, list_id)
        checkpoint()
    return deliver(
        email, mailer=mailer, base=base, sender=sender, checkpoint=checkpoint, report=report
    )
