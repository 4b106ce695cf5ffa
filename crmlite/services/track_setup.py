"""Setting tracks up: a track's name, kind and the track that follows it, and its steps;
and the lists the track pages show. (Enrolling contacts and running the steps is
``services.tracks``.)

The rules:

- Track names are unique, whatever their case. A track has one of the kinds; on completion
  its contacts may join another track, never the same one (it would loop).
- A step runs a whole number of days after enrollment, from 0 to ten years.
- An activity step names the kind of activity (an active one) and its subject, and who gets
  it: the contact's account manager, the member who enrolled them, or a named member (an
  active one; a step keeps the member it has).
- An e-mail step has a subject and a text.
- A "join another track" step names another track.

Plain functions that never commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import (
    ActivityType,
    Contact,
    Member,
    StepAction,
    StepAssignee,
    Track,
    TrackEnrollment,
    TrackKind,
    TrackStep,
)
from crmlite.services import events
from crmlite.services.members import assignment_refusal
from crmlite.services.tracks import RUNNING

MAX_DAY_OFFSET = 3650  # ten years
ENROLLMENTS_SHOWN = 500


class SetupRefused(ValueError):
    """Input the rules refuse: a message per form field it belongs to."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


# ---------------------------------------------------------------- tracks


@dataclass(frozen=True)
class TrackValues:
    name: str
    kind_id: int  # 0: none chosen
    industry: str = ""
    description: str = ""
    active: bool = True
    on_complete_track_id: int | None = None
    runs_alongside: bool = False


def name_taken(name: str, *, except_id: int | None = None) -> bool:
    """Track names are unique, whatever their case."""
    query = select(func.count(Track.id)).where(func.lower(Track.name) == name.strip().lower())
    if except_id is not None:
        query = query.where(Track.id != except_id)
    return bool(db.session.scalar(query))


def track_problems(track: Track | None, values: TrackValues) -> dict[str, str]:
    """What the rules refuse in these values, by field; empty when they may be saved."""
    problems: dict[str, str] = {}
    track_id = track.id if track else None
    if not values.name.strip():
        problems["name"] = "Name the track."
    elif name_taken(values.name, except_id=track_id):
        problems["name"] = "Another track has this name."
    if not values.kind_id or db.session.get(TrackKind, values.kind_id) is None:
        problems["kind_id"] = "Choose the kind of track from the list."
    then = values.on_complete_track_id
    if then is not None:
        if then == track_id:
            problems["on_complete_track_id"] = (
                "A track cannot lead to itself on completion: it would loop."
            )
        elif db.session.get(Track, then) is None:
            problems["on_complete_track_id"] = "Choose the track to join from the list."
    return problems


def save_track(track: Track | None, values: TrackValues) -> Track:
    """Create (``track`` None) or change a track; SetupRefused says what the rules refuse."""
    problems = track_problems(track, values)
    if problems:
        raise SetupRefused(problems)
    if track is None:
        track = Track(name=values.name.strip(), kind_id=values.kind_id)
        db.session.add(track)
    track.name = values.name.strip()
    track.kind_id = values.kind_id
    track.industry = values.industry.strip()
    track.description = values.description.strip()
    track.active = values.active
    track.on_complete_track_id = values.on_complete_track_id
    track.runs_alongside = values.runs_alongside
    db.session.flush()
    return track


# ---------------------------------------------------------------- steps


@dataclass(frozen=True)
class StepValues:
    day_offset: int | None
    action: str
    activity_type_id: int | None = None
    subject: str = ""
    body: str = ""
    assignee_rule: str = StepAssignee.ACCOUNT_MANAGER.value
    assignee_id: int | None = None
    target_track_id: int | None = None


def step_problems(
    track_id: int, values: StepValues, step: TrackStep | None = None
) -> dict[str, str]:
    """What the rules refuse in a step of this track, by field; empty when it may be saved.
    Every problem is found at once, so a form can show them all."""
    problems: dict[str, str] = {}
    if values.day_offset is None or not 0 <= values.day_offset <= MAX_DAY_OFFSET:
        problems["day_offset"] = f"The number of days must be from 0 to {MAX_DAY_OFFSET:,}."
    if values.action == StepAction.ACTIVITY.value:
        if not values.activity_type_id:
            problems["activity_type_id"] = "Choose the kind of activity."
        else:
            kind = db.session.get(ActivityType, values.activity_type_id)
            kept = step is not None and step.activity_type_id == values.activity_type_id
            if kind is None or not (kind.active or kept):
                problems["activity_type_id"] = "Choose the kind of activity from the list."
        if not values.subject.strip():
            problems["subject"] = "Enter a subject."
        if values.assignee_rule == StepAssignee.MEMBER.value and not values.assignee_id:
            problems["assignee_id"] = "Choose the member."
    elif values.action == StepAction.EMAIL.value:
        if not values.subject.strip():
            problems["subject"] = "Enter the e-mail's subject."
        if not values.body.strip():
            problems["body"] = "Write the e-mail."
    elif values.action == StepAction.ADD_TO_TRACK.value:
        if not values.target_track_id:
            problems["target_track_id"] = "Choose the track to join."
        elif values.target_track_id == track_id:
            problems["target_track_id"] = (
                "A step cannot add the contact to its own track: it would loop."
            )
        elif db.session.get(Track, values.target_track_id) is None:
            problems["target_track_id"] = "Choose the track to join from the list."
    else:
        problems["action"] = "Choose what the step does."
    if "assignee_id" not in problems:
        refusal = assignment_refusal(
            values.assignee_id,
            current_id=step.assignee_id if step else None,
            what="The named member",
        )
        if refusal:
            problems["assignee_id"] = refusal
    return problems


