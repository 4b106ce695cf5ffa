"""Who reacts to what happened: the one place that subscribes reactions to events.

The services below report what happened (``services/events.py``); the reactions live here,
at the top of the services, so no service that changes things imports one that reacts:

- a new Prospect's contact joins General Interest, or the track its campaign names;
- a lost sale's contact goes on the Lost Sale track;
- a won sale ends the contact's Lost Sale enrollments;
- a contact who writes to us (a captured e-mail from them) gets no more track e-mails;
- the audit log records sign-ins, rights, points, quotas, reopened activities, moved won or
  lost deals and deletions (``services/audit.py``, one handler per event).

- webhooks queue a delivery for each subscription naming the event (``services/webhooks.py``:
  opportunity created, moved, won, lost; activity completed; contact created; web form
  submitted).

``register()`` runs once at
app start (``create_app``); the handlers call the tracks service when the event arrives,
so they always use its current rules.
"""

from __future__ import annotations

from crmlite.services import audit, events, tracks, webhooks


def enroll_new_prospect(event: events.NewProspect) -> None:
    tracks.on_new_prospect(event.opportunity, event.today, event.by)


def enroll_lost_sale(event: events.Lost) -> None:
    tracks.on_lost(event.opportunity, event.today, event.by)


def end_lost_sale(event: events.Won) -> None:
    tracks.on_won(event.opportunity, event.at)


def stop_emails_on_reply(event: events.EmailFromContact) -> None:
    tracks.on_reply(event.contact_id, event.at)


def register() -> None:
    """Subscribe every reaction (again: no change)."""
    events.subscribe(events.NewProspect, enroll_new_prospect)
    events.subscribe(events.Lost, enroll_lost_sale)
    events.subscribe(events.Won, end_lost_sale)
    events.subscribe(events.EmailFromContact, stop_emails_on_reply)
    for event_type, record in audit.HANDLERS.items():
        events.subscribe(event_type, record)
    for event_type, deliver in webhooks.HANDLERS.items():
        events.subscribe(event_type, deliver)
