"""The track runner: executes every step that has come due, exactly once, in order,
catching up on steps missed while it was not running (``flask crm tracks run``, "Run now").

- **One transaction per enrollment**: its due steps are claimed (a step-run row, unique per
  enrollment and step) and acted on (an activity scheduled, an e-mail queued in the outbox,
  the contact added to another track) in step order, then committed together, with the
  enrollment's completion. A second runner that reaches the same enrollment fails on the
  unique row, rolls back and counts it "taken". A step that raises rolls the whole
  enrollment back, nothing marked, and is reported: the next run tries it again.
- **In order per contact**: an enrollment's e-mails are queued in step order in that one
  transaction, and the outbox sends a contact's messages in the order queued, so a track's
  day-0 e-mail never arrives after its day-6 one.
- **Completed once**: completing is a conditional UPDATE (active → completed), counted by
  the rows it changed, so two runners never both count (or continue) an enrollment.
- **Business days and hours**: on a weekend nothing is due (steps falling on one move to
  Monday: ``tracks.step_due_on``); e-mails queued outside ``TRACK_SEND_WINDOW`` wait for
  its next opening on a business day.
- A reply stops the e-mails: an enrollment whose contact replied skips its e-mail steps
  ("skipped: contact replied"); its activities still come.

``preview_due_steps`` says what a run would do, changing nothing (``--dry-run``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, func, literal, select, update
from sqlalchemy.exc import IntegrityError

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    Company,
    Contact,
    EnrollmentStatus,
    Member,
    Opportunity,
    OutboxKind,
    StepAction,
    StepAssignee,
    Track,
    TrackEnrollment,
    TrackStep,
    TrackStepRun,
)
from crmlite.services import members, outbox, tracking
from crmlite.services.activities import schedule_activity
from crmlite.services.business_days import is_business_day, next_send_time
from crmlite.services.mailer import SKIPPED, sender_domain, skip_reason
from crmlite.services.tracks import TrackRefused, enroll_if_not_on, step_due_on

REPLIED = "skipped: contact replied"
LAST_STEP = "(last step)"
COUNTS = ("activities", "emails", "emails_skipped", "enrolled", "taken", "failed", "completed")


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

    def add(self, other: RunSummary) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.messages += other.messages

    def line(self) -> str:
        return (
            f"{self.steps} steps run: {self.activities} activities scheduled, "
            f"{self.emails} e-mails queued, {self.emails_skipped} e-mails skipped, "
            f"{self.enrolled} moved to another track, {self.failed} failed; "
            f"{self.completed} enrollments completed; {self.taken} already taken"
        )


def _days_since(column: Any, today: date) -> Any:
    """SQL: whole days from a date column to today, on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "sqlite":
        return func.julianday(literal(today.isoformat())) - func.julianday(column)
    return literal(today) - column


def due_steps(today: date) -> list[tuple[int, int]]:
    """(enrollment id, step id) of every step that has come due and not run yet, in order.
    Nothing on a weekend; on a weekday, a step whose day was the weekend before is due
    (it moved to Monday), so the plain "day reached" comparison is the rule."""
    if not is_business_day(today):
        return []
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


def _by_enrollment(due: list[tuple[int, int]]) -> Iterator[tuple[int, list[int]]]:
    for enrollment_id, pairs in groupby(due, key=lambda pair: pair[0]):
        yield enrollment_id, [step_id for _, step_id in pairs]


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
    admin = members.first_admin()
    if admin is None:
        raise TrackRefused("No member to give the activity to.")
    return admin.id


def _opportunity_of(enrollment: TrackEnrollment) -> Opportunity | None:
    if enrollment.opportunity_id is None:
        return None
    return db.session.get(Opportunity, enrollment.opportunity_id)


def _subject(step: TrackStep, contact: Contact) -> str:
    return step.subject.replace("{name}", contact.first_name)


@dataclass(frozen=True)
class Context:
    """What every step of a run shares."""

    today: date
    tz: ZoneInfo
    base: str | None
    now: datetime
    send_window: tuple[time, time]

    @classmethod
    def of(cls, today: date, tz: ZoneInfo, base: str | None, now: datetime | None) -> Context:
        window = current_app.config["TRACK_SEND_WINDOW"]  # a SendWindow (crmlite.config)
        return cls(today, tz, base, now or utcnow(), (window[0], window[1]))


