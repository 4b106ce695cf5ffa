"""Tracking campaign e-mails and the campaign's public web form.

Every tracked URL carries a token signed with the app's secret (itsdangerous), one salt
per purpose, so a token made for the open pixel is no unsubscribe token. A send's token
holds its id and the random secret stored on its row: a token cannot be guessed, forged or
moved to another send, and it leads to nothing once its row is gone. Open and click tokens
stop recording after TRACKING_MAX_AGE_DAYS; unsubscribe tokens never expire (people must
always be able to leave).

- Open: a 1×1 image; the first open stamps the send, every open is an event.
- Click: the n-th URL written in that e-mail, and only that: the redirect target is read
  from the stored list, never from the request, so there is no open redirect.
- Unsubscribe: stamps the contact; every sender asks ``mailer.skip_reason`` from then on.
  Track e-mails (``contact_email``) carry the contact's own unsubscribe link.
- Web form: creates or matches the contact (by e-mail) and company (by name), opens a
  Prospect opportunity on the campaign (so the contact joins the campaign's track, else
  General Interest), records the submission and schedules a "Lead Follow Up Call" for the
  campaign's owner, all in the caller's one transaction.
  It closes once the campaign is finished or past its end date, or when switched off.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import case, distinct, func, or_, select

from crmlite import links
from crmlite.extensions import db
from crmlite.models import (
    ActivityType,
    Campaign,
    CampaignEmail,
    CampaignEmailLink,
    CampaignStatus,
    Company,
    Contact,
    EmailEvent,
    EmailEventKind,
    EmailSend,
    FormSubmission,
    Member,
    OutboxKind,
    Role,
    SendStatus,
)
from crmlite.services import events
from crmlite.services.activities import schedule_activity
from crmlite.services.business_days import first_business_day_from
from crmlite.services.money import percent
from crmlite.services.opportunities import create_opportunity, find_or_create_company
from crmlite.services.outbox import Outgoing

OPEN, CLICK, UNSUBSCRIBE = "open", "click", "unsubscribe"
CONTACT_UNSUBSCRIBE = "contact-unsubscribe"
CAMPAIGN_FORM = "campaign-form"
FOLLOW_UP_CODE = "LF"  # "LF - Lead Follow Up Call"
WEB_FORM_SOURCE = "Web form"


class BadToken(Exception):
    """Forged, tampered with, or for something that no longer exists."""


class ExpiredToken(BadToken):
    """Genuine but older than tracking records; ``send`` is the send it was made for."""

    def __init__(self, send: EmailSend) -> None:
        super().__init__("expired")
        self.send = send


# ------------------------------------------------------------------------------ tokens


def _salt(purpose: str) -> str:
    return f"crmlite.tracking.{purpose}"


def _timed(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_salt(purpose))


def _plain(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_salt(purpose))


def send_token(send: EmailSend, purpose: str) -> str:
    """The token of one send for one purpose (open, click, unsubscribe)."""
    if purpose == UNSUBSCRIBE:
        return _plain(purpose).dumps([send.id, send.token])
    return _timed(purpose).dumps([send.id, send.token])


def _send_of(payload: Any) -> EmailSend:
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[0], int)
        or not isinstance(payload[1], str)
    ):
        raise BadToken("malformed")
    send = db.session.get(EmailSend, payload[0])
    if send is None or not secrets.compare_digest(send.token, payload[1]):
        raise BadToken("no such send")
    return send


def load_send(token: str, purpose: str, *, now: datetime | None = None) -> EmailSend:
    """The send a token was made for; BadToken when forged, ExpiredToken when too old."""
    if purpose == UNSUBSCRIBE:
        try:
            return _send_of(_plain(purpose).loads(token))
        except BadSignature as error:
            raise BadToken("bad signature") from error
    try:
        payload, signed_at = _timed(purpose).loads(token, return_timestamp=True)
    except BadSignature as error:
        raise BadToken("bad signature") from error
    send = _send_of(payload)
    max_age = timedelta(days=current_app.config["TRACKING_MAX_AGE_DAYS"])
    if (now or datetime.now(UTC)) - signed_at > max_age:
        raise ExpiredToken(send)
    return send


def contact_token(contact: Contact) -> str:
    """An unsubscribe token for a contact, for e-mails that have no send row (tracks)."""
    return _plain(CONTACT_UNSUBSCRIBE).dumps(contact.id)


def load_contact_token(token: str) -> Contact:
    try:
        contact_id = _plain(CONTACT_UNSUBSCRIBE).loads(token)
    except BadSignature as error:
        raise BadToken("bad signature") from error
    contact = db.session.get(Contact, contact_id) if isinstance(contact_id, int) else None
    if contact is None:
        raise BadToken("no such contact")
    return contact


def form_token(campaign: Campaign) -> str:
    """The public form's address part: signed, so campaigns cannot be enumerated or
    submissions pinned on any campaign."""
    return _plain(CAMPAIGN_FORM).dumps(campaign.id)


def load_form_token(token: str) -> Campaign:
    try:
        campaign_id = _plain(CAMPAIGN_FORM).loads(token)
    except BadSignature as error:
        raise BadToken("bad signature") from error
    campaign = db.session.get(Campaign, campaign_id) if isinstance(campaign_id, int) else None
    if campaign is None:
        raise BadToken("no such campaign")
    return campaign


# ------------------------------------------------------------------------ URLs to us


def contact_unsubscribe_url(contact: Contact, base: str | None = None) -> str:
    """The contact's own unsubscribe link, at ``base`` or wherever crmlite.links says
    (PublicUrlMissing outside a request without PUBLIC_URL)."""
    return links.absolute_url("public.unsubscribe", base=base, token=contact_token(contact))


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 2369 and RFC 8058: mail programs offer their own one-click unsubscribe."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def contact_email(
    *,
    key: str,
    kind: OutboxKind,
    contact: Contact,
    subject: str,
    body: str,
    base: str | None = None,
    step_run_id: int | None = None,
    not_before: datetime | None = None,
) -> Outgoing:
    """A plain text e-mail to a contact (e.g. a track's step), ready for the outbox. It
    always carries the contact's own unsubscribe link, at ``base`` or the address
    crmlite.links gives (never queued without it)."""
    url = contact_unsubscribe_url(contact, base)
    return Outgoing(
        key=key,
        kind=kind,
        to_address=contact.email,
        to_name=f"{contact.first_name} {contact.last_name}".strip(),
        subject=subject,
        body_text=f"{body.rstrip()}\n\n--\nNo more e-mails from us: {url}\n",
        headers=unsubscribe_headers(url),
        contact_id=contact.id,
        step_run_id=step_run_id,
        not_before=not_before,
    )


# ------------------------------------------------------------------------------- links

URL_RE = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""


def is_trackable(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def text_urls(text: str) -> list[str]:
    return [m.group(0).rstrip(TRAILING) for m in URL_RE.finditer(text)]


def extract_links(html: str, text: str = "") -> list[str]:
    """The web links written in an e-mail, in order, each once: the hrefs of its HTML and
    the URLs of its text. Only these may ever be redirected to."""
    found: list[str] = []
    if html:
        for anchor in BeautifulSoup(html, "html.parser").find_all("a", href=True):
            href = str(anchor["href"]).strip()
            if is_trackable(href):
                found.append(href)
    found.extend(text_urls(text))
    return list(dict.fromkeys(found))


def rewrite_html(
    html: str, tracked: Callable[[str], str | None], *, pixel: str = "", footer: str = ""
) -> str:
    """The HTML with every known link replaced by its tracked URL (``tracked`` returns None
    for a link it does not know, which then stays as written), the open pixel and a footer
    (HTML, already safe) at the end of the body."""
    soup = BeautifulSoup(html, "html.parser")
    for anchor in soup.find_all("a", href=True):
        target = tracked(str(anchor["href"]).strip())
        if target:
            anchor["href"] = target
    container = soup.body or soup
    if footer:
        container.append(BeautifulSoup(footer, "html.parser"))
    if pixel:
        img = soup.new_tag("img", src=pixel, width="1", height="1", alt="")
        container.append(img)
    return str(soup)


def rewrite_text(text: str, tracked: Callable[[str], str | None]) -> str:
    def replace(match: re.Match[str]) -> str:
        raw = match.group(0)
        url = raw.rstrip(TRAILING)
        return (tracked(url) or url) + raw[len(url) :]

    return URL_RE.sub(replace, text)


def click_target(send: EmailSend, position: int) -> CampaignEmailLink | None:
    """The stored link n of the send's e-mail, or None: nothing else is ever a target."""
    return db.session.scalars(
        select(CampaignEmailLink).where(
            CampaignEmailLink.email_id == send.email_id, CampaignEmailLink.position == position
        )
    ).first()


# --------------------------------------------------------------------------- recording


def record_open(send: EmailSend, *, now: datetime | None = None) -> None:
    """Every open is an event; the first one stamps the send."""
    now = now or datetime.now(UTC)
    if send.opened_at is None:
        send.opened_at = now
    db.session.add(EmailEvent(send_id=send.id, kind=EmailEventKind.OPEN.value, occurred_at=now))
    db.session.flush()


def record_click(send: EmailSend, link: CampaignEmailLink, *, now: datetime | None = None) -> None:
    """Every click is an event; the first stamps the send. A click also proves the e-mail
    was opened (its images may have been blocked), so it stamps the open when missing."""
    now = now or datetime.now(UTC)
    if send.clicked_at is None:
        send.clicked_at = now
    if send.opened_at is None:
        send.opened_at = now
    db.session.add(
        EmailEvent(
            send_id=send.id, kind=EmailEventKind.CLICK.value, link_id=link.id, occurred_at=now
        )
    )
    db.session.flush()


def unsubscribe(
    contact: Contact, *, send: EmailSend | None = None, now: datetime | None = None
) -> bool:
    """Stamp the contact as unsubscribed (honoured by every sender from now on); True when
    this changed anything. The send it came from, if any, records the event once."""
    if contact.unsubscribed_at is not None:
        return False
    now = now or datetime.now(UTC)
    contact.unsubscribed_at = now
    if send is not None:
        db.session.add(
            EmailEvent(send_id=send.id, kind=EmailEventKind.UNSUBSCRIBE.value, occurred_at=now)
        )
    db.session.flush()
    return True


def masked_address(address: str) -> str:
    """ "sh***@example.com": enough for people to recognise their address on a public page."""
    local, _, domain = address.partition("@")
    if not domain:
        return ""
    return f"{local[:2]}***@{domain}"


# ----------------------------------------------------------------------------- figures


def _rate(part: int, whole: int) -> Decimal | None:
    """A rate as the e-mail figures show it: to 0.1 %, half up; None without a whole."""
    return percent(part, whole, places=1)


@dataclass
class EmailFigures:
    """What a campaign's e-mails and form did: unique contacts and totals."""

    emails: int = 0
    sent: int = 0
    failed: int = 0
    queued: int = 0
    skipped_unsubscribed: int = 0
    skipped_no_address: int = 0
    skipped_bounced: int = 0
    opened: int = 0
    opens: int = 0
    clicked: int = 0
    clicks: int = 0
    submitted: int = 0
    submissions: int = 0
    unsubscribed: int = 0
    unsubscribes: int = 0

    @property
    def skipped(self) -> int:
        return self.skipped_unsubscribed + self.skipped_no_address + self.skipped_bounced

    @property
    def open_rate(self) -> Decimal | None:
        return _rate(self.opened, self.sent)

    @property
    def click_rate(self) -> Decimal | None:
        return _rate(self.clicked, self.sent)

    @property
    def submit_rate(self) -> Decimal | None:
        return _rate(self.submitted, self.sent)

    @property
    def unsubscribe_rate(self) -> Decimal | None:
        return _rate(self.unsubscribed, self.sent)


def email_figures(campaign_id: int) -> EmailFigures:
    """Sent, opened, clicked, submitted and unsubscribed for a campaign, in three queries:
    unique contacts (a stamped send, a distinct contact) and totals (every event, every
    submission). Rates are over the e-mails sent."""

    def count_status(status: SendStatus) -> Any:
        return func.count(case((EmailSend.status == status.value, 1)))

    sent = EmailSend.status == SendStatus.SENT.value
    sends = db.session.execute(
        select(
            func.count(distinct(CampaignEmail.id)),
            count_status(SendStatus.SENT),
            count_status(SendStatus.FAILED),
            count_status(SendStatus.QUEUED),
            count_status(SendStatus.SKIPPED_UNSUBSCRIBED),
            count_status(SendStatus.SKIPPED_NO_ADDRESS),
            count_status(SendStatus.SKIPPED_BOUNCED),
            func.count(case((sent & EmailSend.opened_at.is_not(None), 1))),
            func.count(case((sent & EmailSend.clicked_at.is_not(None), 1))),
        )
        .select_from(CampaignEmail)
        .outerjoin(EmailSend, EmailSend.email_id == CampaignEmail.id)
        .where(CampaignEmail.campaign_id == campaign_id)
    ).one()
    figures = EmailFigures(
        **dict(
            zip(
                (
                    "emails",
                    "sent",
                    "failed",
                    "queued",
                    "skipped_unsubscribed",
                    "skipped_no_address",
                    "skipped_bounced",
                    "opened",
                    "clicked",
                ),
                (int(n or 0) for n in sends),
                strict=True,
            )
        )
    )
    events = db.session.execute(
        select(
            EmailEvent.kind, func.count(EmailEvent.id), func.count(distinct(EmailSend.contact_id))
        )
        .join(EmailSend, EmailSend.id == EmailEvent.send_id)
        .join(CampaignEmail, CampaignEmail.id == EmailSend.email_id)
        .where(CampaignEmail.campaign_id == campaign_id)
        .group_by(EmailEvent.kind)
    )
    for kind, total, contacts in events:
        if kind == EmailEventKind.OPEN:
            figures.opens = total
        elif kind == EmailEventKind.CLICK:
            figures.clicks = total
        elif kind == EmailEventKind.UNSUBSCRIBE:
            figures.unsubscribes = total
            figures.unsubscribed = contacts
    figures.submissions, figures.submitted = db.session.execute(
        select(
            func.count(FormSubmission.id), func.count(distinct(FormSubmission.contact_id))
        ).where(FormSubmission.campaign_id == campaign_id)
    ).one()
    return figures


# ---------------------------------------------------------------------------- web form


@dataclass(frozen=True)
class WebLead:
    """What a visitor typed into the public form (already checked by the form)."""

    name: str
    email: str
    company: str = ""
    phone: str = ""
    message: str = ""


class FormUnavailable(Exception):
    """The campaign cannot take submissions (no one to follow them up)."""


class FormClosedBecause(StrEnum):
    FINISHED = "finished"  # the campaign is Completed or Cancelled
    ENDED = "ended"  # its end date has passed, in the team's time zone
    BY_HAND = "by hand"  # a manager switched it off on the campaign's page


class FormClosed(Exception):
    """The campaign's form takes no more submissions."""

    def __init__(self, because: FormClosedBecause) -> None:
        super().__init__(f"the web form is closed ({because})")
        self.because = because


FINISHED = {CampaignStatus.COMPLETED.value, CampaignStatus.CANCELLED.value}


def form_closed_reason(campaign: Campaign, today: date) -> FormClosedBecause | None:
    """Why the campaign's public form takes no submissions, or None while it does.

    It closes once the campaign is Completed or Cancelled, after its last day (``today`` is
    the team's, so the form stays open all of its end date where the team is), or when a
    manager switched it off; the first of these that holds is the reason given."""
    if campaign.status in FINISHED:
        return FormClosedBecause.FINISHED
    if campaign.ends_on is not None and campaign.ends_on < today:
        return FormClosedBecause.ENDED
    if not campaign.form_open:
        return FormClosedBecause.BY_HAND
    return None


def switch_form(campaign: Campaign, *, is_open: bool) -> None:
    """Switch the campaign's form on or off by hand (a finished or ended campaign's form
    stays closed either way)."""
    campaign.form_open = is_open
    db.session.flush()


def follow_up_member(campaign: Campaign) -> Member | None:
    """Who calls web leads back: the campaign's owner, else the first active admin."""
    if campaign.owner_id:
        owner = db.session.get(Member, campaign.owner_id)
        if owner is not None and owner.active:
            return owner
    return db.session.scalars(
        select(Member)
        .where(Member.active, Member.role.in_([Role.ADMIN.value, Role.MANAGER.value]))
        .order_by(Member.role == Role.MANAGER.value, Member.id)
        .limit(1)
    ).first()


def follow_up_day(today: date) -> date:
    """Today on a working day; the next Monday on a weekend."""
    return first_business_day_from(today)


def _follow_up_type_id() -> int:
    type_id = db.session.scalar(
        select(ActivityType.id).where(
            or_(ActivityType.code == FOLLOW_UP_CODE, ActivityType.name == "Lead Follow Up Call")
        )
    )
    if type_id is None:
        raise FormUnavailable("the Lead Follow Up Call activity type is missing")
    return type_id


def web_form_opportunity_name(company: Company | None, person: str) -> str:
    """ "<Company> - Web form", or "<Person> - Web form" when no company was given."""
    suffix = f" - {WEB_FORM_SOURCE}"
    return (company.name if company else person)[: 200 - len(suffix)] + suffix


def submit_web_form(
    campaign: Campaign, lead: WebLead, *, tz: ZoneInfo, now: datetime | None = None
) -> FormSubmission:
    """A website visitor becomes a Prospect on the board with a follow-up call scheduled.

    The contact is matched by e-mail (else created, not duplicated); the company by name
    (else created); when no company is given the contact's own is used. Blank phone or
    company of an existing contact are filled in, nothing else of theirs is changed. The
    opportunity "<Company> - Web form" starts in Prospect on the campaign, owned by the
    campaign's owner, who gets a Lead Follow Up Call today (next Monday on a weekend).
    Refused with FormClosed once the form is closed (``form_closed_reason``). Publishes
    ``ContactCreated`` for a new contact and ``WebFormSubmitted`` at the end.
    Never commits: the caller commits once, so an error leaves nothing behind."""
    now = now or datetime.now(UTC)
    if (because := form_closed_reason(campaign, now.astimezone(tz).date())) is not None:
        raise FormClosed(because)
    owner = follow_up_member(campaign)
    if owner is None:
        raise FormUnavailable("nobody to follow up")
    type_id = _follow_up_type_id()
    address = lead.email.strip().lower()
    contact = db.session.scalars(
        select(Contact).where(func.lower(Contact.email) == address).order_by(Contact.id).limit(1)
    ).first()
    company: Company | None = None
    if lead.company.strip():
        company = find_or_create_company(lead.company)
    elif contact is not None and contact.company_id:
        company = db.session.get(Company, contact.company_id)
    if contact is None:
        first, _, last = " ".join(lead.name.split()).partition(" ")
        contact = Contact(
            first_name=first[:100],
            last_name=last[:100],
            email=address,
            phone=lead.phone.strip(),
            company_id=company.id if company else None,
        )
        db.session.add(contact)
        db.session.flush()
        events.publish(events.ContactCreated(contact, at=now))
    else:
        if not contact.phone and lead.phone.strip():
            contact.phone = lead.phone.strip()
        if contact.company_id is None and company is not None:
            contact.company_id = company.id
    db.session.flush()
    # The contact and company go in with the opportunity: the new-prospect reaction puts
    # that contact on the campaign's track (else General Interest).
    opportunity = create_opportunity(
        name=web_form_opportunity_name(company, lead.name.strip()),
        by=owner,
        account_manager_id=owner.id,
        campaign_id=campaign.id,
        now=now,
        tz=tz,
        company=company,
        contact=contact,
    )
    opportunity.source = WEB_FORM_SOURCE
    opportunity.description = lead.message.strip()
    db.session.flush()
    activity = schedule_activity(
        subject=f"Call back {lead.name.strip()} (web form)"[:200],
        type_id=type_id,
        due_on=follow_up_day(now.astimezone(tz).date()),
        assigned_to_id=owner.id,
        by=owner,
        tz=tz,
        opportunity=opportunity,
        place="Phone",
    )
    activity.phone = contact.phone
    submission = FormSubmission(
        campaign_id=campaign.id,
        contact_id=contact.id,
        company_id=company.id if company else None,
        opportunity_id=opportunity.id,
        activity_id=activity.id,
        name=lead.name.strip(),
        company_name=lead.company.strip(),
        email=address,
        phone=lead.phone.strip(),
        message=lead.message.strip(),
        submitted_at=now,
    )
    db.session.add(submission)
    db.session.flush()
    events.publish(events.WebFormSubmitted(submission, at=now))
    return submission
