"""The list of stalled opportunities by account manager (the rule itself is
``next_steps.stalled``: open, with no open activity due today or later)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import groupby
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crmlite.extensions import db
from crmlite.models import Member, Opportunity
from crmlite.services.next_steps import stalled


@dataclass(frozen=True)
class StalledOpportunity:
    opportunity: Opportunity
    days_in_stage: int


@dataclass(frozen=True)
class StalledGroup:
    account_manager: Member | None
    opportunities: list[StalledOpportunity]


def stalled_by_account_manager(
    today: date, tz: ZoneInfo, account_manager_id: int | None = None
) -> list[StalledGroup]:
    """Open opportunities without a next step (no open activity due today or later),
    grouped by account manager (by name; unassigned last), longest in their stage first.
    One query whatever their number."""
    query = (
        select(Opportunity)
        .outerjoin(Member, Member.id == Opportunity.account_manager_id)
        .where(stalled(today))
        .options(
            joinedload(Opportunity.account_manager),
            joinedload(Opportunity.stage),
            joinedload(Opportunity.company),
        )
        .order_by(
            Member.name.is_(None),
            Member.name,
            Member.id,
            Opportunity.stage_entered_at,
            Opportunity.id,
        )
    )
    if account_manager_id is not None:
        query = query.where(Opportunity.account_manager_id == account_manager_id)
    rows = list(db.session.scalars(query).unique())
    groups = []
    for manager_id, items in groupby(rows, key=lambda o: o.account_manager_id):
        opportunities = list(items)
        groups.append(
            StalledGroup(
                account_manager=opportunities[0].account_manager if manager_id else None,
                opportunities=[
                    StalledOpportunity(o, (today - o.stage_entered_at.astimezone(tz).date()).days)
                    for o in opportunities
                ],
            )
        )
    return groups