def _act(
    step: TrackStep,
    enrollment: TrackEnrollment,
    contact: Contact,
    step_run_id: int,
    run: Context,
    summary: RunSummary,
) -> tuple[str, Activity | None]:
    if step.action == StepAction.ACTIVITY.value:
        opportunity = _opportunity_of(enrollment)
        assignee = _assignee(step, enrollment, contact, opportunity)
        member = db.session.get(Member, assignee)
        assert member is not None
        activity = schedule_activity(
            subject=step.subject or "Track touch",
            type_id=step.activity_type_id or 0,
            due_on=max(run.today, step_due_on(enrollment, step)),
            assigned_to_id=assignee,
            by=member,
            tz=run.tz,
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
        if enrollment.replied_at is not None:
            summary.emails_skipped += 1
            return REPLIED, None
        if (reason := skip_reason(contact)) is not None:
            summary.emails_skipped += 1
            return f"skipped: {SKIPPED[reason]}", None
        outbox.enqueue(
            tracking.contact_email(
                key=f"track:{enrollment.id}:{step.id}",
                kind=OutboxKind.TRACK,
                contact=contact,
                subject=_subject(step, contact),
                body=step.body.replace("{name}", contact.first_name),
                base=run.base,
                step_run_id=step_run_id,
                not_before=next_send_time(run.now, run.tz, run.send_window),
            ),
            domain=sender_domain(current_app.config["MAIL_FROM"]),
            now=run.now,
        )
        summary.emails += 1
        return "e-mail queued", None
    target = db.session.get(Track, step.target_track_id) if step.target_track_id else None
    enroll_if_not_on(
        contact.id, target, starts_on=run.today, opportunity_id=enrollment.opportunity_id
    )
    summary.enrolled += 1
    return f"added to {target.name if target else 'no track'}", None


def _all_steps_ran(enrollment: TrackEnrollment) -> bool:
    steps = db.session.scalar(
        select(func.count(TrackStep.id)).where(TrackStep.track_id == enrollment.track_id)
    )
    done = db.session.scalar(
        select(func.count(TrackStepRun.id)).where(TrackStepRun.enrollment_id == enrollment.id)
    )
    return (done or 0) >= (steps or 0)


def _complete_if_done(enrollment: TrackEnrollment, run: Context, summary: RunSummary) -> None:
    """Complete a finished enrollment (only if still active: one runner wins) and put the
    contact on the track that follows, if any."""
    if enrollment.status != EnrollmentStatus.ACTIVE.value or not _all_steps_ran(enrollment):
        return
    changed = db.session.execute(
        update(TrackEnrollment)
        .where(
            TrackEnrollment.id == enrollment.id,
            TrackEnrollment.status == EnrollmentStatus.ACTIVE.value,
        )
        .values(status=EnrollmentStatus.COMPLETED.value, ended_at=run.now)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(enrollment, ["status", "ended_at"])
    if getattr(changed, "rowcount", 0) != 1:
        return
    summary.completed += 1
    track = db.session.get(Track, enrollment.track_id)
    if track and track.on_complete_track_id:
        enroll_if_not_on(
            enrollment.contact_id,
            db.session.get(Track, track.on_complete_track_id),
            starts_on=run.today,
            opportunity_id=enrollment.opportunity_id,
        )


class _Taken(Exception):
    """Another runner (or an earlier run) has this enrollment's step."""


class StepFailed(Exception):
    """A step's action raised; its message names the enrollment and the step."""


def _claim(enrollment_id: int, step_id: int) -> TrackStepRun:
    step_run = TrackStepRun(enrollment_id=enrollment_id, step_id=step_id, outcome="claimed")
    db.session.add(step_run)
    try:
        db.session.flush()
    except IntegrityError as error:
        raise _Taken from error
    return step_run


def _run_enrollment(enrollment_id: int, step_ids: list[int], run: Context) -> RunSummary:
    """Claim and act on one enrollment's due steps in order, in this one transaction (the
    caller commits or rolls back)."""
    part = RunSummary()
    enrollment = db.session.get(TrackEnrollment, enrollment_id)
    if enrollment is None or enrollment.status != EnrollmentStatus.ACTIVE.value:
        return part  # ended, paused or removed since the due steps were read
    contact = db.session.get(Contact, enrollment.contact_id)
    assert contact is not None
    for step_id in step_ids:
        if enrollment.status != EnrollmentStatus.ACTIVE.value:
            break  # a step of its own ended it (it put the contact on a nurture track)
        step = db.session.get(TrackStep, step_id)
        if step is None:
            continue  # removed from the track meanwhile
        db.session.flush()  # the previous step's changes: their errors are no claim's
        step_run = _claim(enrollment.id, step.id)
        try:
            outcome, activity = _act(step, enrollment, contact, step_run.id, run, part)
        except Exception as error:
            raise StepFailed(f"enrollment {enrollment_id}, step {step_id}: {error}") from error
        step_run.outcome = outcome[:40]
        step_run.activity_id = activity.id if activity is not None else None
    db.session.flush()
    _complete_if_done(enrollment, run, part)
    return part


def run_due_steps(
    today: date,
    tz: ZoneInfo,
    *,
    base: str | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Execute every step due by ``today`` (the team's day) once, in order, and complete
    finished enrollments, one enrollment per transaction. E-mail steps are queued in the
    outbox (the worker sends them), their unsubscribe links at ``base`` (else where
    crmlite.links says), not before the send window opens (as of ``now``)."""
    run = Context.of(today, tz, base, now)
    summary = RunSummary()
    due = due_steps(today)
    db.session.commit()  # end the read: each enrollment below is its own transaction
    done, report_at = 0, 500
    for enrollment_id, step_ids in _by_enrollment(due):
        try:
            part = _run_enrollment(enrollment_id, step_ids, run)
            db.session.commit()
            summary.add(part)
        except _Taken:
            db.session.rollback()
            summary.taken += len(step_ids)
        except Exception as error:  # one bad enrollment must not stop the others
            db.session.rollback()
            summary.failed += 1
            summary.messages.append(str(error) if isinstance(error, StepFailed) else repr(error))
        done += len(step_ids)
        if progress and (done >= report_at or done == len(due)):
            progress(done, len(due))
            report_at = (done // 500 + 1) * 500
    return summary


# ---------------------------------------------------------------- what a run would do


@dataclass(frozen=True)
class PlannedStep:
    """One line of a dry run: a due step and what running it would do."""

    due_on: date
    contact: str
    track: str
    step: str
    would: str


def _would(step: TrackStep, enrollment: TrackEnrollment, contact: Contact, run: Context) -> str:
    if step.action == StepAction.ACTIVITY.value:
        try:
            assignee = _assignee(step, enrollment, contact, _opportunity_of(enrollment))
        except TrackRefused as refused:
            return f"fail: {refused}"
        member = db.session.get(Member, assignee)
        due = max(run.today, step_due_on(enrollment, step))
        return (
            f"schedule “{step.subject or 'Track touch'}” for "
            f"{member.name if member else 'nobody'} on {due:%Y-%m-%d}"
        )
    if step.action == StepAction.EMAIL.value:
        if enrollment.replied_at is not None:
            return REPLIED
        if (reason := skip_reason(contact)) is not None:
            return f"skipped: {SKIPPED[reason]}"
        at = next_send_time(run.now, run.tz, run.send_window).astimezone(run.tz)
        return (
            f"queue e-mail “{_subject(step, contact)}” to {contact.email}, "
            f"to go from {at:%Y-%m-%d %H:%M}"
        )
    target = db.session.get(Track, step.target_track_id) if step.target_track_id else None
    return f"add to {target.name if target else 'no track'}"


def preview_due_steps(
    today: date, tz: ZoneInfo, *, now: datetime | None = None
) -> list[PlannedStep]:
    """What ``run_due_steps`` would do by ``today``, step by step, changing nothing (steps
    an earlier step would stop, e.g. by ending the track, are still listed)."""
    run = Context.of(today, tz, None, now)
    planned: list[PlannedStep] = []
    for enrollment_id, step_ids in _by_enrollment(due_steps(today)):
        enrollment = db.session.get(TrackEnrollment, enrollment_id)
        assert enrollment is not None
        contact = db.session.get(Contact, enrollment.contact_id)
        track = db.session.get(Track, enrollment.track_id)
        assert contact is not None and track is not None
        for step_id in step_ids:
            step = db.session.get(TrackStep, step_id)
            assert step is not None
            planned.append(
                PlannedStep(
                    step_due_on(enrollment, step),
                    contact.name,
                    track.name,
                    f"day {step.day_offset}: {_subject(step, contact) or step.action}",
                    _would(step, enrollment, contact, run),
                )
            )
        ran = db.session.scalar(
            select(func.count(TrackStepRun.id)).where(TrackStepRun.enrollment_id == enrollment_id)
        )
        steps = db.session.scalar(
            select(func.count(TrackStep.id)).where(TrackStep.track_id == track.id)
        )
        if (ran or 0) + len(step_ids) >= (steps or 0):
            then = (
                db.session.get(Track, track.on_complete_track_id)
                if track.on_complete_track_id
                else None
            )
            planned.append(
                PlannedStep(
                    today,
                    contact.name,
                    track.name,
                    LAST_STEP,
                    "complete the track" + (f", then join {then.name}" if then else ""),
                )
            )
    db.session.rollback()  # nothing was changed; end the read
    return planned
