"""What happened, and who reacts: small typed events and a synchronous publish/subscribe.

A service that changes something others may care about publishes an event once the change
is made; it does not call those others. Whoever reacts (tracks today; webhooks and the
audit log later) subscribes a handler to the event's type, once, at app start
(``services/reactions.py``, called by ``create_app``). So the services that change things
never import the ones that react, and a new reaction needs no change to them.

``publish(event)`` calls the handlers subscribed to exactly that event's type, in the order
they subscribed, synchronously and in the caller's transaction: a handler changes models
and flushes, never commits, and an error in it propagates, so the change that published
the event fails with it and nothing is half done.

This module sits at the bottom of the services: it reads the models and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from crmlite.models import Activity, Contact, FormSubmission, Member, Opportunity, StageChange

# ---------------------------------------------------------------- what happened


class Event:
    """Something that happened; each subclass says what, with what its handlers need."""


@dataclass(frozen=True)
class NewProspect(Event):
    """An opportunity entered the funnel in its first stage (Prospect)."""

    opportunity: Opportunity
    by: Member
    at: datetime
    today: date  # the team's day at that moment


@dataclass(frozen=True)
class Won(Event):
    """An opportunity moved to Won."""

    opportunity: Opportunity
    by: Member
    at: datetime
    today: date


@dataclass(frozen=True)
class Lost(Event):
    """An opportunity moved to Lost (its reason is recorded on it)."""

    opportunity: Opportunity
    by: Member
    at: datetime
    today: date


@dataclass(frozen=True)
class ActivityDone(Event):
    """An open activity was closed ("Done") and earned its points."""

    activity: Activity
    by: Member
    at: datetime


@dataclass(frozen=True)
class StageChanged(Event):
    """An opportunity moved from one stage to another (Won and Lost included: those publish
    ``Won`` or ``Lost`` as well). ``change`` is the history row the move recorded."""

    opportunity: Opportunity
    change: StageChange
    from_stage: str
    to_stage: str
    by: Member
    at: datetime


@dataclass(frozen=True)
class ContactCreated(Event):
    """A new contact entered the address book (by hand, with a new opportunity, or from the
    public web form)."""

    contact: Contact
    at: datetime


@dataclass(frozen=True)
class WebFormSubmitted(Event):
    """A visitor sent a campaign's public web form (its contact and opportunity exist)."""

    submission: FormSubmission
    at: datetime


@dataclass(frozen=True)
class EmailFromContact(Event):
    """A captured e-mail was sent by a known contact (they wrote to us) at ``at``."""

    contact_id: int
    at: datetime


# ---------------------------------------------------------------- access and records
# Published for the audit log (issue #14): who signed in, what changed rights, points, quotas
# or closed deals, and what was deleted. ``by`` is who did it (None: nobody signed in, e.g.
# a failed sign-in or a reset link).


@dataclass(frozen=True)
class SignedIn(Event):
    member: Member
    address: str  # the client's address, as the proxy reports it
    at: datetime


@dataclass(frozen=True)
class SignInFailed(Event):
    email: str  # as typed (it may belong to nobody)
    address: str
    reason: str  # e.g. "wrong password", "inactive", "throttled"
    at: datetime


@dataclass(frozen=True)
class SignedOutEverywhere(Event):
    member: Member
    by: Member
    at: datetime


@dataclass(frozen=True)
class PasswordChanged(Event):
    member: Member
    by: Member | None  # None: through a one-time reset link
    at: datetime


@dataclass(frozen=True)
class PasswordResetIssued(Event):
    member: Member
    by: Member
    at: datetime


@dataclass(frozen=True)
class RoleChanged(Event):
    """A member's role or active flag changed."""

    member: Member
    before: str  # e.g. "rep", "manager", "admin", "inactive"
    after: str
    by: Member
    at: datetime


@dataclass(frozen=True)
class PointValueChanged(Event):
    """An activity type's points, monthly count or active flag changed."""

    type_label: str
    before: str
    after: str
    by: Member
    at: datetime


@dataclass(frozen=True)
class NextStepTypeChanged(Event):
    """The kind of activity a stage's next-step question offers first changed (Setup)."""

    stage_name: str
    before: str  # the type's label, "" for none
    after: str
    by: Member
    at: datetime


@dataclass(frozen=True)
class QuotaChanged(Event):
    """A points quota (team or member) or a revenue/margin quota changed."""

    what: str  # e.g. "Points quota of Cory Ferguson", "Revenue quota of Cory Ferguson, 2026-11"
    before: str
    after: str
    by: Member
    at: datetime


@dataclass(frozen=True)
class ActivityReopened(Event):
    """A closed activity was opened again (its points leave the month it closed in)."""

    activity: Activity
    closed_at: datetime
    by: Member
    at: datetime
    points: int | None = None  # what it had earned, which it no longer has


@dataclass(frozen=True)
class ClosedDealMoved(Event):
    """A won or lost opportunity moved to another stage (reopened or switched)."""

    opportunity: Opportunity
    from_stage: str
    to_stage: str
    by: Member
    at: datetime


@dataclass(frozen=True)
class ChecklistOverridden(Event):
    """An opportunity was marked Won while items of its Commitment checklist were still open:
    the person confirmed it (the audit log records who, and which items)."""

    opportunity: Opportunity
    open_items: tuple[str, ...]
    by: Member
    at: datetime


@dataclass(frozen=True)
class Deleted(Event):
    """Something was deleted for good."""

    kind: str  # e.g. "activity type", "campaign e-mail", "contact group"
    name: str
    by: Member
    at: datetime


@dataclass(frozen=True)
class WebhookChanged(Event):
    """A webhook was added or changed: where it points, whether it may point inside the
    network (the audit log records it)."""

    action: str  # "added", "changed"
    url: str
    allow_private: bool
    before: str  # e.g. "https://a.example/hook, public only" ("" when added)
    after: str
    by: Member
    at: datetime


E = TypeVar("E", bound=Event)

# ---------------------------------------------------------------- who reacts

_handlers: dict[type[Event], list[Callable[[Any], None]]] = {}


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Call ``handler`` for every event of this type from now on. Subscribing the same
    handler again changes nothing (an app created twice in one process reacts once)."""
    handlers = _handlers.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Stop calling ``handler`` for this type (tests use it to tidy up)."""
    handlers = _handlers.get(event_type, [])
    if handler in handlers:
        handlers.remove(handler)


def publish(event: Event) -> None:
    """Call the handlers subscribed to this event's type, in order, now. Exactly its type:
    a handler of one kind of event never receives another."""
    for handler in list(_handlers.get(type(event), ())):
        handler(event)
