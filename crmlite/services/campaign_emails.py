"""Campaign e-mails: writing one (subject, text and HTML bodies in which the contact's name
is filled in), its preview and its figures per link. Sending it is campaign_sending's.

Bodies are Jinja templates rendered in a sandbox (a template cannot reach into the app),
the HTML one autoescaped, so a contact named ``<b>Al</b>`` shows as written. Placeholders:
``first_name``, ``last_name``, ``name``, ``company``, ``email``; an unknown one is refused
when the e-mail is saved. The links written in the e-mail are stored when it is saved: they
are the only places its tracked links lead, so an e-mail that has been sent cannot change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape
from sqlalchemy import (
    and_,
    delete,
    distinct,
    exists,
    func,
    select,
)
from sqlalchemy.orm import joinedload

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import (
    CampaignEmail,
    CampaignEmailLink,
    EmailEvent,
    EmailEventKind,
    EmailSend,
    Member,
)
from crmlite.services import events, tracking

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


@dataclass(frozen=True)
class LinkClicks:
    position: int
    url: str
    clicks: int
    people: int


def clicks_per_link(email_id: int) -> list[LinkClicks]:
    """Each link written in the e-mail with its clicks and the contacts who clicked it, in
    the e-mail's order (links nobody clicked show 0): one query."""
    rows = db.session.execute(
        select(
            CampaignEmailLink.position,
            CampaignEmailLink.url,
            func.count(EmailEvent.id),
            func.count(distinct(EmailEvent.send_id)),
        )
        .outerjoin(
            EmailEvent,
            and_(
                EmailEvent.link_id == CampaignEmailLink.id,
                EmailEvent.kind == EmailEventKind.CLICK.value,
            ),
        )
        .where(CampaignEmailLink.email_id == email_id)
        .group_by(CampaignEmailLink.id, CampaignEmailLink.position, CampaignEmailLink.url)
        .order_by(CampaignEmailLink.position)
    )
    return [LinkClicks(p, u, c, n) for p, u, c, n in rows]
