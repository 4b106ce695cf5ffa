"""Webhooks: tell another program what happened, signed, through a queue the worker empties.

An admin subscribes a URL to some of the events below (Setup → Webhooks). When one happens,
a delivery is queued for each active subscription that names it, **in the transaction of the
change** (``services/reactions.py`` subscribes the handlers here to ``services/events.py``):
the delivery exists exactly when the change does, and nothing leaves the server inside a
web request. Its key is unique per (event, subscription), so an event reported twice is
delivered once.

Events: ``opportunity.created``, ``opportunity.stage_changed`` (every move, Won and Lost
included), ``opportunity.won`` (the hand-off: company, contact, owner, team, forecast lines
and amounts, what an agreement or project set-up needs), ``opportunity.lost``,
``activity.completed``, ``contact.created``, ``web_form.submitted``, and ``webhook.test``
("Send test event"). The body is ``{"type": …, "timestamp": …, "data": {…}}``; amounts are
strings with two decimals ("6200.00"), exact, never floats.

**Signed** per Standard Webhooks: headers ``webhook-id`` (the delivery's id, the same on
every retry, so a receiver drops what it already has), ``webhook-timestamp`` (seconds, the
time of the attempt) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``), with the subscription's secret ``whsec_<base64>``. The
``standardwebhooks`` package signs (it is the convention's reference library, no
dependencies, ~100 lines); the receiver verifies with the same package or a few lines of
HMAC.

**Delivered like the outbox, in a sibling table.** The outbox's rows are e-mails (address,
subject, bodies, Message-ID, contact order, a run that stops when the mail server is down);
a webhook needs a subscription, a JSON body and a response code, and one receiver being
down must not hold up the others. So deliveries have their own table
(``webhook_deliveries``) with the outbox's queue columns, and reuse its machinery:
``outbox.claim_due`` (lease, ``FOR UPDATE SKIP LOCKED``), ``outbox.mark_retry`` and
``outbox.backoff`` (1, 2, 4 … minutes, at most 4 hours, ``MAX_ATTEMPTS`` tries). A paused
subscription's deliveries wait (not claimed) until it is active again.

**Sent** with the standard library's ``http.client``, not ``httpx``/``requests``: crmlite
must connect to the very address it checked against the SSRF rule
(``services/webhook_targets.py``), after resolving the name at delivery time, while the
request keeps the name in its Host header and TLS checks the certificate against the name.
A small ``connect()`` override does exactly that; no redirect is ever followed, and no new
dependency is needed. A short timeout (``WEBHOOK_TIMEOUT``, 10 s) bounds each attempt.
2xx: delivered. 408, 429, 5xx, timeout, refused connection, a name that does not resolve:
tried again later. Any other answer (4xx, 3xx): failed for good, shown in the log. A target
the SSRF rule refuses at delivery time: failed, with the reason. Every attempt is logged
(time, event, response code, attempt, error) on the webhook's page.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError
from standardwebhooks import Webhook

from crmlite import links
from crmlite.database import dialect_insert, utcnow
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityType,
    Campaign,
    Company,
    Contact,
    ForecastLine,
    Member,
    Opportunity,
    OpportunityContact,
    OpportunityStatus,
    OpportunityTeamMember,
    OpportunityType,
    OutboxStatus,
    SalesStage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from crmlite.models.webhooks import ERROR_LENGTH
from crmlite.services import events, outbox
from crmlite.services.webhook_targets import (
    Resolver,
    Target,
    TargetRefused,
    check_url,
    parse_url,
    resolve,
)

EVENT_TYPES: dict[str, str] = {
    "opportunity.created": "Opportunity created",
    "opportunity.stage_changed": "Opportunity moved to another stage",
    "opportunity.won": "Opportunity won (the hand-off: company, contact, lines, amounts)",
    "opportunity.lost": "Opportunity lost",
    "activity.completed": "Activity completed",
    "contact.created": "Contact created",
    "web_form.submitted": "Web form submitted",
}
TEST_EVENT = "webhook.test"
BATCH = 50
DEFAULT_TIMEOUT = 10.0
USER_AGENT = "crmlite-webhooks/1"
RETRY_CODES = {408, 429}


class WebhookRefused(ValueError):
    """A subscription cannot be saved as given (``field``: the form field to mark)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------- subscriptions


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes it: ``whsec_`` and 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


@dataclass(frozen=True)
class SubscriptionValues:
    url: str
    events: tuple[str, ...]
    description: str = ""
    active: bool = True
    allow_private: bool = False