def _fill_step(step: TrackStep, values: StepValues) -> None:
    """What the step keeps: only the activity type of an activity step and the track of a
    "join another track" step."""
    step.day_offset = values.day_offset or 0
    step.action = values.action
    step.subject = values.subject.strip()
    step.body = values.body
    is_activity = values.action == StepAction.ACTIVITY.value
    step.activity_type_id = values.activity_type_id if is_activity else None
    step.assignee_rule = values.assignee_rule
    step.assignee_id = values.assignee_id
    joins = values.action == StepAction.ADD_TO_TRACK.value
    step.target_track_id = values.target_track_id if joins else None


def add_step(track: Track, values: StepValues) -> TrackStep:
    """A new step of the track, after its other steps of the same day."""
    problems = step_problems(track.id, values)
    if problems:
        raise SetupRefused(problems)
    position = (
        db.session.scalar(
            select(func.max(TrackStep.position)).where(TrackStep.track_id == track.id)
        )
        or 0
    ) + 1
    step = TrackStep(track_id=track.id, position=position)
    _fill_step(step, values)
    db.session.add(step)
    db.session.flush()
    return step


def save_step(step: TrackStep, values: StepValues) -> None:
    problems = step_problems(step.track_id, values, step)
    if problems:
        raise SetupRefused(problems)
    _fill_step(step, values)
    db.session.flush()


def remove_step(step: TrackStep, *, by: Member) -> None:
    """The step goes; the runs it made stay recorded on their enrollments. Published
    (``Deleted``)."""
    track = db.session.get(Track, step.track_id)
    name = f"day {step.day_offset}: {step.subject or step.action}"
    if track is not None:
        name = f"{track.name}, {name}"
    db.session.delete(step)
    db.session.flush()
    events.publish(events.Deleted("track step", name, by=by, at=utcnow()))


# ---------------------------------------------------------------- what the pages list


@dataclass(frozen=True)
class TrackRow:
    track: Track
    kind: str
    steps: int
    running: int  # contacts on it now: active or paused


def track_rows() -> list[TrackRow]:
    """Every track by kind and name, with its number of steps and of contacts on it now:
    one query."""
    steps = select(func.count(TrackStep.id)).where(TrackStep.track_id == Track.id)
    running = select(func.count(TrackEnrollment.id)).where(
        TrackEnrollment.track_id == Track.id, TrackEnrollment.status.in_(RUNNING)
    )
    rows = db.session.execute(
        select(Track, TrackKind.name, steps.scalar_subquery(), running.scalar_subquery())
        .join(TrackKind, TrackKind.id == Track.kind_id)
        .order_by(TrackKind.position, Track.name)
    )
    return [TrackRow(track, kind, int(n), int(r)) for track, kind, n, r in rows]


def tracks_by_name(*, active_only: bool = False) -> list[Track]:
    query = select(Track).order_by(Track.name)
    if active_only:
        query = query.where(Track.active)
    return list(db.session.scalars(query))


def steps_of(track_id: int) -> list[TrackStep]:
    """A track's steps in the order they run, with what they name."""
    return list(
        db.session.scalars(
            select(TrackStep)
            .where(TrackStep.track_id == track_id)
            .options(
                joinedload(TrackStep.activity_type),
                joinedload(TrackStep.assignee),
                joinedload(TrackStep.target_track),
            )
            .order_by(TrackStep.day_offset, TrackStep.position)
        )
    )


def enrollments_on(track_id: int, limit: int = ENROLLMENTS_SHOWN) -> list[TrackEnrollment]:
    """A track's enrollments with their contacts and companies, by status, then latest
    start first."""
    return list(
        db.session.scalars(
            select(TrackEnrollment)
            .where(TrackEnrollment.track_id == track_id)
            .options(
                joinedload(TrackEnrollment.contact).joinedload(Contact.company),
                # Whose enrolment it is (services.permissions) reads its deal.
                joinedload(TrackEnrollment.opportunity),
            )
            .order_by(TrackEnrollment.status, TrackEnrollment.starts_on.desc())
            .limit(limit)
        )
    )


def enrollments_of(contact_id: int) -> list[TrackEnrollment]:
    """A contact's enrollments with their tracks, newest first."""
    return list(
        db.session.scalars(
            select(TrackEnrollment)
            .where(TrackEnrollment.contact_id == contact_id)
            .options(joinedload(TrackEnrollment.track), joinedload(TrackEnrollment.opportunity))
            .order_by(TrackEnrollment.created_at.desc())
        )
    )
