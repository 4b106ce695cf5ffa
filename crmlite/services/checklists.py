"""The Commitment checklist: a deal stays in Commitment until every piece of the project or
agreement set-up is done, then it is won (PRODUCT.md, stage 6).

- Each opportunity type has its list of set-up items, kept in Setup by managers.
- An opportunity entering Commitment (the last open stage, whatever it is called) gets its
  own copy of its type's list, once: moving out and back keeps the items and their ticks. A
  deal moved straight to Won gets it then, so the open items are asked about all the same.
- Items are ticked and unticked on the opportunity page; who ticked one and when is kept.
- Marking a deal Won while items are open needs the person to confirm it; the funnel
  publishes who did (``events.ChecklistOverridden``, recorded in the audit log).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from crmlite.extensions import db
from crmlite.models import (
    ChecklistItem,
    ChecklistTemplateItem,
    Member,
    Opportunity,
    OpportunityType,
    SalesStage,
)
from crmlite.models.documents import CHECKLIST_LABEL_LENGTH
from crmlite.services import parsing

MAX_ITEMS = 50


class ChecklistRefused(ValueError):
    """A set-up item cannot be added; the message says why."""


def is_commitment(stage: SalesStage, stages: Sequence[SalesStage] | None = None) -> bool:
    """Commitment is the last open stage of the funnel (the one before Won). ``stages``:
    every stage of the funnel, when the caller has them at hand (else they are asked for)."""
    if stage.is_closed:
        return False
    if stages is not None:
        last_open = max((s.position for s in stages if not s.is_closed), default=None)
    else:
        last_open = db.session.scalar(
            select(func.max(SalesStage.position)).where(~SalesStage.is_won, ~SalesStage.is_lost)
        )
    return stage.position == last_open


# ---------------------------------------------------------------- Setup: each type's list


def template_of(type_id: int) -> list[ChecklistTemplateItem]:
    """An opportunity type's set-up items, in order."""
    return list(
        db.session.scalars(
            select(ChecklistTemplateItem)
            .where(ChecklistTemplateItem.type_id == type_id)
            .order_by(ChecklistTemplateItem.position, ChecklistTemplateItem.id)
        )
    )


def templates() -> dict[int, list[ChecklistTemplateItem]]:
    """Every type's items, by type id: one query for the Setup page."""
    lists: dict[int, list[ChecklistTemplateItem]] = {}
    rows = db.session.scalars(
        select(ChecklistTemplateItem).order_by(
            ChecklistTemplateItem.type_id, ChecklistTemplateItem.position, ChecklistTemplateItem.id
        )
    )
    for item in rows:
        lists.setdefault(item.type_id, []).append(item)
    return lists


def add_template_item(kind: OpportunityType, label: str) -> ChecklistTemplateItem:
    """Add a set-up item at the end of the type's list: one line of text, up to 200
    characters, at most 50 items. Deals already in Commitment keep the list they got."""
    text = parsing.clean_line(label).strip()
    if not text:
        raise ChecklistRefused("Enter the set-up item, e.g. “Agreement signed and filed”.")
    if len(text) > CHECKLIST_LABEL_LENGTH:
        raise ChecklistRefused(f"Keep it to {CHECKLIST_LABEL_LENGTH} characters.")
    existing = template_of(kind.id)
    if len(existing) >= MAX_ITEMS:
        raise ChecklistRefused(f"A checklist holds at most {MAX_ITEMS} items.")
    if any(item.label.casefold() == text.casefold() for item in existing):
        raise ChecklistRefused("This item is already on the list.")
    item = ChecklistTemplateItem(
        type_id=kind.id,
        label=text,
        position=max((i.position for i in existing), default=-1) + 1,
    )
    db.session.add(item)
    db.session.flush()
    return item


def remove_template_item(item: ChecklistTemplateItem) -> None:
    """Take an item off the type's list (deals that have it keep their copy)."""
    db.session.delete(item)
    db.session.flush()


# ---------------------------------------------------------------- an opportunity's list


def items_of(opportunity_id: int) -> list[ChecklistItem]:
    """The opportunity's set-up items in order, with who ticked each: one query."""
    return list(
        db.session.scalars(
            select(ChecklistItem)
            .options(joinedload(ChecklistItem.done_by))
            .where(ChecklistItem.opportunity_id == opportunity_id)
            .order_by(ChecklistItem.position)
        )
    )


def give_checklist(opportunity: Opportunity) -> list[ChecklistItem]:
    """Copy the opportunity's type's set-up items onto it, unless it already has a list
    (or has no type). Returns the items copied."""
    if opportunity.type_id is None:
        return []
    has_items = db.session.scalar(
        select(func.count(ChecklistItem.id)).where(ChecklistItem.opportunity_id == opportunity.id)
    )
    if has_items:
        return []
    copied = [
        ChecklistItem(opportunity_id=opportunity.id, position=position, label=item.label)
        for position, item in enumerate(template_of(opportunity.type_id))
    ]
    db.session.add_all(copied)
    db.session.flush()
    return copied


def open_items(opportunity_id: int) -> list[str]:
    """The labels of the opportunity's set-up items not done yet, in order."""
    return list(
        db.session.scalars(
            select(ChecklistItem.label)
            .where(ChecklistItem.opportunity_id == opportunity_id, ChecklistItem.done_at.is_(None))
            .order_by(ChecklistItem.position)
        )
    )


def open_items_if_won(opportunity: Opportunity) -> list[str]:
    """What would still be open if it were won now: its own open items, or, when it never
    got a list (it skipped Commitment), its type's whole list."""
    has_items = db.session.scalar(
        select(func.count(ChecklistItem.id)).where(ChecklistItem.opportunity_id == opportunity.id)
    )
    if has_items or opportunity.type_id is None:
        return open_items(opportunity.id)
    return [item.label for item in template_of(opportunity.type_id)]


def find_item(opportunity_id: int, item_id: int) -> ChecklistItem | None:
    """The item, if it is on that opportunity."""
    item = db.session.get(ChecklistItem, item_id)
    if item is None or item.opportunity_id != opportunity_id:
        return None
    return item


def tick(
    opportunity: Opportunity,
    item: ChecklistItem,
    done: bool,
    *,
    by: Member,
    now: datetime | None = None,
) -> None:
    """Tick (done: who and when are kept) or untick an item of the opportunity. Ticking a
    done item again keeps who did it first. A change counts as a change of the deal (its
    "updated at / by" and version), so open boards show the card's new progress."""
    now = now or datetime.now(UTC)
    if done == (item.done_at is not None):
        return
    item.done_at = now if done else None
    item.done_by_id = by.id if done else None
    opportunity.updated_at = now
    opportunity.updated_by_id = by.id
    db.session.flush()
