"""What happened, and who reacts: publish calls the handlers of exactly that event's type, in
order, in the caller's transaction; the services publish Won, Lost, NewProspect and
ActivityDone; the app subscribes the track reactions once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import Activity, Member, Opportunity, Role, TrackEnrollment
from crmlite.services import activities, events, funnel, opportunities, reactions
from tests.conftest import stage

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 3, 2, 17, tzinfo=UTC)


@pytest.fixture()
def heard() -> Iterator[Callable[[type[Any]], list[Any]]]:
    """``received = heard(events.Won)``: the events of that type published from now on."""
    subscribed: list[tuple[type[Any], Callable[[Any], None]]] = []

    def listen(event_type: type[Any]) -> list[Any]:
        received: list[Any] = []
        subscribed.append((event_type, received.append))
        events.subscribe(event_type, received.append)
        return received

    yield listen
    for event_type, handler in subscribed:
        events.unsubscribe(event_type, handler)


def test_publish_calls_the_handlers_of_that_type_in_order() -> None:
    calls: list[str] = []

    def first(event: events.Won) -> None:
        calls.append("first")

    def second(event: events.Won) -> None:
        calls.append("second")

    def other(event: events.Lost) -> None:
        calls.append("lost")

    won = events.Won(Opportunity(), by=Member(), at=NOW, today=date(2026, 3, 2))
    try:
        events.subscribe(events.Won, first)
        events.subscribe(events.Won, second)
        events.subscribe(events.Won, first)  # again: still called once
        events.subscribe(events.Lost, other)
        events.publish(won)
        assert calls == ["first", "second"]
        events.unsubscribe(events.Won, first)
        events.publish(won)
        assert calls == ["first", "second", "second"]
    finally:
        for event_type, handler in [(events.Won, second), (events.Lost, other)]:
            events.unsubscribe(event_type, handler)


def test_the_app_subscribes_the_reactions_once(app) -> None:
    reactions.register()  # as a second app made in the same process does
    assert events._handlers[events.NewProspect].count(reactions.enroll_new_prospect) == 1
    assert events._handlers[events.Lost].count(reactions.enroll_lost_sale) == 1
    assert events._handlers[events.Won].count(reactions.end_lost_sale) == 1


def test_a_new_opportunity_is_a_new_prospect(app, make_member, heard) -> None:
    received = heard(events.NewProspect)
    nick = make_member(name="Nick Points")
    opportunity = opportunities.create_opportunity(
        name="Tows R Us - Managed Services", by=nick, contact_name="Shane Swanson", now=NOW, tz=LA
    )
    assert received == [events.NewProspect(opportunity, by=nick, at=NOW, today=date(2026, 3, 2))]
    # The reaction ran in the same transaction: the contact is on General Interest.
    assert db.session.scalars(
        select(TrackEnrollment).where(TrackEnrollment.opportunity_id == opportunity.id)
    ).one()


def test_won_and_lost_are_published_by_the_move(app, make_member, make_opportunity, heard) -> None:
    won, lost = heard(events.Won), heard(events.Lost)
    cory = make_member(role=Role.MANAGER)
    deal = make_opportunity(name="Deal", stage_name="Presentation")
    other = make_opportunity(name="Other", stage_name="Presentation")
    funnel.move_to_stage(deal, stage("Won"), by=cory, expected_version=deal.version, tz=LA, now=NOW)
    funnel.move_to_stage(
        other,
        stage("Lost"),
        by=cory,
        expected_version=other.version,
        tz=LA,
        lost_reason="Price",
        now=NOW,
    )
    funnel.move_to_stage(
        deal, stage("Discovery"), by=cory, expected_version=deal.version, tz=LA, now=NOW
    )  # reopening publishes nothing
    assert won == [events.Won(deal, by=cory, at=NOW, today=date(2026, 3, 2))]
    assert lost == [events.Lost(other, by=cory, at=NOW, today=date(2026, 3, 2))]


def test_done_is_published_once(app, make_member, make_activity, heard) -> None:
    done = heard(events.ActivityDone)
    nick = make_member()
    activity: Activity = make_activity(nick, "Call")
    activities.close_activity(activity, by=nick, now=NOW)
    activities.close_activity(activity, by=nick, now=NOW)  # already done: nothing happens
    assert done == [events.ActivityDone(activity, by=nick, at=NOW)]


def test_a_failing_reaction_fails_the_change(app, make_member, make_opportunity) -> None:
    cory = make_member(role=Role.MANAGER)
    deal = make_opportunity(name="Deal", stage_name="Presentation")

    def broken(event: events.Won) -> None:
        raise RuntimeError("the reaction failed")

    events.subscribe(events.Won, broken)
    try:
        with pytest.raises(RuntimeError):
            funnel.move_to_stage(
                deal, stage("Won"), by=cory, expected_version=deal.version, tz=LA, now=NOW
            )
    finally:
        events.unsubscribe(events.Won, broken)
    db.session.rollback()
    assert db.session.get(Opportunity, deal.id).stage_id == stage("Presentation").id
