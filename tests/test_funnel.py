"""Stage rules: probability defaults, Lost needs a reason, Won amount, history, versions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import StageChange
from crmlite.services import funnel
from tests.conftest import stage, status

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)  # Mon 2026-11-02 10:00 in Bakersfield


def history(opportunity_id: int) -> list[tuple[str | None, str, int | None]]:
    rows = db.session.scalars(
        select(StageChange)
        .where(StageChange.opportunity_id == opportunity_id)
        .order_by(StageChange.id)
    )
    names = {s.id: s.name for s in db.session.scalars(select(type(stage("Won"))))}
    return [(names.get(r.from_stage_id), names[r.to_stage_id], r.changed_by_id) for r in rows]


def test_move_records_history_and_takes_the_stage_probability(
    make_opportunity, make_member
) -> None:
    nick = make_member(name="Nick Points")
    opportunity = make_opportunity(stage_name="Prospect")
    assert opportunity.probability == 10
    change = funnel.move_to_stage(
        opportunity, stage("Discovery"), by=nick, expected_version=1, tz=LA, now=NOW
    )
    db.session.commit()
    assert change is not None and change.changed_at == NOW
    assert opportunity.probability == 60
    assert opportunity.stage_entered_at == NOW
    assert opportunity.updated_by_id == nick.id
    assert opportunity.version == 2
    assert history(opportunity.id) == [("Prospect", "Discovery", nick.id)]


def test_an_overridden_probability_stays(make_opportunity, make_member) -> None:
    nick = make_member()
    opportunity = make_opportunity(probability=35, probability_overridden=True)
    funnel.move_to_stage(opportunity, stage("Presentation"), by=nick, expected_version=1, tz=LA)
    assert opportunity.probability == 35


def test_lost_needs_a_reason_and_records_the_amount(make_opportunity, make_member) -> None:
    nick = make_member()
    opportunity = make_opportunity(stage_name="Presentation", revenue="6200.00")
    with pytest.raises(funnel.MoveRefused, match="reason"):
        funnel.move_to_stage(
            opportunity, stage("Lost"), by=nick, expected_version=1, tz=LA, lost_reason="  "
        )
    db.session.rollback()
    assert opportunity.stage_id == stage("Presentation").id
    funnel.move_to_stage(
        opportunity,
        stage("Lost"),
        by=nick,
        expected_version=1,
        tz=LA,
        lost_reason=" Chose the incumbent ",
        now=NOW,
    )
    db.session.commit()
    assert opportunity.status_id == status("Lost").id
    assert opportunity.lost_reason == "Chose the incumbent"
    assert opportunity.lost_amount == Decimal("6200.00")
    assert opportunity.closed_at == NOW
    assert opportunity.probability == 0


def test_won_defaults_to_the_revenue_and_today(make_opportunity, make_member) -> None:
    nick = make_member()
    opportunity = make_opportunity(stage_name="Commitment", revenue="2895.00")
    funnel.move_to_stage(opportunity, stage("Won"), by=nick, expected_version=1, tz=LA, now=NOW)
    db.session.commit()
    assert opportunity.status_id == status("Won").id
    assert opportunity.won_amount == Decimal("2895.00")
    assert opportunity.closed_at == NOW
    assert opportunity.probability == 100


def test_won_on_an_earlier_day_with_another_amount(make_opportunity, make_member) -> None:
    nick = make_member()
    opportunity = make_opportunity(stage_name="Commitment", revenue="3000.00")
    funnel.move_to_stage(
        opportunity,
        stage("Won"),
        by=nick,
        expected_version=1,
        tz=LA,
        won_amount=Decimal("2500.00"),
        won_on=date(2026, 10, 31),
        now=NOW,
    )
    assert opportunity.won_amount == Decimal("2500.00")
    # Credited to 31 October in the team's time zone (noon there).
    assert opportunity.closed_at.astimezone(LA).date() == date(2026, 10, 31)


@pytest.mark.parametrize(
    ("amount", "won_on", "field"),
    [(Decimal("-1"), None, "won_amount"), (None, date(2026, 11, 3), "won_on")],
)
def test_won_refuses_negative_amounts_and_future_dates(
    make_opportunity, make_member, amount, won_on, field
) -> None:
    nick = make_member()
    opportunity = make_opportunity(stage_name="Commitment")
    with pytest.raises(funnel.MoveRefused) as refused:
        funnel.move_to_stage(
            opportunity,
            stage("Won"),
            by=nick,
            expected_version=1,
            tz=LA,
            won_amount=amount,
            won_on=won_on,
            now=NOW,
        )
    assert refused.value.field == field


def test_reopening_a_won_opportunity_clears_the_win(make_opportunity, make_member) -> None:
    nick = make_member()
    opportunity = make_opportunity(stage_name="Commitment")
    funnel.move_to_stage(opportunity, stage("Won"), by=nick, expected_version=1, tz=LA)
    funnel.move_to_stage(opportunity, stage("Commitment"), by=nick, expected_version=2, tz=LA)
    db.session.commit()
    assert opportunity.status_id == status("Open").id
    assert opportunity.closed_at is None and opportunity.won_amount is None
    assert [h[1] for h in history(opportunity.id)] == ["Won", "Commitment"]


def test_a_move_from_an_old_version_is_refused(make_opportunity, make_member) -> None:
    nick = make_member()
    opportunity = make_opportunity()
    funnel.move_to_stage(opportunity, stage("Discovery"), by=nick, expected_version=1, tz=LA)
    db.session.commit()
    with pytest.raises(funnel.ChangedMeanwhile):
        funnel.move_to_stage(opportunity, stage("Lost"), by=nick, expected_version=1, tz=LA)
    assert opportunity.stage_id == stage("Discovery").id


def test_moving_to_the_same_stage_changes_nothing(make_opportunity, make_member) -> None:
    opportunity = make_opportunity()
    assert (
        funnel.move_to_stage(
            opportunity, stage("Prospect"), by=make_member(), expected_version=1, tz=LA
        )
        is None
    )
    assert history(opportunity.id) == []


def test_next_step_is_the_earliest_open_activity_from_today(
    make_opportunity, make_member, make_activity
) -> None:
    nick = make_member()
    opportunity = make_opportunity()
    today = date(2026, 11, 2)
    make_activity(nick, "Missed", due_on=today - timedelta(days=1), opportunity_id=opportunity.id)
    make_activity(nick, "Done", due_on=today, closed=True, opportunity_id=opportunity.id)
    later = make_activity(
        nick, "Later", due_on=today + timedelta(days=5), opportunity_id=opportunity.id
    )
    soon = make_activity(
        nick, "Soon", due_on=today + timedelta(days=1), opportunity_id=opportunity.id
    )
    assert funnel.next_step(opportunity.id, today).id == soon.id
    assert funnel.stalled_count(today) == 0
    soon.status = "Closed"
    later.status = "Closed"
    db.session.commit()
    assert funnel.next_step(opportunity.id, today) is None
    assert funnel.stalled_count(today) == 1


def test_forward_moves_without_a_next_step_need_one(make_opportunity, make_member) -> None:
    opportunity = make_opportunity(stage_name="Discovery")
    today = date(2026, 11, 2)
    assert funnel.needs_next_step(opportunity, stage("Presentation"), stage("Discovery"), today)
    assert not funnel.needs_next_step(opportunity, stage("Prospect"), stage("Discovery"), today)
    assert not funnel.needs_next_step(opportunity, stage("Won"), stage("Discovery"), today)
    assert not funnel.needs_next_step(opportunity, stage("Lost"), stage("Discovery"), today)
