"""The funnel: what sits in each stage, how many open opportunities are stalled, and
moving an opportunity from stage to stage (won and lost included).

A move reports what happened as an event (``events.Won``, ``events.Lost``); the reactions
(tracks…) are not this module's business: ``services/reactions.py`` subscribes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import (
    ActivityType,
    Member,
    Opportunity,
    SalesStage,
    StageChange,
)
from crmlite.services import activities, checklists, events
from crmlite.services.business_days import first_business_day_from
from crmlite.services.money import cents
from crmlite.services.next_steps import next_step, stalled
from crmlite.services.statuses import is_open, status


@dataclass(frozen=True)
class StageSummary:
    stage_id: int
    name: str
    count: int
    revenue: Decimal
    weighted_revenue: Decimal


def open_stages() -> list[SalesStage]:
    """The six working stages, in funnel order (Won and Lost excluded)."""
    return list(
        db.session.scalars(
            select(SalesStage)
            .where(~SalesStage.is_won, ~SalesStage.is_lost)
            .order_by(SalesStage.position)
        )
    )


def stage_summary(account_manager_id: int | None = None) -> list[StageSummary]:
    """Count, revenue and probability-weighted revenue of open opportunities per stage,
    in one grouped query."""
    weighted = func.sum(Opportunity.revenue * Opportunity.probability / 100)
    query = (
        select(
            SalesStage.id,
            SalesStage.name,
            func.count(Opportunity.id),
            func.coalesce(func.sum(Opportunity.revenue), 0),
            func.coalesce(weighted, 0),
        )
        .outerjoin(
            Opportunity,
            and_(
                Opportunity.stage_id == SalesStage.id,
                is_open(),
                *(
                    [Opportunity.account_manager_id == account_manager_id]
                    if account_manager_id
                    else []
                ),
            ),
        )
        .where(~SalesStage.is_won, ~SalesStage.is_lost)
        .group_by(SalesStage.id, SalesStage.name, SalesStage.position)
        .order_by(SalesStage.position)
    )
    return [
        StageSummary(stage_id, name, count, cents(revenue), cents(weighted_sum))
        for stage_id, name, count, revenue, weighted_sum in db.session.execute(query)
    ]


def stalled_count(today: date, account_manager_id: int | None = None) -> int:
    """How many opportunities are stalled (open, no open activity due today or later):
    the next-step rule is broken."""
    query = select(func.count(Opportunity.id)).where(stalled(today))
    if account_manager_id:
        query = query.where(Opportunity.account_manager_id == account_manager_id)
    return db.session.scalar(query) or 0


class MoveRefused(ValueError):
    """The rules refuse the move; the message says why, for the person who tried."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ChangedMeanwhile(Exception):
    """Someone else changed the opportunity since this person loaded it."""


def is_forward(from_stage: SalesStage, to_stage: SalesStage) -> bool:
    return (
        not to_stage.is_closed
        and not from_stage.is_closed
        and (to_stage.position > from_stage.position)
    )


def needs_next_step(
    opportunity: Opportunity, to_stage: SalesStage, from_stage: SalesStage, today: date
) -> bool:
    """Moving forward with no next step scheduled: the person should schedule one (or skip)."""
    return is_forward(from_stage, to_stage) and next_step(opportunity.id, today) is None


# The next step's time when nothing else is known: mid-morning, half an hour.
NEXT_STEP_START = time(10, 0)
NEXT_STEP_MINUTES = 30


@dataclass(frozen=True)
class NextStepDefaults:
    """What the next-step question offers first, all editable."""

    type_id: int | None  # the stage's next-step type; None: the first in the list
    due_on: date
    start: time
    end: time


def next_step_defaults(to_stage: SalesStage, today: date) -> NextStepDefaults:
    """For a move to ``to_stage``: the stage's next-step type (when it is still offered:
    active), the next business day after today, 10:00-10:30."""
    type_id = to_stage.next_step_type_id
    if type_id is not None:
        chosen = db.session.get(ActivityType, type_id)
        type_id = chosen.id if chosen is not None and chosen.active else None
    start = datetime.combine(today, NEXT_STEP_START)
    return NextStepDefaults(
        type_id=type_id,
        due_on=first_business_day_from(today + timedelta(days=1)),
        start=NEXT_STEP_START,
        end=(start + timedelta(minutes=NEXT_STEP_MINUTES)).time(),
    )


def set_next_step_type(stage: SalesStage, type_id: int | None, *, by: Member) -> None:
    """Setup: the kind of activity a move to ``stage`` offers first (None: none chosen).
    Only an active type may be chosen; ValueError otherwise, nothing changed. A change is
    reported (the audit log records it, as it does the points table's)."""
    chosen = None
    if type_id is not None:
        chosen = db.session.get(ActivityType, type_id)
        if chosen is None or not chosen.active:
            raise ValueError("Choose an active activity type from the list.")
    if stage.next_step_type_id == type_id:
        return
    before = (
        db.session.get(ActivityType, stage.next_step_type_id) if stage.next_step_type_id else None
    )
    stage.next_step_type_id = type_id
    db.session.flush()
    events.publish(
        events.NextStepTypeChanged(
            stage_name=stage.name,
            before=before.label if before else "",
            after=chosen.label if chosen else "",
            by=by,
            at=utcnow(),
        )
    )