def _target_line(url: str, allow_private: bool) -> str:
    return f"{url}, {'private targets allowed' if allow_private else 'public only'}"


def save_subscription(
    subscription: WebhookSubscription | None,
    values: SubscriptionValues,
    *,
    by: Member,
    resolver: Resolver | None = None,
    now: datetime | None = None,
) -> WebhookSubscription:
    """Add (``subscription`` None) or change a webhook. The URL must pass the SSRF rule now
    (``webhook_targets.check_url``; private targets only when allowed on it), and at least
    one known event must be chosen. A new webhook gets its signing secret. Adding one, or
    changing where it points or whether it may point inside the network, is published
    (``WebhookChanged``: the audit log records it)."""
    try:
        target = check_url(values.url, allow_private=values.allow_private, resolver=resolver)
    except TargetRefused as refused:
        raise WebhookRefused(str(refused), "url") from refused
    chosen = [name for name in EVENT_TYPES if name in values.events]
    if not chosen or len(chosen) != len(set(values.events)):
        raise WebhookRefused("Choose at least one of the events listed.", "events")
    now = now or utcnow()
    before = ""
    if subscription is None:
        subscription = WebhookSubscription(secret=new_secret(), created_by_id=by.id)
        db.session.add(subscription)
        action = "added"
    else:
        before = _target_line(subscription.url, subscription.allow_private)
        action = "changed"
    subscription.url = target.url
    subscription.events = " ".join(chosen)
    subscription.description = values.description.strip()[:200]
    subscription.active = values.active
    subscription.allow_private = values.allow_private
    db.session.flush()
    after = _target_line(subscription.url, subscription.allow_private)
    if before != after:
        events.publish(
            events.WebhookChanged(
                action=action,
                url=subscription.url,
                allow_private=subscription.allow_private,
                before=before,
                after=after,
                by=by,
                at=now,
            )
        )
    return subscription


def delete_subscription(subscription: WebhookSubscription, *, by: Member) -> None:
    """Gone for good, with its queue and log; published (``Deleted``) for the audit log."""
    url = subscription.url
    db.session.delete(subscription)
    db.session.flush()
    events.publish(events.Deleted("webhook", url, by=by, at=utcnow()))


def subscriptions() -> list[WebhookSubscription]:
    return list(db.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


# ---------------------------------------------------------------- queuing


def _message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def body(event_type: str, at: datetime, data: dict[str, Any]) -> str:
    """The JSON body, exactly as signed and sent."""
    envelope = {"type": event_type, "timestamp": _time(at), "data": data}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def _listening(event_type: str) -> list[WebhookSubscription]:
    """Active subscriptions naming this event: one query (a team has a handful)."""
    active = db.session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.active)
        .where(WebhookSubscription.events.contains(event_type))
        .order_by(WebhookSubscription.id)
    )
    return [s for s in active if event_type in s.event_names]


def _insert(
    rows: list[tuple[WebhookSubscription, str]], event_type: str, payload: str, now: datetime
) -> int:
    if not rows:
        return 0
    values = [
        {
            "key": key[:160],
            "subscription_id": subscription.id,
            "event_type": event_type,
            "message_id": _message_id(),
            "payload": payload,
            "status": OutboxStatus.QUEUED.value,
            "attempts": 0,
            "not_before": now,
            "last_error": "",
            "created_at": now,
        }
        for subscription, key in rows
    ]
    insert = dialect_insert(WebhookDelivery, db.engine.dialect.name)
    statement = insert.values(values).on_conflict_do_nothing().returning(WebhookDelivery.id)
    return len(db.session.scalars(statement).all())


def queue(
    event_type: str,
    key: str,
    data: Callable[[], dict[str, Any]],
    *,
    at: datetime,
    now: datetime | None = None,
) -> int:
    """Queue the event for every active subscription naming it (``data`` is built only when
    one does). ``key`` names the event; with the subscription it makes the delivery's
    unique key, so the same event queued again adds nothing. How many were queued."""
    listening = _listening(event_type)
    if not listening:
        return 0
    payload = body(event_type, at, data())
    rows = [(s, f"{key}:{s.id}") for s in listening]
    return _insert(rows, event_type, payload, now or utcnow())


