"""The live board: a version that changes whenever any opportunity is added or changed (a
move, a win, a loss, an edit, a next step), cheap enough to be asked every few seconds by
every open board; which cards a member may move; who changed a card meanwhile."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, any_, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from crmlite.extensions import db
from crmlite.models import Member, Opportunity, SalesStage, StageChange
from crmlite.services import permissions

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _encode(latest: datetime | None, max_id: int | None) -> str:
    if latest is None:
        return "0-0"
    micros = (latest.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{max_id or 0}"


def _decode(version: str | None) -> tuple[datetime, int] | None:
    try:
        micros, max_id = (int(part) for part in (version or "").split("-"))
    except ValueError:
        return None
    if micros < 0 or max_id < 0 or micros > 10**17:
        return None
    return _EPOCH + timedelta(microseconds=micros), max_id


def _version_parts() -> tuple[Any, Any]:
    # Two scalar subqueries, so SQLite's min/max shortcut applies to each.
    latest = select(func.max(Opportunity.updated_at)).scalar_subquery()
    highest = select(func.max(Opportunity.id)).scalar_subquery()
    return latest, highest


_VERSION = select(*_version_parts())


def version() -> str:
    """The latest change to any opportunity and the highest id, as one token: one query,
    each half an index lookup."""
    row = db.session.execute(_VERSION).one()
    return _encode(row[0], row[1])


def caught_up(since: str | None, opportunity_id: int) -> str | None:
    """After this member changed ``opportunity_id``: the current version when nothing else
    changed since ``since`` (their board was current but for their own change, so it need
    not be fetched again), else None. One query."""
    decoded = _decode(since)
    if decoded is None:
        return None
    latest, max_id = decoded
    others = (
        select(func.count())
        .select_from(Opportunity)
        .where(Opportunity.updated_at > latest, Opportunity.id != opportunity_id)
        .scalar_subquery()
    )
    count, current_latest, current_max_id = db.session.execute(
        select(others, *_version_parts())
    ).one()
    if count or (current_max_id or 0) != max_id:
        return None
    return _encode(current_latest, current_max_id)


def _among(opportunity_ids: list[int]) -> ColumnElement[bool]:
    """SQL: the opportunity is one of these. On PostgreSQL the ids are one array value, so
    the statement is the same for any number of them and planned once (a list of 200 bound
    values was planned again at every rep's board: 2 ms); elsewhere a list."""
    if db.engine.dialect.name == "postgresql":
        return Opportunity.id == any_(literal(opportunity_ids, ARRAY(Integer)))
    return Opportunity.id.in_(opportunity_ids)


class Movable:
    """The cards a member may move (``opportunity.change``), asked per card by the board's
    templates: everything for a manager, else those of the cards shown that are the
    member's, read in one query for all the cards ``consider`` is given (never all of the
    member's deals: a rep may hold thousands)."""

    def __init__(self, member: Member) -> None:
        self._member = member
        self._all = permissions.allows(member, "opportunity.change")
        self._known: dict[int, bool] = {}

    @property
    def everything(self) -> bool:
        """Whether the member may move every card (a manager)."""
        return self._all

    def consider(self, opportunity_ids: Iterable[int]) -> None:
        """Find out, in one query, which of these cards not asked about yet may move."""
        if self._all:
            return
        asked = [i for i in dict.fromkeys(opportunity_ids) if i not in self._known]
        if not asked:
            return
        condition = permissions.where(self._member, "opportunity.change")
        allowed = set(db.session.scalars(select(Opportunity.id).where(_among(asked), condition)))
        self._known.update((i, i in allowed) for i in asked)

    def __contains__(self, opportunity_id: int) -> bool:
        if self._all:
            return True
        self.consider([opportunity_id])
        return self._known[opportunity_id]


@dataclass(frozen=True)
class LastChange:
    """Who last changed an opportunity, when, and whether that was a move (to which stage)."""

    by: str
    at: datetime
    moved_to: str | None


def last_change(opportunity_id: int) -> LastChange | None:
    """The latest change to the opportunity: its latest move when that is what changed it
    last (within a minute of its last update), else the update itself. Two queries."""
    opportunity = db.session.get(Opportunity, opportunity_id)
    if opportunity is None:
        return None
    updater = aliased(Member)
    mover = aliased(Member)
    move = db.session.execute(
        select(StageChange.changed_at, SalesStage.name, mover.name)
        .join(SalesStage, SalesStage.id == StageChange.to_stage_id)
        .outerjoin(mover, mover.id == StageChange.changed_by_id)
        .where(StageChange.opportunity_id == opportunity_id)
        .order_by(StageChange.changed_at.desc(), StageChange.id.desc())
        .limit(1)
    ).first()
    if move is not None and opportunity.updated_at - move[0] < timedelta(minutes=1):
        return LastChange(by=move[2] or "Someone", at=move[0], moved_to=move[1])
    name = (
        db.session.scalar(select(updater.name).where(updater.id == opportunity.updated_by_id))
        if opportunity.updated_by_id is not None
        else None
    )
    return LastChange(by=name or "Someone", at=opportunity.updated_at, moved_to=None)