def move_to_stage(
    opportunity: Opportunity,
    to_stage: SalesStage,
    *,
    by: Member,
    expected_version: int,
    tz: ZoneInfo,
    lost_reason: str = "",
    won_amount: Decimal | None = None,
    won_on: date | None = None,
    cancel_open_activities: bool = True,
    checklist_confirmed: bool = False,
    now: datetime | None = None,
    stages: Sequence[SalesStage] | None = None,
) -> StageChange | None:
    """Move an opportunity to a stage and record it in the history (from, to, who, when).

    - The probability follows the new stage's default unless a person overrode it.
    - Lost needs the reason the prospect gave; the lost amount is the revenue.
    - Won closes it with the won amount (default: its revenue) on a date (default: today).
    - Won and Lost cancel its open activities (the remaining next steps: no points, kept in
      the history) unless ``cancel_open_activities`` is False (the person kept them).
    - Moving a won or lost opportunity back to an open stage reopens it (the board asks
      first); the amount won or lost it had is cleared from the opportunity and kept on
      the stage change (``former_amount``).
    - A move based on an outdated view (another version) is refused: nothing is overwritten.
    - Entering Commitment gives it its type's set-up checklist (services/checklists.py);
      Won with set-up items still open is refused unless ``checklist_confirmed`` (the person
      confirmed it), and then published (``ChecklistOverridden``: the audit log records who).
    - Lost and Won are published (``events.Lost``, ``events.Won``) once the move is
      recorded, in the same transaction: the reactions put a lost sale's contact on the
      Lost Sale track and end it when a sale is won (see services/reactions.py). A won or
      lost opportunity moved to another stage is published too (``ClosedDealMoved``: the
      audit log records it), and every move as ``StageChanged`` (webhooks hear of it).
    ``stages``: every stage of the funnel, when the caller has read them (they are not read
    again). Returns None when the opportunity already is in that stage.
    """
    if expected_version != opportunity.version:
        raise ChangedMeanwhile
    if to_stage.id == opportunity.stage_id:
        return None
    by_id = by.id  # read before changing anything: a refresh would flush half a move
    left_open: list[str] = []
    with db.session.no_autoflush:
        now = now or datetime.now(UTC)
        today = now.astimezone(tz).date()
        from_stage_id = opportunity.stage_id
        # Leaving Won or Lost: the amount it was won or lost for, which this move clears.
        former_amount = None
        if opportunity.closed_at is not None:
            former_amount = (
                opportunity.won_amount
                if opportunity.won_amount is not None
                else opportunity.lost_amount
            )

        if to_stage.is_lost:
            if not lost_reason.strip():
                raise MoveRefused(
                    "Enter the reason the prospect gave for saying no.", "lost_reason"
                )
            opportunity.status_id = status(lost=True).id
            opportunity.lost_reason = lost_reason.strip()
            opportunity.lost_amount = opportunity.revenue
            opportunity.won_amount = None
            opportunity.closed_at = now
        elif to_stage.is_won:
            left_open = checklists.open_items_if_won(opportunity)
            if left_open and not checklist_confirmed:
                count = len(left_open)
                raise MoveRefused(
                    f"{count} set-up item{' is' if count == 1 else 's are'} still open on its "
                    "Commitment checklist: confirm to mark it won anyway.",
                    "checklist_confirmed",
                )
            amount = opportunity.revenue if won_amount is None else won_amount
            if amount < 0:
                raise MoveRefused("The won amount cannot be negative.", "won_amount")
            won_on = won_on or today
            if won_on > today:
                raise MoveRefused("A sale cannot be won in the future.", "won_on")
            opportunity.status_id = status(won=True).id
            opportunity.won_amount = amount
            opportunity.lost_amount = None
            opportunity.lost_reason = ""
            opportunity.closed_at = (
                now if won_on == today else datetime.combine(won_on, time(12), tz).astimezone(UTC)
            )
        else:
            if opportunity.closed_at is not None:  # reopened
                opportunity.status_id = status().id
                opportunity.closed_at = None
                opportunity.won_amount = None
                opportunity.lost_amount = None
                opportunity.lost_reason = ""

        if not opportunity.probability_overridden:
            opportunity.probability = to_stage.default_probability
        opportunity.stage_id = to_stage.id
        opportunity.stage_entered_at = now
        opportunity.updated_by_id = by_id
    change = StageChange(
        opportunity_id=opportunity.id,
        from_stage_id=from_stage_id,
        to_stage_id=to_stage.id,
        changed_by_id=by_id,
        changed_at=now,
        former_amount=former_amount,
    )
    db.session.add(change)
    db.session.flush()
    if to_stage.is_won or checklists.is_commitment(to_stage, stages):
        checklists.give_checklist(opportunity)
    if to_stage.is_closed and cancel_open_activities:
        activities.cancel_open_activities(
            opportunity, by=by, why=f"the deal was {to_stage.name.lower()}", now=now
        )
    from_stage = db.session.get(SalesStage, from_stage_id)
    events.publish(
        events.StageChanged(
            opportunity,
            change=change,
            from_stage=from_stage.name if from_stage is not None else "",
            to_stage=to_stage.name,
            by=by,
            at=now,
        )
    )
    if to_stage.is_lost:
        events.publish(events.Lost(opportunity, by=by, at=now, today=today))
    elif to_stage.is_won:
        events.publish(events.Won(opportunity, by=by, at=now, today=today))
        if left_open:
            events.publish(events.ChecklistOverridden(opportunity, tuple(left_open), by=by, at=now))
    if from_stage is not None and from_stage.is_closed:
        events.publish(
            events.ClosedDealMoved(
                opportunity, from_stage=from_stage.name, to_stage=to_stage.name, by=by, at=now
            )
        )
    return change
