"""Tracks: enrolling contacts, the stop rules, and what pages show of an enrollment.

- A step is due on the enrollment's start day + its day offset + the days the enrollment
  spent paused, on a business day: a Saturday or Sunday moves to the Monday after.
- One nurture track at a time: joining a track that does not run alongside others ends the
  contact's other such enrollments (joining Lost Sale ends General Interest). Tracks that
  run alongside (Value-Add, Event Specific by default) neither end others nor are ended.
- A reply stops the e-mails: once the contact writes to us (a captured e-mail from them),
  the e-mail steps of the tracks they are on are skipped; their activities still come.

The runner that executes due steps is ``services/track_runner.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import (
    Campaign,
    Contact,
    EnrollmentStatus,
    Member,
    Opportunity,
    StepAction,
    Track,
    TrackEnrollment,
    TrackKind,
    TrackStep,
    TrackStepRun,
)
from crmlite.services.business_days import first_business_day_from

RUNNING = (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.PAUSED.value)
# A reply's time comes from its Date header: whole seconds, from the sender's clock.
REPLY_CLOCK_SLACK = timedelta(minutes=5)


class TrackRefused(ValueError):
    """A change the rules refuse; the message is for the person who asked."""


def enroll(
    contact_id: int,
    track_id: int,
    *,
    starts_on: date,
    by: Member | None = None,
    opportunity_id: int | None = None,
) -> TrackEnrollment:
    """Put a contact on a track from a day on. The same contact is never on the same track
    twice at once (the database refuses it too)."""
    added, refused = enroll_many(
        [contact_id], track_id, starts_on=starts_on, by=by, opportunity_id=opportunity_id
    )
    if refused:
        raise TrackRefused(refused[0])
    return added[0]


def enroll_many(
    contact_ids: list[int],
    track_id: int,
    *,
    starts_on: date,
    by: Member | None = None,
    opportunity_id: int | None = None,
) -> tuple[list[TrackEnrollment], list[str]]:
    """Put contacts (e.g. a company's) on a track from a day on, by the rules of ``enroll``:
    the enrollments added, and why each contact left off was refused, in the order given.
    A track that does not run alongside others ends the contacts' other such enrollments
    (one nurture track at a time). Four queries whatever their number."""
    track = db.session.get(Track, track_id)
    if track is None or not track.active:
        return [], ["That track does not exist or is not active."] * len(contact_ids)
    existing = set(db.session.scalars(select(Contact.id).where(Contact.id.in_(contact_ids))))
    running = set(
        db.session.scalars(
            select(TrackEnrollment.contact_id).where(
                TrackEnrollment.track_id == track_id,
                TrackEnrollment.contact_id.in_(contact_ids),
                TrackEnrollment.status.in_(RUNNING),
            )
        )
    )
    added: list[TrackEnrollment] = []
    refused: list[str] = []
    for contact_id in contact_ids:
        if contact_id not in existing:
            refused.append("That contact does not exist.")
        elif contact_id in running:
            refused.append(f"The contact is on {track.name} already.")
        else:
            running.add(contact_id)  # the same contact twice in the list joins once
            added.append(
                TrackEnrollment(
                    track_id=track_id,
                    contact_id=contact_id,
                    opportunity_id=opportunity_id,
                    starts_on=starts_on,
                    enrolled_by_id=by.id if by else None,
                )
            )
    if added and not track.runs_alongside:
        end_other_nurture_tracks([e.contact_id for e in added], track_id)
    db.session.add_all(added)
    db.session.flush()
    return added, refused


def end_other_nurture_tracks(
    contact_ids: list[int], track_id: int, now: datetime | None = None
) -> list[TrackEnrollment]:
    """The contacts join ``track_id``, a nurture track: their running enrollments on other
    tracks that do not run alongside end ("ended", not "completed": they did not finish)."""
    alongside = select(Track.id).where(Track.runs_alongside)
    ended = list(
        db.session.scalars(
            select(TrackEnrollment).where(
                TrackEnrollment.contact_id.in_(contact_ids),
                TrackEnrollment.status.in_(RUNNING),
                TrackEnrollment.track_id != track_id,
                TrackEnrollment.track_id.not_in(alongside),
            )
        )
    )
    for enrollment in ended:
        enrollment.status = EnrollmentStatus.ENDED.value
        enrollment.ended_at = now or datetime.now(UTC)
        enrollment.paused_on = None
    return ended


def enroll_if_not_on(
    contact_id: int | None,
    track: Track | None,
    *,
    starts_on: date,
    by: Member | None = None,
    opportunity_id: int | None = None,
) -> TrackEnrollment | None:
    """Enroll unless there is nothing to enroll or the contact is on that track already."""
    if contact_id is None or track is None or not track.active:
        return None
    try:
        return enroll(
            contact_id, track.id, starts_on=starts_on, by=by, opportunity_id=opportunity_id
        )
    except TrackRefused:
        return None


def may_pause(enrollment: TrackEnrollment) -> bool:
    return enrollment.status == EnrollmentStatus.ACTIVE.value


def may_resume(enrollment: TrackEnrollment) -> bool:
    return enrollment.status == EnrollmentStatus.PAUSED.value


def may_remove(enrollment: TrackEnrollment) -> bool:
    """Active or paused: an enrollment that has ended stays as it ended."""
    return enrollment.status in RUNNING


def pause(enrollment: TrackEnrollment, today: date) -> None:
    if not may_pause(enrollment):
        raise TrackRefused("Only an active enrollment can be paused.")
    enrollment.status = EnrollmentStatus.PAUSED.value
    enrollment.paused_on = today
    db.session.flush()


def resume(enrollment: TrackEnrollment, today: date) -> None:
    """Back on the track; the steps still to come move later by the days it was paused,
    the steps that already ran stay as they were."""
    if not may_resume(enrollment) or enrollment.paused_on is None:
        raise TrackRefused("Only a paused enrollment can be resumed.")
    enrollment.paused_days += max(0, (today - enrollment.paused_on).days)
    enrollment.paused_on = None
    enrollment.status = EnrollmentStatus.ACTIVE.value
    db.session.flush()


def remove(enrollment: TrackEnrollment, now: datetime | None = None) -> None:
    if not may_remove(enrollment):
        raise TrackRefused("This enrollment has ended already.")
    enrollment.status = EnrollmentStatus.REMOVED.value
    enrollment.ended_at = now or datetime.now(UTC)
    db.session.flush()


def step_due_on(enrollment: TrackEnrollment, step: TrackStep) -> date:
    """Start + offset + days paused, on a business day (a weekend moves to Monday)."""
    return first_business_day_from(
        enrollment.starts_on + timedelta(days=step.day_offset + enrollment.paused_days)
    )


def default_track(kind_code: str) -> Track | None:
    """The first active track of a kind (e.g. the team's General Interest track)."""
    return db.session.scalars(
        select(Track)
        .join(TrackKind)
        .where(TrackKind.code == kind_code, Track.active)
        .order_by(Track.id)
        .limit(1)
    ).first()


# ---------------------------------------------------------------- automatic enrollment
# Called by the reactions to what happened in the funnel (services/reactions.py).


def on_new_prospect(opportunity: Opportunity, today: date, by: Member | None = None) -> None:
    """A new Prospect's contact joins General Interest, unless the opportunity's campaign
    names a track of its own (e.g. an event's)."""
    track = None
    if opportunity.campaign_id:
        campaign = db.session.get(Campaign, opportunity.campaign_id)
        track_id = campaign and (campaign.opportunity_track_id or campaign.contact_track_id)
        track = db.session.get(Track, track_id) if track_id else None
    track = track or default_track("general_interest")
    enroll_if_not_on(
        opportunity.contact_id, track, starts_on=today, by=by, opportunity_id=opportunity.id
    )


def on_lost(opportunity: Opportunity, today: date, by: Member | None = None) -> None:
    """A lost opportunity's contact goes on the Lost Sale track."""
    enroll_if_not_on(
        opportunity.contact_id,
        default_track("lost_sale"),
        starts_on=today,
        by=by,
        opportunity_id=opportunity.id,
    )


def on_won(opportunity: Opportunity, now: datetime | None = None) -> None:
    """Winning ends the contact's Lost Sale enrollments."""
    if opportunity.contact_id is None:
        return
    lost_sale = select(Track.id).join(TrackKind).where(TrackKind.code == "lost_sale")
    for enrollment in db.session.scalars(
        select(TrackEnrollment).where(
            TrackEnrollment.contact_id == opportunity.contact_id,
            TrackEnrollment.track_id.in_(lost_sale),
            TrackEnrollment.status.in_(RUNNING),
        )
    ):
        enrollment.status = EnrollmentStatus.COMPLETED.value
        enrollment.ended_at = now or datetime.now(UTC)
    db.session.flush()


def on_reply(contact_id: int, at: datetime) -> list[TrackEnrollment]:
    """The contact wrote to us at ``at``: the tracks they were on by then stop e-mailing
    them (as a sales sequence does on a reply); the first reply's time is kept."""
    stamped = list(
        db.session.scalars(
            select(TrackEnrollment).where(
                TrackEnrollment.contact_id == contact_id,
                TrackEnrollment.status.in_(RUNNING),
                TrackEnrollment.replied_at.is_(None),
                TrackEnrollment.created_at <= at + REPLY_CLOCK_SLACK,
            )
        )
    )
    for enrollment in stamped:
        enrollment.replied_at = at
    db.session.flush()
    return stamped


# ---------------------------------------------------------------- what pages show


@dataclass
class Progress:
    enrollment: TrackEnrollment
    done: int
    total: int
    next_step: TrackStep | None
    next_on: date | None

    @property
    def may_pause(self) -> bool:
        return may_pause(self.enrollment)

    @property
    def may_resume(self) -> bool:
        return may_resume(self.enrollment)

    @property
    def may_remove(self) -> bool:
        return may_remove(self.enrollment)


def progress_of(enrollments: list[TrackEnrollment]) -> list[Progress]:
    """Steps done and remaining, and the next touch with its day, for each enrollment; in
    three queries whatever their number."""
    if not enrollments:
        return []
    track_ids = {e.track_id for e in enrollments}
    steps: dict[int, list[TrackStep]] = {}
    for step in db.session.scalars(
        select(TrackStep)
        .where(TrackStep.track_id.in_(track_ids))
        .order_by(TrackStep.day_offset, TrackStep.position)
    ):
        steps.setdefault(step.track_id, []).append(step)
    ran: dict[int, set[int]] = {}
    for enrollment_id, step_id in db.session.execute(
        select(TrackStepRun.enrollment_id, TrackStepRun.step_id).where(
            TrackStepRun.enrollment_id.in_([e.id for e in enrollments])
        )
    ):
        ran.setdefault(enrollment_id, set()).add(step_id)
    found = []
    for enrollment in enrollments:
        track_steps = steps.get(enrollment.track_id, [])
        done = ran.get(enrollment.id, set())
        # A contact who replied gets no more e-mails: the next touch is the next activity.
        upcoming = [
            s
            for s in track_steps
            if s.id not in done
            and not (enrollment.replied_at and s.action == StepAction.EMAIL.value)
        ]
        next_step = upcoming[0] if upcoming and enrollment.status in RUNNING else None
        found.append(
            Progress(
                enrollment,
                len(done),
                len(track_steps),
                next_step,
                step_due_on(enrollment, next_step) if next_step else None,
            )
        )
    return found
