"""The scoring rules of crmlite.services.points: what counts, when, for whom, and how much."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import Activity, ActivityGroup, Member, Role
from crmlite.services import activities, periods, points
from crmlite.services.periods import BadMonth, Month
from crmlite.services.points import Pace
from crmlite.services.team import get_team
from tests.conftest import activity_type

LA = ZoneInfo("America/Los_Angeles")
NOVEMBER = Month(2026, 11)
OCTOBER = Month(2026, 10)
LATE_NOVEMBER = date(2026, 11, 27)  # a Friday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture()
def closed(make_activity) -> Callable[..., Activity]:
    """``closed(member, "SA", at)``: an activity closed at that moment, earning the type's
    current points (as "Done" would), or ``points`` when given."""

    def make(member: Member, code: str, at: datetime, points: int | None = None) -> Activity:
        activity = make_activity(member, f"{code} work", code=code, due_on=at.date())
        activities.close_activity(activity, by=member, now=at)
        if points is not None:
            activity.points_earned = points
        db.session.commit()
        return activity

    return make


def everyone() -> list[Member]:
    return list(db.session.scalars(select(Member).order_by(Member.id)))


def summary(member: Member, month: Month = NOVEMBER, today: date = LATE_NOVEMBER):
    return points.member_month(member, month, tz=LA, team=get_team(), today=today)


def line(member_month: points.MemberMonth, code: str) -> points.TypeLine:
    return next(line for line in member_month.lines if line.code == code)


# -- what counts -----------------------------------------------------------------------------


def test_only_closed_activities_earn_points(make_member, make_activity, closed) -> None:
    nick = make_member(name="Nick Points")
    make_activity(nick, "Still open", code="SA", due_on=date(2026, 11, 5))
    closed(nick, "SA", utc(2026, 11, 5, 18))
    result = summary(nick)
    assert (line(result, "SA").count, line(result, "SA").points) == (1, 10)
    assert result.points == 10


def test_a_reopened_activity_earns_nothing_until_it_closes_again(make_member, closed) -> None:
    nick = make_member()
    done = closed(nick, "TBR", utc(2026, 11, 5, 18))
    assert summary(nick).points == 20
    activities.reopen_activity(done, by=nick)
    db.session.commit()
    assert summary(nick).points == 0


def test_points_count_in_the_month_closed_in_the_team_time_zone(make_member, closed) -> None:
    nick = make_member()
    # 1 November 2026 begins at 07:00 UTC in Los Angeles (still daylight time, UTC-7).
    closed(nick, "SA", utc(2026, 11, 1, 6, 30))  # Sat 31 Oct, 11:30 pm in Los Angeles
    closed(nick, "DM", utc(2026, 11, 1, 7, 30))  # Sun 1 Nov, 12:30 am
    # 1 December begins at 08:00 UTC (standard time, UTC-8).
    closed(nick, "PA", utc(2026, 12, 1, 7, 59))  # Mon 30 Nov, 11:59 pm
    closed(nick, "CC", utc(2026, 12, 1, 8, 0))  # Tue 1 Dec, midnight
    assert summary(nick, OCTOBER).points == 10
    assert [(x.code, x.count) for x in summary(nick).lines if x.count] == [("DM", 1), ("PA", 1)]
    assert summary(nick).points == 12 + 14
    assert summary(nick, Month(2026, 12)).points == 15


def test_the_team_time_zone_decides_the_month(make_member, closed) -> None:
    nick = make_member()
    closed(nick, "SA", utc(2026, 10, 31, 23, 30))  # already 1 November in Paris
    paris = ZoneInfo("Europe/Paris")
    team = get_team()
    in_paris = points.member_month(nick, NOVEMBER, tz=paris, team=team, today=LATE_NOVEMBER)
    in_la = points.member_month(nick, NOVEMBER, tz=LA, team=team, today=LATE_NOVEMBER)
    assert (in_paris.points, in_la.points) == (10, 0)
    assert periods.month_of(utc(2026, 10, 31, 23, 30), paris) == NOVEMBER


def test_a_changed_point_value_rewrites_no_history(make_member, closed) -> None:
    nick = make_member()
    closed(nick, "SA", utc(2026, 10, 20, 18))
    closed(nick, "SA", utc(2026, 11, 3, 18))
    appointment = activity_type("SA")
    appointment.points = 25
    db.session.commit()
    closed(nick, "SA", utc(2026, 11, 20, 18))

    assert summary(nick, OCTOBER).points == 10  # last month prints the same
    sa = line(summary(nick), "SA")
    assert (sa.count, sa.points, sa.points_each) == (2, 35, "10–25")
    # A line with nothing done shows the type's value today.
    assert line(summary(nick, Month(2026, 9)), "SA").points_each == "25"


def test_points_go_to_the_member_the_activity_is_assigned_to(
    make_member, closed, make_activity
) -> None:
    nick, cory = make_member(name="Nick"), make_member(name="Cory")
    done = closed(nick, "TBR", utc(2026, 11, 10, 18))
    done.assigned_to_id = cory.id  # reassigned after it closed (edit form)
    db.session.commit()
    assert (summary(nick).points, summary(cory).points) == (0, 20)
    # Reassigned while open, then closed by someone else: the assignee earns it.
    call = make_activity(nick, "Call", code="CC", due_on=date(2026, 11, 12))
    activities.reassign([call.id], to=cory, by=nick)
    activities.close_activity(call, by=nick, now=utc(2026, 11, 12, 18))
    db.session.commit()
    assert (summary(nick).points, summary(cory).points) == (0, 35)


def test_a_deactivated_type_still_counts(make_member, closed) -> None:
    nick = make_member()
    closed(nick, "WOW", utc(2026, 11, 10, 18))
    points.set_type_active(activity_type("WOW"), False, by=nick)
    db.session.commit()
    wow = line(summary(nick), "WOW")
    assert (wow.count, wow.points, wow.active, wow.recommended) == (1, 10, False, 0)
    assert summary(nick).points == 10
    # ...and, with nothing done in a month, no line for it.
    assert "WOW" not in [x.code for x in summary(nick, OCTOBER).lines]
    assert summary(nick, OCTOBER).target == 644 - 20


def test_a_type_in_use_cannot_be_deleted_and_an_unused_one_can(make_member, closed) -> None:
    nick = make_member()
    closed(nick, "WOW", utc(2026, 11, 10, 18))
    with pytest.raises(points.TypeInUse):
        points.delete_activity_type(activity_type("WOW"), by=nick)
    db.session.rollback()
    spare = points.save_activity_type(
        None,
        code="xx",
        name="Spare",
        group=ActivityGroup.PROACTIVE,
        points=1,
        monthly_count=0,
        active=True,
        by=nick,
    )
    assert spare.code == "XX"
    points.delete_activity_type(spare, by=nick)
    db.session.commit()
    assert points.code_taken("XX") is False
    assert summary(nick).points == 10


def test_stored_points_are_what_counts(make_member, closed) -> None:
    """The figure stored at closing is the one summed, whatever the type says now."""
    nick = make_member()
    closed(nick, "SA", utc(2026, 11, 10, 18), points=7)
    assert line(summary(nick), "SA").points == 7


# -- the table and the quota -----------------------------------------------------------------


def test_the_defaults_total_644_against_a_quota_of_500(make_member) -> None:
    nick = make_member()
    types = [t for t in db.session.query(points.ActivityType)]
    assert points.monthly_target(types) == 644
    result = summary(nick)
    assert (result.target, result.quota, result.points, result.attained) == (644, 500, 0, 0)
    assert [g.group for g in result.groups] == list(ActivityGroup)
    assert [len(g.lines) for g in result.groups] == [5, 4, 5, 8]  # 21 types and E-mail
    assert sum(x.recommended * int(x.points_each) for x in result.lines) == 644


def test_doing_the_whole_plan_earns_644_that_is_129_percent(make_member, closed) -> None:
    nick = make_member()
    moment = utc(2026, 11, 16, 18)
    for t in db.session.query(points.ActivityType):
        for _ in range(t.monthly_count):
            closed(nick, t.code, moment)
    result = summary(nick)
    assert (result.points, result.count, result.gap) == (644, 96, 0)
    assert result.attained == 129  # 128.8 rounded
    funnel = result.groups[0]
    assert (funnel.label, funnel.count, funnel.points) == ("Sales funnel stages", 35, 234)


def test_a_member_quota_overrides_the_team_quota(make_member) -> None:
    cory = make_member(points_quota=400)
    nick = make_member()
    assert (summary(cory).quota, summary(nick).quota) == (400, 500)


def test_a_changed_quota_applies_from_its_month_on(make_member, closed) -> None:
    nick = make_member()
    cory = make_member(points_quota=400)
    closed(nick, "TBR", utc(2026, 10, 10, 18))
    team = get_team()
    # In December the team's quota goes to 600 and Cory's override is dropped.
    december = date(2026, 12, 2)
    points.record_quota_change(member=None, team=team, new_quota=600, today=december, by=nick)
    team.points_quota = 600
    points.record_quota_change(member=cory, team=team, new_quota=None, today=december, by=nick)
    cory.points_quota = None
    # A second change in the same month keeps what the months before had.
    points.record_quota_change(member=None, team=team, new_quota=650, today=december, by=nick)
    team.points_quota = 650
    db.session.commit()

    def quotas(month: Month) -> tuple[int, int]:
        found = points.quotas_for([nick, cory], month, team)
        return found[nick.id], found[cory.id]

    assert quotas(OCTOBER) == (500, 400)
    assert quotas(NOVEMBER) == (500, 400)
    assert quotas(Month(2026, 12)) == (650, 650)
    assert summary(nick, OCTOBER).attained == 4  # 20 of 500


def test_attainment_is_a_whole_percent_rounded_half_up() -> None:
    assert points.attainment(25, 1000) == 3  # 2.5 (round() would say 2)
    assert points.attainment(501, 1000) == 50
    assert points.attainment(644, 500) == 129
    assert points.attainment(0, 500) == 0
    assert points.attainment(10, 0) == 0


# -- pace ------------------------------------------------------------------------------------


def test_working_days_and_pace() -> None:
    assert len(NOVEMBER.working_days()) == 21
    assert points.expected_points(500, NOVEMBER, date(2026, 11, 1)) == 0  # a Sunday
    assert points.expected_points(500, NOVEMBER, date(2026, 11, 2)) == 24  # 500/21
    assert points.expected_points(500, NOVEMBER, LATE_NOVEMBER) == 476  # 20 of 21 days
    assert points.expected_points(500, NOVEMBER, date(2026, 11, 29)) == 476  # the weekend
    assert points.expected_points(500, NOVEMBER, date(2026, 11, 30)) == 500
    assert points.expected_points(500, OCTOBER, LATE_NOVEMBER) == 500  # a past month
    assert points.expected_points(500, Month(2026, 12), LATE_NOVEMBER) == 0  # a future one
    assert points.pace(477, 476) is Pace.AHEAD
    assert points.pace(476, 476) is Pace.ON_PACE
    assert points.pace(10, 476) is Pace.BEHIND


# -- the team --------------------------------------------------------------------------------


def test_team_standings_rank_by_quota_attained(make_member, closed) -> None:
    ann = make_member(name="Ann")  # 20 of 500
    bob = make_member(name="Bob", points_quota=100)  # 20 of 100: ahead of Ann
    cat = make_member(name="Cat", role=Role.MANAGER)  # 20 of 500, ties with Ann
    make_member(name="Dan")  # nothing
    gone = make_member(name="Eve", active=False)  # left, but earned points this month
    make_member(name="Fay", active=False)  # left, earned nothing: not shown
    for member in (ann, bob, cat, gone):
        closed(member, "TBR", utc(2026, 11, 10, 18))
    standings = points.team_standings(NOVEMBER, tz=LA, team=get_team(), today=LATE_NOVEMBER)
    assert [(s.rank, s.name, s.points, s.quota, s.attained) for s in standings] == [
        (1, "Bob", 20, 100, 20),
        (2, "Ann", 20, 500, 4),
        (2, "Cat", 20, 500, 4),
        (2, "Eve", 20, 500, 4),
        (5, "Dan", 0, 500, 0),
    ]
    bob_row = standings[0]
    assert (bob_row.expected, bob_row.ahead_by, bob_row.pace) == (95, -75, Pace.BEHIND)


def test_summaries_of_many_members_take_the_same_queries(make_member, closed, queries) -> None:
    few = [make_member() for _ in range(2)]
    for member in few:
        closed(member, "SA", utc(2026, 11, 10, 18))
    team, few = get_team(), everyone()
    with queries() as counted_few:
        points.member_months(few, NOVEMBER, tz=LA, team=team, today=LATE_NOVEMBER)
    for member in [*few, *(make_member() for _ in range(20))]:
        closed(member, "DM", utc(2026, 11, 11, 18))
    team, many = get_team(), everyone()
    with queries() as counted_many:
        result = points.member_months(many, NOVEMBER, tz=LA, team=team, today=LATE_NOVEMBER)
    assert len(many) == 22
    assert [r.points for r in result[:3]] == [22, 22, 12]
    assert counted_many.count == counted_few.count == 3


# -- months ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-13", "Months run from 01 to 12."),
        ("2024-00", "Months run from 01 to 12."),
        ("abc", "write it as YYYY-MM"),
        ("2024-1-1", "write it as YYYY-MM"),
        ("0999-01", "between 1900 and 2199"),
    ],
)
def test_bad_months_say_why(text: str, message: str) -> None:
    with pytest.raises(BadMonth, match=message):
        Month.parse(text)


def test_months() -> None:
    assert Month.parse(" 2026-11 ") == NOVEMBER
    assert Month.parse("2026-2") == Month(2026, 2)
    assert (NOVEMBER.label, NOVEMBER.key, str(NOVEMBER)) == ("November 2026", "2026-11", "2026-11")
    assert (NOVEMBER.first_day, NOVEMBER.last_day) == (date(2026, 11, 1), date(2026, 11, 30))
    assert (Month(2026, 12).next(), Month(2026, 1).previous()) == (Month(2027, 1), Month(2025, 12))
    assert Month(2199, 12).next() is None and Month(1900, 1).previous() is None
    assert NOVEMBER.bounds(LA) == (utc(2026, 11, 1, 7), utc(2026, 12, 1, 8))
    assert OCTOBER < NOVEMBER
