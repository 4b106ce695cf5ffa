"""Tracks: enrolling contacts, the stop rules, and the runner that executes due steps.

A step is due on the enrollment's start day + its day offset + the days the enrollment
spent paused. The runner executes every due step exactly once, in order, catching up on
steps missed while it was not running. "Exactly once" is enforced by the database: a step
run is a row unique per (enrollment, step), claimed and committed *before* the step acts,
so a second runner (or a second run) finds it taken and moves on. If the process dies
between claiming and acting, that step is lost rather than repeated: nobody ever gets the
same e-mail twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, literal, select
from sqlalchemy.exc import IntegrityError

from crmlite import links
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    Campaign,
    Company,
    Contact,
    EnrollmentStatus,
    Member,
    Opportunity,
    Role,
    StepAction,
    StepAssignee,
    Track,
    TrackEnrollment,
    TrackKind,
    TrackStep,
    TrackStepRun,
)
from crmlite.services import tracking
from crmlite.services.activities import schedule_activity
from crmlite.services.mailer import SkipReason, skip_reason

RUNNING = (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.PAUSED.value)

# send_email(to_address, subject, text, contact) -> None; raises on failure.
SendEmail = Callable[[str, str, str, Contact], None]

# What the enrolment's history says when an e-mail step is not sent.
SKIPPED_STEP = {
    SkipReason.UNSUBSCRIBED: "skipped: unsubscribed",
    SkipReason.NO_ADDRESS: "skipped: no e-mail address",
    SkipReason.BOUNCED: "skipped: the address bounces",
}


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
    Three queries whatever their number."""
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
    db.session.add_all(added)
    db.session.flush()
    return added, refused


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
    return enrollment.starts_on + timedelta(days=step.day_offset + enrollment.paused_days)


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


# ---------------------------------------------------------------- the runner


@dataclass
class RunSummary:
    activities: int = 0
    emails: int = 0
    emails_skipped: int = 0
    enrolled: int = 0
    taken: int = 0  # claimed by another runner (or an earlier run) first
    failed: int = 0
    completed: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return self.activities + self.emails + self.emails_skipped + self.enrolled + self.failed

    def line(self) -> str:
        return (
            f"{self.steps} steps run: {self.activities} activities scheduled, "
            f"{self.emails} e-mails sent, {self.emails_skipped} e-mails skipped, "
            f"{self.enrolled} moved to another track, {self.failed} failed; "
            f"{self.completed} enrollments completed; {self.taken} already taken"
        )


