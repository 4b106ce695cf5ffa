"""Tracks: sequences of activities and e-mails that contacts are enrolled in."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.database import UTCDateTime
from crmlite.models.activities import Activity, ActivityType
from crmlite.models.base import Model, created_at_column, fk, rel
from crmlite.models.people import Contact, Member
from crmlite.models.sales import Opportunity


class StepAction(StrEnum):
    ACTIVITY = "activity"
    EMAIL = "email"
    ADD_TO_TRACK = "add_to_track"


class StepAssignee(StrEnum):
    ACCOUNT_MANAGER = "account_manager"
    ENROLLING_MEMBER = "enrolling_member"
    MEMBER = "member"


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    REMOVED = "removed"
    # Ended by the rules, not by a person: the contact joined another nurture track
    # (only one runs at a time unless a track runs alongside others).
    ENDED = "ended"


class TrackKind(Model):
    """General Interest, Industry Specific, Value-Add, Event Specific, Lost Sale."""

    __tablename__ = "track_kinds"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class Track(Model):
    __tablename__ = "tracks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind_id: Mapped[int] = fk("track_kinds.id", nullable=False)
    industry: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # False: a nurture track; joining it ends the contact's other nurture tracks (one at a
    # time), e.g. Lost Sale ends General Interest. True: runs beside them (services/tracks).
    runs_alongside: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What a contact joins when they finish this track (e.g. Industry → General Interest).
    on_complete_track_id: Mapped[int | None] = fk("tracks.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()

    kind: Mapped[TrackKind] = rel(TrackKind)
    on_complete_track: Mapped[Track | None] = rel("Track", remote_side=[id])
    steps: Mapped[list[TrackStep]] = rel(
        "TrackStep",
        back_populates="track",
        cascade="all, delete-orphan",
        order_by="(TrackStep.day_offset, TrackStep.position)",
        foreign_keys="TrackStep.track_id",
    )


class TrackStep(Model):
    __tablename__ = "track_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = fk("tracks.id", ondelete="CASCADE", nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    day_offset: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    activity_type_id: Mapped[int | None] = fk("activity_types.id")
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    assignee_rule: Mapped[str] = mapped_column(
        String(20), default=StepAssignee.ACCOUNT_MANAGER.value
    )
    assignee_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    target_track_id: Mapped[int | None] = fk("tracks.id", ondelete="SET NULL")

    __table_args__ = (
        CheckConstraint("day_offset BETWEEN 0 AND 3650", name="day_offset_range"),
        CheckConstraint("action IN ('activity', 'email', 'add_to_track')", name="action_values"),
    )

    track: Mapped[Track] = rel(Track, back_populates="steps", foreign_keys=[track_id])
    activity_type: Mapped[ActivityType | None] = rel(ActivityType)
    assignee: Mapped[Member | None] = rel(Member)
    target_track: Mapped[Track | None] = rel(Track, foreign_keys=[target_track_id])


class TrackEnrollment(Model):
    __tablename__ = "track_enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = fk("tracks.id", ondelete="CASCADE", nullable=False)
    contact_id: Mapped[int] = fk("contacts.id", ondelete="CASCADE", nullable=False, index=True)
    opportunity_id: Mapped[int | None] = fk("opportunities.id", ondelete="SET NULL")
    enrolled_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    starts_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=EnrollmentStatus.ACTIVE.value)
    paused_on: Mapped[date | None] = mapped_column(Date)
    # Days spent paused so far; due dates of later steps move by this much.
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the contact first wrote to us while on the track (a captured e-mail from them):
    # its e-mail steps stop, its activities go on.
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("paused_days >= 0", name="paused_days_not_negative"),
        # The same contact is never on the same track twice at once.
        Index(
            "uq_track_enrollments_running",
            "track_id",
            "contact_id",
            unique=True,
            sqlite_where=text("status IN ('active', 'paused')"),
            postgresql_where=text("status IN ('active', 'paused')"),
        ),
        Index("ix_track_enrollments_status", "status", "track_id"),
    )

    track: Mapped[Track] = rel(Track)
    contact: Mapped[Contact] = rel(Contact)
    opportunity: Mapped[Opportunity | None] = rel(Opportunity)
    enrolled_by: Mapped[Member | None] = rel(Member)


class TrackStepRun(Model):
    """A step executed for an enrollment. Unique, so no step ever runs twice."""

    __tablename__ = "track_step_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = fk("track_enrollments.id", ondelete="CASCADE", nullable=False)
    step_id: Mapped[int] = fk("track_steps.id", ondelete="CASCADE", nullable=False)
    ran_at: Mapped[datetime] = created_at_column()
    activity_id: Mapped[int | None] = fk("activities.id", ondelete="SET NULL")
    outcome: Mapped[str] = mapped_column(String(40), default="done")

    __table_args__ = (UniqueConstraint("enrollment_id", "step_id"),)

    activity: Mapped[Activity | None] = rel(Activity)