def send_test(subscription: WebhookSubscription, *, by: Member, now: datetime | None = None) -> int:
    """Queue a ``webhook.test`` event for this subscription only (paused or not: it waits
    like any delivery until the subscription is active)."""
    now = now or utcnow()
    data = {
        "message": "A test event from crmlite: this webhook works.",
        "webhook_id": subscription.id,
        "sent_by": _member(by),
    }
    payload = body(TEST_EVENT, now, data)
    key = f"{TEST_EVENT}:{now.timestamp():.6f}:{subscription.id}"
    return _insert([(subscription, key)], TEST_EVENT, payload, now)


# ---------------------------------------------------------------- what a payload says


def _time(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _percent(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _member(member: Member | None) -> dict[str, Any] | None:
    if member is None:
        return None
    return {"id": member.id, "name": member.name, "email": member.email, "title": member.title}


def _company(company: Company | None, *, full: bool = False) -> dict[str, Any] | None:
    if company is None:
        return None
    data: dict[str, Any] = {"id": company.id, "name": company.name}
    if full:
        data |= {
            "phone": company.phone,
            "email": company.email,
            "website": company.website,
            "industry": company.industry,
            "address": {
                "street": company.street,
                "city": company.city,
                "region": company.region,
                "postal_code": company.postal_code,
                "country": company.country,
            },
        }
    return data


def _contact(contact: Contact | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    return {
        "id": contact.id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "name": contact.name,
        "title": contact.title,
        "email": contact.email,
        "phone": contact.phone,
        "mobile": contact.mobile,
        "company_id": contact.company_id,
    }


def _get(model: Any, ident: int | None) -> Any:
    return db.session.get(model, ident) if ident is not None else None


def _url(endpoint: str, **values: Any) -> str | None:
    try:
        return links.absolute_url(endpoint, **values)
    except links.PublicUrlMissing:
        return None


@dataclass(frozen=True)
class _Around:
    """What an opportunity's payload names beside it, read in one statement."""

    stage: str | None
    status: str | None
    kind: str | None
    campaign: Campaign | None
    company: Company | None
    contact: Contact | None
    owner: Member | None
    associate: Member | None


def _around(opportunity: Opportunity) -> _Around:
    owner, associate = aliased(Member), aliased(Member)
    row = db.session.execute(
        select(
            SalesStage.name,
            OpportunityStatus.name,
            OpportunityType.name,
            Campaign,
            Company,
            Contact,
            owner,
            associate,
        )
        .select_from(Opportunity)
        .outerjoin(SalesStage, SalesStage.id == Opportunity.stage_id)
        .outerjoin(OpportunityStatus, OpportunityStatus.id == Opportunity.status_id)
        .outerjoin(OpportunityType, OpportunityType.id == Opportunity.type_id)
        .outerjoin(Campaign, Campaign.id == Opportunity.campaign_id)
        .outerjoin(Company, Company.id == Opportunity.company_id)
        .outerjoin(Contact, Contact.id == Opportunity.contact_id)
        .outerjoin(owner, owner.id == Opportunity.account_manager_id)
        .outerjoin(associate, associate.id == Opportunity.sales_associate_id)
        .where(Opportunity.id == opportunity.id)
    ).one()
    return _Around(*row)


def _opportunity(opportunity: Opportunity, around: _Around) -> dict[str, Any]:
    """What every opportunity event says of it."""
    campaign = around.campaign
    return {
        "id": opportunity.id,
        "name": opportunity.name,
        "url": _url("opportunities.detail", opportunity_id=opportunity.id),
        "type": around.kind,
        "stage": around.stage,
        "status": around.status,
        "probability": opportunity.probability,
        "rating": opportunity.rating,
        "source": opportunity.source,
        "revenue": _amount(opportunity.revenue),
        "cost": _amount(opportunity.cost),
        "margin": _amount(opportunity.margin),
        "margin_percent": _percent(opportunity.margin_percent),
        "won_amount": _amount(opportunity.won_amount),
        "lost_amount": _amount(opportunity.lost_amount),
        "expected_close_on": (
            opportunity.expected_close_on.isoformat() if opportunity.expected_close_on else None
        ),
        "closed_at": _time(opportunity.closed_at),
        "campaign": {"id": campaign.id, "name": campaign.name} if campaign else None,
        "company": _company(around.company),
        "contact": _contact(around.contact),
        "owner": _member(around.owner),
    }


def opportunity_data(opportunity: Opportunity) -> dict[str, Any]:
    """An opportunity with its stage, status, type, campaign, company, contact and owner:
    two statements (the flush of the change, then one read)."""
    return {"opportunity": _opportunity(opportunity, _around(opportunity))}


def won_data(opportunity: Opportunity, by: Member) -> dict[str, Any]:
    """The hand-off: everything an agreement or project set-up needs, in a constant number
    of queries (lines, team, extra contacts: one each)."""
    around = _around(opportunity)
    data = _opportunity(opportunity, around)
    data["description"] = opportunity.description
    lines = db.session.execute(
        select(ForecastLine, OpportunityType.name, OpportunityStatus.name)
        .outerjoin(OpportunityType, OpportunityType.id == ForecastLine.product_id)
        .outerjoin(OpportunityStatus, OpportunityStatus.id == ForecastLine.status_id)
        .where(ForecastLine.opportunity_id == opportunity.id)
        .order_by(ForecastLine.position, ForecastLine.id)
    ).all()
    team = db.session.execute(
        select(Member, OpportunityTeamMember.role)
        .join(OpportunityTeamMember, OpportunityTeamMember.member_id == Member.id)
        .where(OpportunityTeamMember.opportunity_id == opportunity.id)
        .order_by(Member.name)
    ).all()
    extra = db.session.execute(
        select(Contact, OpportunityContact.role)
        .join(OpportunityContact, OpportunityContact.contact_id == Contact.id)
        .where(OpportunityContact.opportunity_id == opportunity.id)
        .order_by(Contact.id)
    ).all()
    return {
        "opportunity": data,
        "company": _company(around.company, full=True),
        "contact": _contact(around.contact),
        "owner": _member(around.owner),
        "sales_associate": _member(around.associate),
        "team": [(_member(m) or {}) | {"role": role} for m, role in team],
        "extra_contacts": [(_contact(c) or {}) | {"role": role} for c, role in extra],
        "forecast_lines": [
            {
                "id": line.id,
                "product": product,
                "description": line.description,
                "recurring": line.recurring,
                "months": line.months,
                "revenue": _amount(line.total_revenue),
                "cost": _amount(line.total_cost),
                "margin": _amount(line.margin),
                "margin_percent": _percent(line.margin_percent),
                "status": status,
                "include_in_forecast": line.include_in_forecast,
            }
            for line, product, status in lines
        ],
        "amounts": {
            "won_amount": _amount(opportunity.won_amount),
            "revenue": _amount(opportunity.revenue),
            "cost": _amount(opportunity.cost),
            "margin": _amount(opportunity.margin),
            "margin_percent": _percent(opportunity.margin_percent),
        },
        "won_by": _member(by),
    }


def activity_data(activity: Activity, by: Member) -> dict[str, Any]:
    kind = _get(ActivityType, activity.type_id)
    opportunity = _get(Opportunity, activity.opportunity_id)
    return {
        "activity": {
            "id": activity.id,
            "subject": activity.subject,
            "type": {"code": kind.code, "name": kind.name} if kind else None,
            "points": activity.points_earned,
            "due_on": activity.due_on.isoformat(),
            "closed_at": _time(activity.closed_at),
            "place": activity.place,
            "url": _url("activities.show", activity_id=activity.id),
        },
        "assigned_to": _member(_get(Member, activity.assigned_to_id)),
        "completed_by": _member(by),
        "opportunity": {"id": opportunity.id, "name": opportunity.name} if opportunity else None,
        "company": _company(_get(Company, activity.company_id)),
        "contact": _contact(_get(Contact, activity.contact_id)),
    }


# ---------------------------------------------------------------- reactions to events


def on_new_prospect(event: events.NewProspect) -> None:
    o = event.opportunity
    if o.id is None:  # never stored (nothing to report)
        return
    queue(
        "opportunity.created",
        f"opportunity.created:{o.id}",
        lambda: opportunity_data(o) | {"created_by": _member(event.by)},
        at=event.at,
    )


def on_stage_changed(event: events.StageChanged) -> None:
    o = event.opportunity
    if o.id is None:  # never stored (nothing to report)
        return

    def data() -> dict[str, Any]:
        moved = {"from_stage": event.from_stage, "to_stage": event.to_stage}
        return opportunity_data(o) | moved | {"moved_by": _member(event.by)}

    queue(
        "opportunity.stage_changed",
        f"opportunity.stage_changed:{event.change.id}",
        data,
        at=event.at,
    )


def on_won(event: events.Won) -> None:
    o = event.opportunity
    if o.id is None:  # never stored (nothing to report)
        return
    key = f"opportunity.won:{o.id}:{event.at.timestamp():.6f}"
    queue("opportunity.won", key, lambda: won_data(o, event.by), at=event.at)


def on_lost(event: events.Lost) -> None:
    o = event.opportunity
    if o.id is None:  # never stored (nothing to report)
        return
    key = f"opportunity.lost:{o.id}:{event.at.timestamp():.6f}"

    def data() -> dict[str, Any]:
        lost = {"lost_reason": o.lost_reason, "lost_by": _member(event.by)}
        return opportunity_data(o) | lost

    queue("opportunity.lost", key, data, at=event.at)


def on_activity_done(event: events.ActivityDone) -> None:
    a = event.activity
    if a.id is None:  # never stored (nothing to report)
        return
    key = f"activity.completed:{a.id}:{event.at.timestamp():.6f}"
    queue("activity.completed", key, lambda: activity_data(a, event.by), at=event.at)


def on_contact_created(event: events.ContactCreated) -> None:
    c = event.contact
    if c.id is None:  # never stored (nothing to report)
        return

    def data() -> dict[str, Any]:
        return {"contact": _contact(c), "company": _company(_get(Company, c.company_id))}

    queue("contact.created", f"contact.created:{c.id}", data, at=event.at)


def on_web_form_submitted(event: events.WebFormSubmitted) -> None:
    s = event.submission
    if s.id is None:  # never stored (nothing to report)
        return

    def data() -> dict[str, Any]:
        campaign = _get(Campaign, s.campaign_id)
        return {
            "submission": {
                "id": s.id,
                "name": s.name,
                "email": s.email,
                "company": s.company_name,
                "phone": s.phone,
                "message": s.message,
                "submitted_at": _time(s.submitted_at),
            },
            "campaign": {"id": campaign.id, "name": campaign.name} if campaign else None,
            "contact": _contact(_get(Contact, s.contact_id)),
            "opportunity_id": s.opportunity_id,
        }

    queue("web_form.submitted", f"web_form.submitted:{s.id}", data, at=event.at)


HANDLERS: dict[type[events.Event], Any] = {
    events.NewProspect: on_new_prospect,
    events.StageChanged: on_stage_changed,
    events.Won: on_won,
    events.Lost: on_lost,
    events.ActivityDone: on_activity_done,
    events.ContactCreated: on_contact_created,
    events.WebFormSubmitted: on_web_form_submitted,
}


# ---------------------------------------------------------------- signing and sending


def signed_headers(secret: str, message_id: str, at: datetime, payload: str) -> dict[str, str]:
    """The Standard Webhooks headers for this body, sent at ``at``."""
    stamp = datetime.fromtimestamp(int(at.timestamp()), tz=UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, stamp, payload),
    }


@dataclass(frozen=True)
class Answer:
    """What the receiver answered: its status code and the start of its body."""

    code: int
    text: str = ""


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked address, whatever the name resolves to by then."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to the checked address, the certificate checked against the name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.tls = ssl.create_default_context()

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def post(target: Target, payload: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST the body to the target's checked address; no redirect is followed. Raises
    OSError (timeouts included) when there is no answer."""
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = kind(target.host, target.port, address=target.address, timeout=timeout)
    try:
        connection.request("POST", target.path, body=payload, headers=headers)
        response = connection.getresponse()
        text = response.read(300).decode("utf-8", "replace")
        return Answer(response.status, text)
    except http.client.HTTPException as error:
        raise OSError(f"bad answer: {type(error).__name__}") from error
    finally:
        connection.close()


Poster = Callable[[Target, bytes, dict[str, str], float], Answer]


@dataclass
class Run:
    """What one run of ``deliver`` did."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    outcomes: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.retrying

    def line(self) -> str:
        return f"{self.sent} delivered, {self.failed} failed, {self.retrying} to retry"


def _log(
    row: WebhookDelivery,
    at: datetime,
    outcome: str,
    *,
    code: int | None = None,
    error: str = "",
    started: float,
) -> None:
    db.session.add(
        WebhookAttempt(
            delivery_id=row.id,
            subscription_id=row.subscription_id,
            attempt=row.attempts,
            attempted_at=at,
            response_code=code,
            duration_ms=int((time.perf_counter() - started) * 1000),
            outcome=outcome,
            error=error[:ERROR_LENGTH],
        )
    )


def _attempt(
    row: WebhookDelivery,
    subscription: WebhookSubscription,
    *,
    now: datetime,
    resolver: Resolver | None,
    send: Poster,
    timeout: float,
    run: Run,
) -> None:
    """One delivery attempt, its outcome recorded on the row and in the log (not committed)."""
    started = time.perf_counter()
    row_id, secret, message_id, payload = row.id, subscription.secret, row.message_id, row.payload
    url, allow_private = subscription.url, subscription.allow_private
    db.session.commit()  # no transaction (nor SQLite's write lock) while the receiver talks
    code: int | None = None
    try:
        target = resolve(parse_url(url), allow_private=allow_private, resolver=resolver)
        headers = signed_headers(secret, message_id, now, payload) | {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        answer = send(target, payload.encode("utf-8"), headers, timeout)
    except TargetRefused as refused:
        outcome, error = "failed", f"refused: {refused}"
    except OSError as error_:  # no answer: timeout, refused connection, unknown name
        outcome, error = "retrying", f"{type(error_).__name__}: {error_}".strip(": ")
    else:
        code = answer.code
        if 200 <= code < 300:
            outcome, error = "sent", ""
        elif code in RETRY_CODES or code >= 500:
            outcome, error = "retrying", f"HTTP {code} {answer.text}".strip()
        else:
            outcome, error = "failed", f"HTTP {code} {answer.text}".strip()
    found = db.session.get(WebhookDelivery, row_id)
    if found is None:  # deleted with its webhook while the receiver talked
        return
    row = found
    row.response_code = code
    if outcome == "sent":
        outbox.mark_sent(row, now=now)
        run.sent += 1
    elif outcome == "failed":
        outbox.mark_failed(row, error)
        run.failed += 1
    elif outbox.mark_retry(row, error, now=now):
        run.retrying += 1
    else:
        outcome = "failed"
        run.failed += 1
    _log(row, now, outcome, code=code, error=error, started=started)
    run.outcomes.append(outcome)


def deliver(
    *,
    now: Callable[[], datetime] = utcnow,
    limit: int | None = None,
    resolver: Resolver | None = None,
    send: Poster = post,
    timeout: float = DEFAULT_TIMEOUT,
) -> Run:
    """Deliver what is due, batch by batch, until nothing is due or ``limit`` were tried.
    Each outcome is committed alone; one receiver failing holds up no other."""
    run = Run()
    active = select(WebhookSubscription.id).where(WebhookSubscription.active)
    while limit is None or run.handled < limit:
        size = BATCH if limit is None else min(BATCH, limit - run.handled)
        claimed = outbox.claim_due(
            WebhookDelivery,
            size,
            now=now(),
            also=WebhookDelivery.subscription_id.in_(active),
        )
        if not claimed:
            break
        for row_id in claimed:
            row = db.session.get(WebhookDelivery, row_id)
            if row is None:
                continue
            subscription = db.session.get(WebhookSubscription, row.subscription_id)
            if subscription is None:
                continue
            _attempt(
                row,
                subscription,
                now=now(),
                resolver=resolver,
                send=send,
                timeout=timeout,
                run=run,
            )
            try:
                db.session.commit()
            except (StaleDataError, IntegrityError):
                db.session.rollback()  # the webhook was deleted meanwhile, its queue with it
    return run


# ---------------------------------------------------------------- what pages show


@dataclass(frozen=True)
class LogLine:
    attempt: WebhookAttempt
    event_type: str
    message_id: str


def attempts_of(subscription_id: int, limit: int = 50) -> list[LogLine]:
    """The latest delivery attempts, newest first, with their event: one query."""
    rows = db.session.execute(
        select(WebhookAttempt, WebhookDelivery.event_type, WebhookDelivery.message_id)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookAttempt.subscription_id == subscription_id)
        .order_by(WebhookAttempt.id.desc())
        .limit(limit)
    ).all()
    return [LogLine(attempt, event_type, message_id) for attempt, event_type, message_id in rows]


def waiting_of(subscription_id: int, limit: int = 20) -> list[WebhookDelivery]:
    """Deliveries not yet done (queued, being sent, waiting for a retry), oldest first."""
    return list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.subscription_id == subscription_id,
                WebhookDelivery.status.in_(outbox.WAITING),
            )
            .order_by(WebhookDelivery.id)
            .limit(limit)
        )
    )


def status_counts(ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Deliveries by subscription and status: one query."""
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    for subscription_id, status, number in db.session.execute(
        select(
            WebhookDelivery.subscription_id, WebhookDelivery.status, func.count(WebhookDelivery.id)
        ).group_by(WebhookDelivery.subscription_id, WebhookDelivery.status)
    ):
        counts.setdefault(subscription_id, {})[status] = number
    return counts
