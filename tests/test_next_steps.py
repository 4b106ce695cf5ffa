"""The stored first/last open activity days always match the opportunity's activities."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from crmlite.extensions import db
from crmlite.models import Activity, ActivityStatus, Opportunity
from crmlite.services import next_steps


def computed() -> dict[int, tuple[date | None, date | None]]:
    days = {
        o: (first, last)
        for o, first, last in db.session.execute(
            select(Activity.opportunity_id, func.min(Activity.due_on), func.max(Activity.due_on))
            .where(
                Activity.status == ActivityStatus.OPEN.value, Activity.opportunity_id.is_not(None)
            )
            .group_by(Activity.opportunity_id)
        )
    }
    return {o: days.get(o, (None, None)) for o in db.session.scalars(select(Opportunity.id))}


def stored() -> dict[int, tuple[date | None, date | None]]:
    return {
        o: (first, last)
        for o, first, last in db.session.execute(
            select(
                Opportunity.id,
                Opportunity.first_open_activity_on,
                Opportunity.last_open_activity_on,
            )
        )
    }


@pytest.mark.parametrize("seed", [5, 11, 2024])
def test_stored_days_follow_every_kind_of_change(make_opportunity, make_member, seed) -> None:
    rng = random.Random(seed)
    nick = make_member()
    deals = [make_opportunity(name=f"Deal {i}") for i in range(6)]
    day0 = date(2026, 11, 2)
    ids = [d.id for d in deals]
    activities: list[Activity] = []
    for step in range(120):
        roll = rng.random()
        if roll < 0.4 or not activities:
            activity = Activity(
                subject=f"Step {step}",
                type_id=1,
                assigned_to_id=nick.id,
                due_on=day0 + timedelta(days=rng.randint(-10, 20)),
                opportunity_id=rng.choice([*ids, None]),
            )
            db.session.add(activity)
            activities.append(activity)
        elif roll < 0.6:
            rng.choice(activities).status = rng.choice(["Open", "Closed"])
        elif roll < 0.75:
            rng.choice(activities).due_on = day0 + timedelta(days=rng.randint(-10, 20))
        elif roll < 0.9:
            rng.choice(activities).opportunity_id = rng.choice([*ids, None])
        else:
            db.session.flush()
            db.session.delete(activities.pop(rng.randrange(len(activities))))
        if rng.random() < 0.3:
            db.session.commit()
            assert stored() == computed(), f"after step {step}"
    db.session.commit()
    assert stored() == computed()
    assert any(first for first, _ in stored().values())


def test_refresh_repairs_rows_written_around_the_orm(make_opportunity, make_member) -> None:
    nick = make_member()
    deal = make_opportunity()
    db.session.execute(
        text(
            "INSERT INTO activities (subject, type_id, status, assigned_to_id, due_on, phone, "
            "place, email_from, email_to, created_at, updated_at, version, opportunity_id) VALUES "
            "('Bulk', 1, 'Open', :member, '2026-12-01', '', '', '', '', :now, :now, 1, :deal)"
        ),
        {"member": nick.id, "deal": deal.id, "now": "2026-11-01 00:00:00"},
    )
    db.session.commit()
    assert stored()[deal.id] == (None, None)
    next_steps.refresh(db.session)
    db.session.commit()
    assert stored()[deal.id] == (date(2026, 12, 1), date(2026, 12, 1))