def _days_since(column: Any, today: date) -> Any:
    """SQL: whole days from a date column to today, on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "sqlite":
        return func.julianday(literal(today.isoformat())) - func.julianday(column)
    return literal(today) - column


def due_steps(today: date) -> list[tuple[int, int]]:
    """(enrollment id, step id) of every step that has come due and not run yet, in order."""
    run = TrackStepRun
    query = (
        select(TrackEnrollment.id, TrackStep.id)
        .join(TrackStep, TrackStep.track_id == TrackEnrollment.track_id)
        .outerjoin(run, and_(run.enrollment_id == TrackEnrollment.id, run.step_id == TrackStep.id))
        .where(
            TrackEnrollment.status == EnrollmentStatus.ACTIVE.value,
            run.id.is_(None),
            TrackStep.day_offset + TrackEnrollment.paused_days
            <= _days_since(TrackEnrollment.starts_on, today),
        )
        .order_by(TrackEnrollment.id, TrackStep.day_offset, TrackStep.position, TrackStep.id)
    )
    return [(e, s) for e, s in db.session.execute(query)]


def _assignee(
    step: TrackStep, enrollment: TrackEnrollment, contact: Contact, opportunity: Opportunity | None
) -> int:
    if step.assignee_rule == StepAssignee.MEMBER.value and step.assignee_id:
        return step.assignee_id
    if step.assignee_rule == StepAssignee.ACCOUNT_MANAGER.value:
        manager = opportunity.account_manager_id if opportunity else None
        if manager is None and contact.company_id:
            manager = db.session.scalar(
                select(Company.account_manager_id).where(Company.id == contact.company_id)
            )
        if manager:
            return manager
    if enrollment.enrolled_by_id:
        return enrollment.enrolled_by_id
    admin = db.session.scalar(
        select(Member.id).where(Member.role == Role.ADMIN.value, Member.active).order_by(Member.id)
    )
    if admin is None:
        raise TrackRefused("No member to give the activity to.")
    return admin


def _claim(enrollment_id: int, step_id: int) -> TrackStepRun | None:
    """Take the step for this runner, committed, or None when another run has it."""
    step_run = TrackStepRun(enrollment_id=enrollment_id, step_id=step_id, outcome="claimed")
    db.session.add(step_run)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return step_run


def _act(
    step: TrackStep,
    enrollment: TrackEnrollment,
    contact: Contact,
    today: date,
    tz: ZoneInfo,
    send_email: SendEmail | None,
    summary: RunSummary,
) -> tuple[str, Any]:
    if step.action == StepAction.ACTIVITY.value:
        opportunity = (
            db.session.get(Opportunity, enrollment.opportunity_id)
            if enrollment.opportunity_id
            else None
        )
        assignee = _assignee(step, enrollment, contact, opportunity)
        member = db.session.get(Member, assignee)
        assert member is not None
        activity = schedule_activity(
            subject=step.subject or "Track touch",
            type_id=step.activity_type_id or 0,
            due_on=max(today, step_due_on(enrollment, step)),
            assigned_to_id=assignee,
            by=member,
            tz=tz,
            opportunity=opportunity,
        )
        activity.contact_id = contact.id
        activity.company_id = activity.company_id or contact.company_id
        activity.phone = activity.phone or contact.phone
        if contact.unsubscribed_at is not None:
            activity.subject = f"{activity.subject} (contact unsubscribed from e-mail)"[:200]
        summary.activities += 1
        return "activity scheduled", activity
    if step.action == StepAction.EMAIL.value:
        skip = skip_reason(contact)
        if skip is not None:
            summary.emails_skipped += 1
            return SKIPPED_STEP[skip], None
        if send_email is None:
            raise TrackRefused("E-mail sending is not set up.")
        subject = step.subject.replace("{name}", contact.first_name)
        body = step.body.replace("{name}", contact.first_name)
        send_email(contact.email, subject, body, contact)
        summary.emails += 1
        return "e-mail sent", None
    target = db.session.get(Track, step.target_track_id) if step.target_track_id else None
    enroll_if_not_on(contact.id, target, starts_on=today, opportunity_id=enrollment.opportunity_id)
    summary.enrolled += 1
    return f"added to {target.name if target else 'no track'}", None


def _complete_if_done(enrollment: TrackEnrollment, today: date, summary: RunSummary) -> None:
    steps = (
        db.session.scalar(
            select(func.count(TrackStep.id)).where(TrackStep.track_id == enrollment.track_id)
        )
        or 0
    )
    done = (
        db.session.scalar(
            select(func.count(TrackStepRun.id)).where(TrackStepRun.enrollment_id == enrollment.id)
        )
        or 0
    )
    if enrollment.status != EnrollmentStatus.ACTIVE.value or done < steps:
        return
    enrollment.status = EnrollmentStatus.COMPLETED.value
    enrollment.ended_at = datetime.now(UTC)
    track = db.session.get(Track, enrollment.track_id)
    summary.completed += 1
    if track and track.on_complete_track_id:
        enroll_if_not_on(
            enrollment.contact_id,
            db.session.get(Track, track.on_complete_track_id),
            starts_on=today,
            opportunity_id=enrollment.opportunity_id,
        )
    db.session.commit()


def run_due_steps(
    today: date,
    tz: ZoneInfo,
    *,
    send_email: SendEmail | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Execute every due step once, in order, and complete finished enrollments."""
    summary = RunSummary()
    due = due_steps(today)
    db.session.commit()  # end the read: each step below is its own transaction
    touched: list[int] = []
    for index, (enrollment_id, step_id) in enumerate(due, start=1):
        if progress and (index % 500 == 0 or index == len(due)):
            progress(index, len(due))
        step_run = _claim(enrollment_id, step_id)
        if step_run is None:
            summary.taken += 1
            continue
        enrollment = db.session.get(TrackEnrollment, enrollment_id)
        step = db.session.get(TrackStep, step_id)
        assert enrollment is not None and step is not None
        contact = db.session.get(Contact, enrollment.contact_id)
        assert contact is not None
        try:
            outcome, activity = _act(step, enrollment, contact, today, tz, send_email, summary)
            step_run.outcome = outcome[:40]
            step_run.activity_id = activity.id if isinstance(activity, Activity) else None
            db.session.commit()
        except Exception as error:  # one bad step must not stop the others
            db.session.rollback()
            summary.failed += 1
            summary.messages.append(f"enrollment {enrollment_id}, step {step_id}: {error}")
            failed = db.session.get(TrackStepRun, step_run.id)
            if failed is not None:
                failed.outcome = f"failed: {error}"[:40]
                db.session.commit()
        if not touched or touched[-1] != enrollment_id:
            touched.append(enrollment_id)
    for enrollment_id in touched:
        enrollment = db.session.get(TrackEnrollment, enrollment_id)
        if enrollment is not None:
            _complete_if_done(enrollment, today, summary)
    db.session.commit()
    return summary


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
        upcoming = [s for s in track_steps if s.id not in done]
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


def default_sender() -> SendEmail:
    """Track e-mails go out through the campaigns' e-mail service, with the contact's
    unsubscribe link. Where that link points is settled here, before any step is claimed:
    outside a request without PUBLIC_URL this raises ``links.PublicUrlMissing``, so no step
    is used up by an e-mail that cannot be sent."""
    base = links.base_url()

    def send(to: str, subject: str, body: str, contact: Contact) -> None:
        tracking.send_plain(to, subject, body, contact, base=base)

    return send
