"""The dashboard's rules, with figures computed by hand: attainment by member (PRODUCT.md's
example to the cell), month and year boundaries in the team's time zone, locations and a
member who moved, a win reopened, the margin basis, the forecast, the funnel from the stage
history, and hygiene."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crmlite.extensions import db
from crmlite.models import BusinessUnit, Location, Member, Opportunity, StageChange
from crmlite.services import (
    attainment,
    deal_lists,
    forecast,
    funnel,
    funnel_health,
    hygiene,
    quotas,
)
from crmlite.services.attainment import Attainment
from crmlite.services.funnel_health import Period
from crmlite.services.money import whole_percent
from crmlite.services.wins import NO_MANAGER, Basis
from tests.conftest import stage

LA = ZoneInfo("America/Los_Angeles")
D = Decimal


def at(year: int, month: int, day: int, hour: int = 12, tz: ZoneInfo = LA) -> datetime:
    """A moment, local to the team (Los Angeles) unless said otherwise, as UTC."""
    return datetime(year, month, day, hour, tzinfo=tz).astimezone(UTC)


@pytest.fixture()
def win(make_opportunity: Callable[..., Opportunity]) -> Callable[..., Opportunity]:
    """``win(member, amount, moment, **fields)``: an opportunity won at that moment."""

    def make(member: Member | None, amount: str, moment: datetime, **fields: Any) -> Opportunity:
        fields.setdefault("won_amount", D(amount))
        return make_opportunity(
            f"Won {amount} on {moment:%Y-%m-%d %H:%M}",
            "Won",
            fields.pop("revenue", amount),
            account_manager_id=member.id if member else None,
            closed_at=moment,
            **fields,
        )

    return make


def figures(att: Attainment) -> tuple[Decimal, Decimal | None, int | None]:
    return att.total, att.quota, att.percent


# ---------------------------------------------------------------- percentages


def test_percent_is_a_whole_percent_rounded_half_up() -> None:
    assert whole_percent(D("2895"), D("4000")) == 72  # 72.375
    assert whole_percent(D("1010"), D("2000")) == 51  # 50.5: half up, not to even
    assert whole_percent(D("1030"), D("2000")) == 52  # 51.5
    assert whole_percent(D("1009.99"), D("2000")) == 50  # 50.4995
    assert whole_percent(D("0"), D("4000")) == 0
    assert whole_percent(D("100"), None) is None
    assert whole_percent(D("100"), D("0")) is None


# ---------------------------------------------------------------- PRODUCT.md's example


@pytest.fixture()
def cory(make_member: Callable[..., Member], win: Callable[..., Opportunity]) -> Member:
    """Cory: 4,000 a month in 2025; 48,861 won by the end of October, 2,895 of it in
    October (two deals), nothing in November and December."""
    member = make_member(name="Cory Ferguson")
    quotas.same_every_month(member, 2025, D("4000"))
    for amount, moment in [
        ("20000.00", at(2025, 1, 20)),
        ("15000.00", at(2025, 3, 3)),
        ("10966.00", at(2025, 6, 30)),
        ("2000.00", at(2025, 10, 1, 0)),  # the first moment of October, local
        ("895.00", at(2025, 10, 31, 23)),
    ]:
        win(member, amount, moment)
    db.session.commit()
    return member


def test_product_example_every_cell(cory: Member) -> None:
    summary = attainment.quarter_by_member(2025, 4, LA)
    assert summary.months == [10, 11, 12]
    assert [r.name for r in summary.members] == ["Cory Ferguson"]
    row = summary.members[0]
    assert [figures(m) for m in row.months] == [
        (D("2895.00"), D("4000.00"), 72),
        (D("0.00"), D("4000.00"), 0),
        (D("0.00"), D("4000.00"), 0),
    ]
    assert figures(row.quarter) == (D("2895.00"), D("12000.00"), 24)  # 24.125
    assert [figures(y) for y in row.ytd] == [
        (D("48861.00"), D("40000.00"), 122),
        (D("48861.00"), D("44000.00"), 111),
        (D("48861.00"), D("48000.00"), 102),
    ]
    # One member: the Monthly Totals and YTD rows repeat the member's figures.
    assert [figures(m) for m in summary.monthly_totals] == [figures(m) for m in row.months]
    assert [figures(y) for y in summary.ytd_totals] == [figures(y) for y in row.ytd]
    assert figures(summary.quarter_total) == (D("2895.00"), D("12000.00"), 24)


def test_ytd_of_an_earlier_quarter(cory: Member) -> None:
    row = attainment.quarter_by_member(2025, 1, LA).members[0]
    assert [figures(m) for m in row.months] == [
        (D("20000.00"), D("4000.00"), 500),
        (D("0.00"), D("4000.00"), 0),
        (D("15000.00"), D("4000.00"), 375),
    ]
    assert [figures(y) for y in row.ytd] == [
        (D("20000.00"), D("4000.00"), 500),
        (D("20000.00"), D("8000.00"), 250),
        (D("35000.00"), D("12000.00"), 292),  # 291.67
    ]


def test_monthly_totals_add_up_members_with_a_quota_and_show_the_others_apart(
    cory: Member, make_member: Callable[..., Member], win: Callable[..., Opportunity]
) -> None:
    manny = make_member(name="Manny Martinez")
    quotas.set_year_quotas(manny, 2025, {10: D("1000"), 11: D("1000")})
    win(manny, "1500.00", at(2025, 10, 15))
    win(None, "100.00", at(2025, 11, 2))
    db.session.commit()
    summary = attainment.quarter_by_member(2025, 4, LA)
    assert [r.name for r in summary.members] == [
        "Cory Ferguson",
        "Manny Martinez",
        NO_MANAGER,
    ]
    unassigned = summary.members[2]
    assert figures(unassigned.months[1]) == (D("100.00"), None, None)
    manny_row = summary.members[1]
    assert figures(manny_row.months[2]) == (D("0.00"), None, None)  # no December quota
    assert figures(manny_row.ytd[2]) == (D("1500.00"), D("2000.00"), 75)
    assert [figures(m) for m in summary.monthly_totals] == [
        (D("4395.00"), D("5000.00"), 88),  # 87.9
        # The 100 won by no account manager has no quota: not counted, shown apart.
        (D("0.00"), D("5000.00"), 0),
        (D("0.00"), D("4000.00"), 0),
    ]
    assert summary.not_counted[1] == attainment.NotCounted(1, D("100.00"))
    # 100.72: the YTD of no account manager (no quota) is not counted either.
    assert figures(summary.ytd_totals[2]) == (D("50361.00"), D("50000.00"), 101)


def test_one_members_view(cory: Member, make_member: Callable[..., Member], win) -> None:
    manny = make_member(name="Manny Martinez")
    win(manny, "1500.00", at(2025, 10, 15))
    db.session.commit()
    summary = attainment.quarter_by_member(2025, 4, LA, member_id=manny.id)
    assert [r.name for r in summary.members] == ["Manny Martinez"]
    # Without a quota nothing counts towards the totals; the win is shown apart.
    assert figures(summary.monthly_totals[0]) == (D("0.00"), None, None)
    assert summary.not_counted[0] == attainment.NotCounted(1, D("1500.00"))


# ---------------------------------------------------------------- time zone boundaries


def test_months_and_years_end_at_midnight_in_the_teams_time_zone(
    make_member: Callable[..., Member], win: Callable[..., Opportunity]
) -> None:
    nick = make_member(name="Nick Points")
    # 2026-01-01 05:00 UTC is 21:00 on New Year's Eve in Los Angeles: December 2025.
    win(nick, "700.00", datetime(2026, 1, 1, 5, tzinfo=UTC))
    # 08:00 UTC is midnight in Los Angeles: January 2026.
    win(nick, "300.00", datetime(2026, 1, 1, 8, tzinfo=UTC))
    # Daylight saving time: 2025-10-01 06:59 UTC is still September 30 in Los Angeles.
    win(nick, "50.00", datetime(2025, 10, 1, 6, 59, tzinfo=UTC))
    win(nick, "20.00", datetime(2025, 10, 1, 7, 0, tzinfo=UTC))
    db.session.commit()

    q4 = attainment.quarter_by_member(2025, 4, LA).members[0]
    assert [m.total for m in q4.months] == [D("20.00"), D("0.00"), D("700.00")]
    assert q4.ytd[2].total == D("770.00")
    q3 = attainment.quarter_by_member(2025, 3, LA).members[0]
    assert q3.months[2].total == D("50.00")
    q1 = attainment.quarter_by_member(2026, 1, LA).members[0]
    assert q1.months[0].total == D("300.00")
    assert q1.ytd[0].total == D("300.00")  # the New Year's Eve deal is last year's

    # The same moments seen from Paris: 05:00 and 08:00 UTC are both January 1.
    paris = attainment.quarter_by_member(2026, 1, ZoneInfo("Europe/Paris")).members[0]
    assert paris.months[0].total == D("1000.00")


# ---------------------------------------------------------------- won, then reopened


def test_a_win_reopened_no_longer_counts(
    make_member: Callable[..., Member], make_opportunity: Callable[..., Opportunity]
) -> None:
    cory = make_member(name="Cory Ferguson")
    quotas.set_year_quotas(cory, 2025, {10: D("4000")})
    deal = make_opportunity(
        "Tows R Us - Managed Services - Complete",
        "Commitment",
        "6200.00",
        account_manager_id=cory.id,
    )
    funnel.move_to_stage(
        deal, stage("Won"), by=cory, expected_version=deal.version, tz=LA, now=at(2025, 10, 14)
    )
    db.session.commit()
    assert figures(attainment.quarter_by_member(2025, 4, LA).members[0].months[0]) == (
        D("6200.00"),
        D("4000.00"),
        155,
    )
    funnel.move_to_stage(
        deal,
        stage("Commitment"),
        by=cory,
        expected_version=deal.version,
        tz=LA,
        now=at(2025, 10, 20),
    )
    db.session.commit()
    row = attainment.quarter_by_member(2025, 4, LA).members[0]
    assert figures(row.months[0]) == (D("0.00"), D("4000.00"), 0)
    assert deal_lists.won_deals(2025, 10, 10, LA).rows == []
    by_location = attainment.quarter_by_location(2025, 4, LA)
    assert by_location.totals.total == D("0.00")


# ---------------------------------------------------------------- margin basis


def test_the_margin_basis_counts_margin_against_margin_quotas(
    make_member: Callable[..., Member], win: Callable[..., Opportunity]
) -> None:
    cory = make_member(name="Cory Ferguson")
    manny = make_member(name="Manny Martinez")
    quotas.set_year_quotas(cory, 2025, {10: D("4000")}, {10: D("2500")})
    quotas.set_year_quotas(manny, 2025, {10: D("4000")})  # no margin quota
    win(cory, "6000.00", at(2025, 10, 3), revenue="6200.00", cost=D("3200.00"))
    win(manny, "1000.00", at(2025, 10, 3), cost=D("250.00"))
    db.session.commit()

    revenue = attainment.quarter_by_member(2025, 4, LA, Basis.REVENUE)
    # The revenue basis counts the won amount (6,000 agreed of a 6,200 revenue).
    assert [figures(r.months[0]) for r in revenue.members] == [
        (D("6000.00"), D("4000.00"), 150),
        (D("1000.00"), D("4000.00"), 25),
    ]
    margin = attainment.quarter_by_member(2025, 4, LA, Basis.MARGIN)
    assert [figures(r.months[0]) for r in margin.members] == [
        (D("3000.00"), D("2500.00"), 120),  # 6,200 − 3,200
        (D("750.00"), None, None),
    ]
    # Manny has no margin quota: his 750 is not counted in the team's %.
    assert figures(margin.monthly_totals[0]) == (D("3000.00"), D("2500.00"), 120)
    assert margin.not_counted[0] == attainment.NotCounted(1, D("750.00"))
    deals = deal_lists.won_deals(2025, 10, 10, LA, Basis.MARGIN, member_id=cory.id)
    assert [r.amount for r in deals.rows] == [D("3000.00")]
    assert (deals.count, deals.revenue, deals.cost, deals.amount) == (
        1,
        D("6200.00"),
        D("3200.00"),
        D("3000.00"),
    )


# ---------------------------------------------------------------- locations


@pytest.fixture()
def places(app: Any) -> dict[str, int]:
    names = {}
    for model, name in [
        (Location, "ARRC"),
        (Location, "Fresno"),
        (BusinessUnit, "MS Sales"),
        (BusinessUnit, "Projects"),
    ]:
        row = model(name=name)
        db.session.add(row)
        db.session.flush()
        names[name] = row.id
    db.session.commit()
    return names


def test_locations_and_business_units_are_rows_of_their_own_each_adding_up_to_the_totals(
    places: dict[str, int], make_member: Callable[..., Member], win: Callable[..., Opportunity]
) -> None:
    arrc, fresno = places["ARRC"], places["Fresno"]
    ms, projects = places["MS Sales"], places["Projects"]
    cory = make_member(name="Cory Ferguson", location_id=arrc, business_unit_id=ms)
    manny = make_member(name="Manny Martinez", location_id=fresno, business_unit_id=projects)
    quotas.same_every_month(cory, 2025, D("4000"))
    quotas.same_every_month(manny, 2025, D("1000"))
    win(cory, "2000.00", at(2025, 10, 5), location_id=arrc, business_unit_id=ms)
    win(cory, "500.00", at(2025, 11, 5), location_id=arrc, business_unit_id=projects)
    win(manny, "300.00", at(2025, 12, 5), location_id=fresno, business_unit_id=ms)
    win(manny, "50.00", at(2025, 12, 6))  # booked without location or business unit
    win(manny, "999.00", at(2025, 9, 30))  # last quarter
    db.session.commit()

    summary = attainment.quarter_by_location(2025, 4, LA)
    shown = [(p.name, p.months, p.total, p.quota, p.percent) for p in summary.locations]
    assert shown == [
        ("ARRC", [D("2000.00"), D("500.00"), D("0")], D("2500.00"), D("12000.00"), 21),
        ("Fresno", [D("0"), D("0"), D("300.00")], D("300.00"), D("3000.00"), 10),
        (quotas.NO_LOCATION, [D("0"), D("0"), D("50.00")], D("50.00"), None, None),
    ]
    # MS Sales is one row, whichever location its wins were booked at (ARRC and Fresno).
    units = [(p.name, p.months, p.total, p.quota) for p in summary.units]
    assert units == [
        ("MS Sales", [D("2000.00"), D("0"), D("300.00")], D("2300.00"), D("12000.00")),
        ("Projects", [D("0"), D("500.00"), D("0")], D("500.00"), D("3000.00")),
        (quotas.NO_UNIT, [D("0"), D("0"), D("50.00")], D("50.00"), None),
    ]
    totals = summary.totals
    assert (totals.months, totals.total, totals.quota, totals.percent) == (
        [D("2000.00"), D("500.00"), D("350.00")],
        D("2850.00"),
        D("15000.00"),
        19,
    )
    for block in (summary.locations, summary.units):
        assert sum((p.total for p in block), D("0")) == totals.total
        assert quotas.sum_present(p.quota for p in block) == totals.quota

    year = attainment.summary_by_place(2025, None, LA)
    assert year.months == list(range(1, 13)) and year.period_label == "2025"
    assert year.totals.total == D("3849.00")
    assert year.totals.quota == D("60000.00")
    year_units = {p.name: (p.total, p.quota) for p in year.units}
    assert year_units["MS Sales"] == (D("2300.00"), D("48000.00"))
    assert year_units[quotas.NO_UNIT] == (D("1049.00"), None)


def test_an_inactive_place_keeps_its_wins_and_an_unused_one_leaves_the_summary(
    places: dict[str, int], make_member: Callable[..., Member], win: Callable[..., Opportunity]
) -> None:
    arrc, fresno, projects = places["ARRC"], places["Fresno"], places["Projects"]
    cory = make_member(name="Cory Ferguson")
    win(cory, "700.00", at(2025, 10, 5), location_id=arrc, business_unit_id=projects)
    db.session.get(Location, arrc).active = False
    db.session.get(Location, fresno).active = False
    db.session.get(BusinessUnit, projects).active = False
    db.session.commit()
    summary = attainment.quarter_by_location(2025, 4, LA)
    names = [(p.name, p.active, p.total) for p in summary.locations]
    assert ("ARRC", False, D("700.00")) in names
    assert "Fresno" not in [n for n, _a, _t in names]  # inactive, nothing in the quarter
    assert [(p.name, p.active) for p in summary.units if p.total] == [("Projects", False)]


def test_a_member_who_moved_keeps_earlier_wins_where_they_were_booked(
    places: dict[str, int],
    make_member: Callable[..., Member],
    make_opportunity: Callable[..., Opportunity],
) -> None:
    """Cory works from ARRC until June, then from Fresno. A win counts where the
    opportunity was booked (the account manager's location when it was created); his
    quota counts where he belongs now."""
    from crmlite.services.opportunities import create_opportunity

    arrc, fresno, ms = places["ARRC"], places["Fresno"], places["MS Sales"]
    cory = make_member(name="Cory Ferguson", location_id=arrc, business_unit_id=ms)
    quotas.same_every_month(cory, 2025, D("3000"))

    def won_deal(name: str, amount: str, moment: datetime) -> None:
        deal = create_opportunity(name=name, by=cory, revenue=D(amount), now=moment)
        db.session.flush()
        deal.stage_id = stage("Commitment").id
        funnel.move_to_stage(
            deal, stage("Won"), by=cory, expected_version=deal.version, tz=LA, now=moment
        )
        db.session.commit()

    won_deal("Kern River - Cabling", "2000.00", at(2025, 2, 10))
    cory.location_id = fresno  # moves in July
    db.session.commit()
    won_deal("Selma Raisin - Hardware", "5000.00", at(2025, 8, 12))

    q1 = {loc.name: loc for loc in attainment.quarter_by_location(2025, 1, LA).locations}
    q3 = {loc.name: loc for loc in attainment.quarter_by_location(2025, 3, LA).locations}
    assert q1["ARRC"].total == D("2000.00")
    assert q1["Fresno"].total == D("0")
    assert q3["ARRC"].total == D("0")
    assert q3["Fresno"].total == D("5000.00")
    # Quotas follow the member: all of his 2025 quota now counts for Fresno.
    assert q1["ARRC"].quota is None
    assert q1["Fresno"].quota == D("9000.00")
    # By member, both wins are his.
    row = attainment.quarter_by_member(2025, 3, LA).members[0]
    assert row.ytd[2] == Attainment(D("7000.00"), D("27000.00"))
    deals = deal_lists.won_deals(2025, 1, 12, LA, location_id=arrc)
    assert [d.name for d in deals.rows] == ["Kern River - Cabling"]


# ---------------------------------------------------------------- forecast


def test_forecast_next_three_months_against_the_quota_left(
    make_member: Callable[..., Member],
    make_opportunity: Callable[..., Opportunity],
    win: Callable[..., Opportunity],
) -> None:
    today = date(2026, 3, 10)
    cory = make_member(name="Cory Ferguson")
    quotas.set_year_quotas(cory, 2026, {3: D("4000"), 4: D("4000")})
    win(cory, "1500.00", at(2026, 3, 2))
    win(cory, "9999.00", at(2026, 2, 27))  # February: not in the forecast months
    for name, revenue, probability, close in [
        ("March deal", "1000.00", 60, date(2026, 3, 20)),
        ("March too, overdue", "200.00", 50, date(2026, 3, 1)),
        ("April deal", "2000.00", 30, date(2026, 4, 5)),
        ("May deal", "500.00", 10, date(2026, 5, 31)),
        ("June deal", "700.00", 90, date(2026, 6, 1)),
        ("February, long overdue", "800.00", 90, date(2026, 2, 28)),
    ]:
        make_opportunity(
            name,
            "Discovery",
            revenue,
            account_manager_id=cory.id,
            probability=probability,
            expected_close_on=close,
        )
    make_opportunity(
        "Lost in March",
        "Lost",
        "5000.00",
        account_manager_id=cory.id,
        expected_close_on=date(2026, 3, 15),
    )
    db.session.commit()

    result = forecast.forecast(today, LA)
    assert result.months == [(2026, 3), (2026, 4), (2026, 5)]
    row = result.members[0]
    shown = [(m.pipeline, m.weighted, m.quota, m.won, m.gap) for m in row.months]
    assert shown == [
        (D("1200.00"), D("700.00"), D("4000.00"), D("1500.00"), D("2500.00")),
        (D("2000.00"), D("600.00"), D("4000.00"), D("0"), D("4000.00")),
        (D("500.00"), D("50.00"), None, D("0"), None),
    ]
    assert (row.pipeline, row.weighted, row.gap, row.shortfall) == (
        D("3700.00"),
        D("1350.00"),
        D("6500.00"),
        D("5150.00"),
    )
    deals = deal_lists.pipeline_deals(2026, 3, member_id=cory.id)
    assert [d.name for d in deals.rows] == ["March too, overdue", "March deal"]
    assert (deals.amount, deals.weighted) == (row.months[0].pipeline, row.months[0].weighted)


def test_forecast_crosses_the_year(make_member: Callable[..., Member], make_opportunity) -> None:
    cory = make_member(name="Cory Ferguson")
    quotas.set_year_quotas(cory, 2027, {1: D("1000")})
    make_opportunity(
        "January deal",
        "Presentation",
        "400.00",
        account_manager_id=cory.id,
        expected_close_on=date(2027, 1, 15),
    )
    db.session.commit()
    result = forecast.forecast(date(2026, 11, 30), LA)
    assert result.months == [(2026, 11), (2026, 12), (2027, 1)]
    jan = result.members[0].months[2]
    assert (jan.pipeline, jan.weighted, jan.quota, jan.gap) == (
        D("400.00"),
        D("280.00"),
        D("1000.00"),
        D("1000.00"),
    )


# ---------------------------------------------------------------- funnel


def test_funnel_conversion_days_win_rate_and_lost_reasons_from_the_history(
    make_member: Callable[..., Member], make_opportunity: Callable[..., Opportunity]
) -> None:
    cory = make_member(name="Cory Ferguson")
    names = ["Prospect", "1st Appointment", "Discovery", "Won", "Lost"]
    s = {name: stage(name).id for name in names}

    def walk(name: str, steps: list[tuple[str, datetime]], **fields: Any) -> Opportunity:
        final = steps[-1][0]
        deal = make_opportunity(name, final, "1000.00", account_manager_id=cory.id, **fields)
        previous = None
        for stage_name, moment in steps:
            db.session.add(
                StageChange(
                    opportunity_id=deal.id,
                    from_stage_id=previous,
                    to_stage_id=s[stage_name],
                    changed_at=moment,
                )
            )
            previous = s[stage_name]
        db.session.commit()
        return deal

    noon = lambda y, m, d: datetime(y, m, d, 20, tzinfo=UTC)  # noqa: E731 - 12:00 in LA
    walk(
        "A",
        [
            ("Prospect", noon(2026, 1, 5)),
            ("1st Appointment", noon(2026, 1, 15)),
            ("Discovery", noon(2026, 2, 1)),
            ("Won", noon(2026, 3, 1)),
        ],
        closed_at=noon(2026, 3, 1),
        won_amount=D("1000.00"),
    )
    walk(
        "B",
        [
            ("Prospect", noon(2026, 1, 10)),
            ("1st Appointment", noon(2026, 1, 20)),
            ("Lost", noon(2026, 2, 10)),
        ],
        closed_at=noon(2026, 2, 10),
        lost_reason="Chose a lower-priced competitor.",
        lost_amount=D("1000.00"),
    )
    walk("C", [("Prospect", noon(2025, 12, 20)), ("1st Appointment", noon(2026, 1, 5))])
    walk("D", [("Prospect", noon(2026, 2, 1))])
    walk("E, after the quarter", [("Prospect", noon(2026, 4, 2))])

    start, end = funnel_health.period_bounds(2026, 1, Period.QUARTER, LA)
    health = funnel_health.funnel_health(start, end)
    by_name = {h.name: h for h in health.stages}
    assert [h.name for h in health.stages] == [
        "Prospect",
        "1st Appointment",
        "Discovery",
        "Presentation",
        "Follow-Up",
        "Commitment",
    ]
    prospect, first, discovery = (
        by_name["Prospect"],
        by_name["1st Appointment"],
        by_name["Discovery"],
    )
    # Open now: D and E in Prospect, C in 1st Appointment.
    assert (prospect.count, prospect.value) == (2, D("2000.00"))
    assert (first.count, first.value) == (1, D("1000.00"))
    # Entered Prospect in Q1: A, B, D; A and B went on, A was won.
    assert (prospect.entered, prospect.advanced, prospect.won) == (3, 2, 1)
    assert (prospect.to_next, prospect.to_won) == (67, 33)
    # Entered 1st Appointment: A, B, C; only A went on (B was lost), and won.
    assert (first.entered, first.advanced, first.won, first.to_next, first.to_won) == (
        3,
        1,
        1,
        33,
        33,
    )
    assert (discovery.entered, discovery.to_next, discovery.to_won) == (1, 100, 100)
    assert by_name["Presentation"].to_next is None
    # Stays that ended in Q1: Prospect 10 (A), 10 (B), 16 (C, from December);
    # 1st Appointment 17 (A), 21 (B); Discovery 28 (A).
    assert (prospect.average_days, prospect.stays) == (D("12.0"), 3)
    assert (first.average_days, first.stays) == (D("19.0"), 2)
    assert (discovery.average_days, discovery.stays) == (D("28.0"), 1)
    assert by_name["Commitment"].average_days is None
    assert (health.won, health.lost, health.win_rate) == (1, 1, 50)
    assert [(r.reason, r.count, r.amount) for r in health.lost_reasons] == [
        ("Chose a lower-priced competitor.", 1, D("1000.00"))
    ]

    year = funnel_health.funnel_health(*funnel_health.period_bounds(2026, 1, Period.YEAR, LA))
    assert {h.name: h.entered for h in year.stages}["Prospect"] == 4
    # Cory's own funnel (every deal is his) reads his moves through his opportunities.
    corys = funnel_health.funnel_health(start, end, member_id=cory.id)
    assert corys.stages == health.stages
    assert (corys.won, corys.lost) == (1, 1)
    mine = funnel_health.funnel_health(start, end, member_id=make_member().id)
    assert all(h.entered == 0 and h.count == 0 and h.stays == 0 for h in mine.stages)
    assert mine.win_rate is None


# ---------------------------------------------------------------- hygiene


def test_hygiene_counts_open_opportunities_per_account_manager(
    make_member: Callable[..., Member],
    make_opportunity: Callable[..., Opportunity],
    make_activity: Callable[..., Any],
) -> None:
    today = date(2026, 3, 10)
    cory = make_member(name="Cory Ferguson")
    manny = make_member(name="Manny Martinez")
    make_member(name="Nick Points")  # nothing to fix: not listed
    scheduled = make_opportunity(
        "Scheduled",
        "Discovery",
        "500.00",
        account_manager_id=cory.id,
        expected_close_on=today + timedelta(days=30),
    )
    make_activity(cory, due_on=today + timedelta(days=2), opportunity_id=scheduled.id)
    make_opportunity(
        "Stalled and late",
        "Presentation",
        "900.00",
        account_manager_id=cory.id,
        expected_close_on=today - timedelta(days=1),
    )
    make_opportunity("Stalled, no revenue", "Prospect", "0", account_manager_id=cory.id)
    make_opportunity(
        "Won long ago", "Won", "0", account_manager_id=manny.id, expected_close_on=date(2025, 1, 1)
    )
    make_opportunity("Manny's, no revenue", "Prospect", "0", account_manager_id=manny.id)
    make_opportunity("Nobody's", "Prospect", "10.00")
    db.session.commit()

    rows = hygiene.hygiene(today)
    assert [(h.name, h.stalled, h.past_close, h.zero_revenue) for h in rows] == [
        ("Cory Ferguson", 2, 1, 1),
        ("Manny Martinez", 1, 0, 1),
        (NO_MANAGER, 1, 0, 0),
    ]
    late = deal_lists.hygiene_deals("past-close", today, member_id=cory.id)
    assert [d.name for d in late.rows] == ["Stalled and late"]
    assert [d.name for d in deal_lists.hygiene_deals("zero-revenue", today).rows] == [
        "Stalled, no revenue",
        "Manny's, no revenue",
    ]
    assert [h.name for h in hygiene.hygiene(today, member_id=manny.id)] == ["Manny Martinez"]


# ---------------------------------------------------------------- the deals behind a figure


def test_the_deals_behind_a_figure_add_up_to_it(cory: Member) -> None:
    summary = attainment.quarter_by_member(2025, 4, LA)
    october = deal_lists.won_deals(2025, 10, 10, LA, member_id=cory.id)
    assert october.amount == summary.members[0].months[0].total
    assert [d.amount for d in october.rows] == [D("895.00"), D("2000.00")]  # newest first
    ytd = deal_lists.won_deals(2025, 1, 10, LA, member_id=cory.id)
    assert ytd.amount == summary.members[0].ytd[0].total == D("48861.00")
    assert sum(d.amount for d in ytd.rows) == ytd.amount
    assert deal_lists.won_deals(2025, 11, 12, LA, member_id=cory.id).count == 0
    assert deal_lists.won_deals(2025, 10, 10, LA, member_id=0).rows == []


def test_a_long_list_shows_its_first_deals_and_the_totals_of_all(
    make_member: Callable[..., Member], win: Callable[..., Opportunity], monkeypatch
) -> None:
    monkeypatch.setattr(deal_lists, "LIST_LIMIT", 2)
    cory = make_member()
    for day in (3, 4, 5):
        win(cory, "100.00", at(2025, 10, day))
    db.session.commit()
    deals = deal_lists.won_deals(2025, 10, 10, LA)
    assert (len(deals.rows), deals.count, deals.amount, deals.truncated) == (
        2,
        3,
        D("300.00"),
        True,
    )
