"""The demo's funnel: about 130 generated opportunities, each with the stages it walked,
the activities that moved it, its next step, and what hangs off it once it has an id.

In the window: OPEN_COUNTS open deals per stage, WON_IN_WINDOW won and LOST_IN_WINDOW lost
ones; before it, one win per member and month so quota attainment has a history. Every move
in the window was made by an activity (STAGE_MOVES); STALLED_SHARE of the open deals have no
next step, half of those with one that slipped into the past.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from crmlite.demo.context import (
    MANAGED_SERVICES,
    MS_SALES,
    PRODUCTS,
    PROJECTS,
    Deal,
    Demo,
    working_days,
)
from crmlite.demo.lines import describe, lines_for
from crmlite.demo.words import ARRC, LOST_REASONS, OPPORTUNITY_NOTES
from crmlite.models import (
    Campaign,
    Company,
    ForecastLine,
    Member,
    Opportunity,
    OpportunityContact,
    OpportunityNote,
    OpportunityTeamMember,
    Rating,
    StageChange,
)
from crmlite.services.money import ZERO, cents
from crmlite.services.periods import Month, months_between

# To-stage → (type code, subject, minutes or None, places) of the activity that moved it.
STAGE_MOVES: dict[str, tuple[str, str, int | None, tuple[str, ...]]] = {
    "Prospect": ("PF", "Add {company} to the funnel", None, ("Office",)),
    "1st Appointment": ("SA", "1st Appointment with {first}", 60, ("On-Site",)),
    "Discovery": ("DM", "Discovery meeting with {first}", 90, ("On-Site",)),
    "Presentation": ("PA", "Present proposal to {company}", 60, ("On-Site", "Remote")),
    "Follow-Up": ("SE", "Follow up with {first} on the proposal", 30, ("Phone",)),
    "Commitment": ("FC", "Follow up appointment to close with {first}", 60, ("On-Site",)),
    "Won": ("TC", "Thank you card to {first}", None, ("Office",)),
    "Lost": ("SE", "Call {first} about their decision", 30, ("Phone",)),
}
# Current stage → the next step to schedule.
NEXT_STEPS: dict[str, tuple[str, str, int, tuple[str, ...]]] = {
    "Prospect": ("SA", "1st Appointment with {first}", 60, ("On-Site",)),
    "1st Appointment": ("DM", "Discovery meeting with {first}", 90, ("On-Site",)),
    "Discovery": ("PA", "Present proposal to {company}", 60, ("On-Site", "Remote")),
    "Presentation": ("FC", "Follow up appointment to close with {first}", 60, ("On-Site", "Phone")),
    "Follow-Up": ("FC", "Follow up appointment to close with {first}", 60, ("On-Site",)),
    "Commitment": ("SE", "Check agreement set-up with {first}", 30, ("Phone",)),
}
# Open opportunities per stage, plus Won and Lost, in the three-month window.
OPEN_COUNTS = {
    "Prospect": 20,
    "1st Appointment": 16,
    "Discovery": 14,
    "Presentation": 12,
    "Follow-Up": 12,
    "Commitment": 8,
}
WON_IN_WINDOW = 12
LOST_IN_WINDOW = 14
STALLED_SHARE = 0.15


def opportunities(demo: Demo) -> None:
    """The deals of the window in random order, then the earlier wins; each with a campaign
    (mostly) and its source, its walk through the stages planned. Flushed (with PRODUCT.md's
    two), so what hangs off them can point at them."""
    rng = demo.rng
    kinds: list[str] = [name for name, count in OPEN_COUNTS.items() for _ in range(count)]
    kinds += ["Won"] * WON_IN_WINDOW + ["Lost"] * LOST_IN_WINDOW
    rng.shuffle(kinds)
    used: set[tuple[int, str]] = set()
    for kind in kinds:
        company, product, owner = _pick(demo, used)
        target = cents(rng.randint(12, 70) * 50) if kind == "Won" else None
        demo.deals.append(_build(demo, kind, company, product, owner, target))
    _earlier_wins(demo, used)
    for deal in demo.deals:
        opportunity = deal.opportunity
        campaign = _campaign_for(demo, (opportunity.closed_at or demo.at(demo.today, 12)).year)
        opportunity.campaign_id = campaign.id if campaign else None
        opportunity.source = (
            _campaign_type_name(demo, campaign)
            if campaign
            else rng.choice(("Existing Client", "Networking", "Walk-In"))
        )
    _plan(demo)
    demo.session.add_all(deal.opportunity for deal in demo.deals)
    demo.session.flush()


def histories(demo: Demo) -> None:
    """Every deal's stage changes and forecast lines, PRODUCT.md's examples first."""
    for deal in [*demo.examples.deals, *demo.deals]:
        owner_id = deal.opportunity.account_manager_id or demo.nick.id
        demo.session.add_all(_stage_changes(deal, owner_id))
        demo.session.add_all(_forecast_rows(demo, deal))


def details(demo: Demo) -> None:
    """What hangs off each generated deal: its activities, the colleague on its team, a note
    on about one in five that moved, another of the company's contacts on about a third."""
    rng = demo.rng
    session = demo.session
    for deal in demo.deals:
        opportunity = deal.opportunity
        owner_id = opportunity.account_manager_id or demo.nick.id
        for activity in deal.linked:
            activity.opportunity_id = opportunity.id
        if deal.helper is not None:
            helper, role = deal.helper
            session.add(
                OpportunityTeamMember(opportunity_id=opportunity.id, member_id=helper.id, role=role)
            )
        if deal.path[0] is not deal.path[-1] and rng.random() < 0.22:
            session.add(
                OpportunityNote(
                    opportunity_id=opportunity.id,
                    author_id=owner_id,
                    created_at=deal.moments[-1] + timedelta(minutes=rng.randint(15, 90)),
                    body=rng.choice(OPPORTUNITY_NOTES).format(first=deal.contact.first_name),
                )
            )
        others = [c for c in demo.contacts[deal.company.id] if c is not deal.contact]
        if others and rng.random() < 0.3:
            session.add(
                OpportunityContact(
                    opportunity_id=opportunity.id,
                    contact_id=others[0].id,
                    role=rng.choice(("Decision maker", "Technical contact", "Influencer")),
                )
            )


# -- drawing the deals -------------------------------------------------------------------


def _pick(
    demo: Demo, used: set[tuple[int, str]], member: Member | None = None
) -> tuple[Company, str, Member]:
    """A company (the member's own, when given) and product not paired yet, so names stay
    unique, and an owner: mostly the company's account manager."""
    rng = demo.rng
    companies = demo.companies
    pool = [c for c in companies if member is None or c.account_manager_id == member.id]
    for _ in range(200):
        company = rng.choice(pool or companies)
        product = rng.choice(PRODUCTS)
        if (company.id, product) not in used:
            break
    used.add((company.id, product))
    member_by_id = {m.id: m for m in demo.members}
    owner = member or (
        member_by_id[company.account_manager_id or demo.nick.id]
        if rng.random() < 0.85
        else rng.choice(demo.members)
    )
    return company, product, owner


def _build(
    demo: Demo, kind: str, company: Company, product: str, owner: Member, target: Decimal | None
) -> Deal:
    """An opportunity of `kind` (an open stage's name, "Won" or "Lost") and the stages it
    walked: a win went through every open stage (Follow-Up most of the time), a loss
    dropped out after one to five."""
    rng = demo.rng
    lines = lines_for(rng, product, target)
    if kind == "Won":
        path = [demo.stage[n] for n in OPEN_COUNTS if n != "Follow-Up" or rng.random() < 0.6]
        path.append(demo.won_stage)
    elif kind == "Lost":
        path = [*demo.open_stages[: rng.randint(1, 5)], demo.lost_stage]
    else:
        path = demo.open_stages[: demo.open_stages.index(demo.stage[kind]) + 1]
    status = demo.statuses[kind if kind in ("Won", "Lost") else "Open"]
    stage = path[-1]
    contact = rng.choice(demo.contacts[company.id])
    known_locations = {location.id for location in demo.locations.values()}
    business_unit = MS_SALES if product in MANAGED_SERVICES else PROJECTS
    opportunity = Opportunity(
        name=f"{company.name} - {product}",
        description=describe(product, company, lines),
        type_id=demo.products[product].id,
        status_id=status.id,
        stage_id=stage.id,
        revenue=sum((line.total_revenue for line in lines), ZERO),
        cost=sum((line.total_cost for line in lines), ZERO),
        rating=rng.choice((Rating.HOT, Rating.MEDIUM, Rating.MEDIUM, Rating.COLD)).value,
        probability=stage.default_probability,
        account_manager_id=owner.id,
        company_id=company.id,
        contact_id=contact.id,
        location_id=(
            company.location_id
            if company.location_id in known_locations
            else demo.locations[ARRC].id
        ),
        business_unit_id=demo.business_units[business_unit].id,
        created_by_id=owner.id,
        updated_by_id=owner.id,
    )
    return Deal(opportunity, company, contact, path, lines)


def _earlier_wins(demo: Demo, used: set[tuple[int, str]]) -> None:
    """One win per member and month before the window, worth 55-130% of the member's quota,
    so quota attainment has a history: every month of this year before the window (at least
    the six months before it), and the window's first month up to its first day."""
    rng = demo.rng
    window = Month.of(demo.start)
    for month in months_between(min(Month(demo.today.year, 1), window.plus(-6)), window):
        days = working_days(month.first_day, min(month.last_day, demo.start - timedelta(days=1)))
        for member in demo.members if days else []:
            company, product, owner = _pick(demo, used, member)
            target = cents(round(float(demo.quota[member.id]) * rng.uniform(0.55, 1.3) / 50) * 50)
            deal = _build(demo, "Won", company, product, owner, target)
            deal.opportunity.closed_at = demo.at(rng.choice(days), rng.randint(9, 16), 30)
            demo.deals.append(deal)


def _campaign_for(demo: Demo, year: int) -> Campaign | None:
    """Mostly one of the year's campaigns (any, when the year has none)."""
    rng = demo.rng
    if rng.random() < 0.15:
        return None
    same_year = [c for c in demo.campaigns if c.starts_on and c.starts_on.year == year]
    return rng.choice(same_year or demo.campaigns) if demo.campaigns else None


def _campaign_type_name(demo: Demo, campaign: Campaign) -> str:
    return next(name for name, t in demo.campaign_types.items() if t.id == campaign.type_id)


# -- planning their walk -----------------------------------------------------------------


def _plan(demo: Demo) -> None:
    """Before the opportunities are flushed: when each one moved (with the activity that
    moved it), its dates and amounts, its next step, and its team. Leaves STALLED_SHARE of
    the open deals without a next step."""
    rng = demo.rng
    open_status = demo.statuses["Open"]
    open_deals = [d for d in demo.deals if d.opportunity.status_id == open_status.id]
    stalled = {id(d) for d in rng.sample(open_deals, round(len(open_deals) * STALLED_SHARE))}
    for deal in demo.deals:
        _walk(demo, deal, _move_days(demo, deal))
        _close_or_schedule(demo, deal, stalled=id(deal) in stalled)
        if rng.random() < 0.2:
            owner_id = deal.opportunity.account_manager_id or demo.nick.id
            helper = rng.choice([m for m in demo.members if m.id != owner_id])
            role = rng.choice(("Sales associate", "Technical lead", "Executive sponsor"))
            deal.helper = (helper, role)
            if role == "Sales associate":
                deal.opportunity.sales_associate_id = helper.id


def _move_days(demo: Demo, deal: Deal) -> list[date]:
    """The day of each move: working days a few days apart."""
    rng = demo.rng
    earlier = deal.opportunity.closed_at  # set for a win from before the window
    if earlier is not None:
        close_day = earlier.astimezone(demo.tz).date()
        pool = working_days(close_day - timedelta(days=70), close_day)
        return [*sorted(rng.sample(pool[:-1], len(deal.path) - 1)), close_day]
    # The last move anywhere in the window, the first 2-8 working days per move before it,
    # the ones between at random.
    pool = demo.past_days
    moves = len(deal.path) - 1
    last = rng.randint(min(2 * moves, len(pool) - 1), len(pool) - 1)
    first = rng.randint(max(0, last - 8 * moves), max(0, last - 2 * moves))
    between = sorted(rng.sample(range(first + 1, last), moves - 1)) if moves > 1 else []
    return [pool[i] for i in ([first, *between, last] if moves else [last])]


def _walk(demo: Demo, deal: Deal, days: list[date]) -> None:
    """The moment of each move. In the window, each was made by an activity of STAGE_MOVES
    (a first appointment is followed by a thank-you postcard half of the time); an earlier
    win moved at office hours without activities."""
    rng = demo.rng
    opportunity, company, contact = deal.opportunity, deal.company, deal.contact
    owner_id = opportunity.account_manager_id or demo.nick.id
    words = {"company": company.name, "first": contact.first_name}
    earlier = opportunity.closed_at
    for stage, day in zip(deal.path, days, strict=True):
        if earlier is not None:
            moment = (
                earlier
                if stage.is_won
                else demo.at(day, rng.randint(9, 16), rng.choice((0, 15, 30, 45)))
            )
        else:
            code, subject, minutes, places = STAGE_MOVES[stage.name]
            moved_by = demo.activity(
                code=code,
                subject=subject.format(**words),
                member_id=owner_id,
                day=day,
                minutes=minutes,
                place=rng.choice(places),
                closed=True,
                company=company,
                contact=contact,
                campaign_id=opportunity.campaign_id,
            )
            deal.linked.append(moved_by)
            assert moved_by.closed_at is not None
            moment = moved_by.closed_at
            if stage.name == "Prospect":
                moved_by.created_at = moment - timedelta(minutes=5)
            if stage.name == "1st Appointment" and rng.random() < 0.5:
                follow_day = next((d for d in demo.past_days if d > day), None)
                if follow_day is not None:
                    deal.linked.append(
                        demo.activity(
                            code="TP",
                            subject=f"Thank-you postcard to {contact.first_name}",
                            member_id=owner_id,
                            day=follow_day,
                            minutes=None,
                            place="Office",
                            closed=True,
                            company=company,
                            contact=contact,
                            campaign_id=opportunity.campaign_id,
                        )
                    )
        if deal.moments and moment <= deal.moments[-1]:
            moment = deal.moments[-1] + timedelta(hours=1)
        deal.moments.append(moment)


def _close_or_schedule(demo: Demo, deal: Deal, *, stalled: bool) -> None:
    """A won or lost deal closes at its last move (a loss with a reason); an open one gets
    an expected close date and, unless stalled, its next step in the coming weeks (mostly
    the next two); a stalled one has none, or one that slipped into the past."""
    rng = demo.rng
    opportunity = deal.opportunity
    last_move = deal.moments[-1]
    opportunity.created_at = deal.moments[0]
    opportunity.stage_entered_at = opportunity.updated_at = last_move
    stage = deal.path[-1]
    if stage.is_won or stage.is_lost:
        opportunity.closed_at = last_move
        opportunity.expected_close_on = last_move.astimezone(demo.tz).date()
        if stage.is_won:
            opportunity.won_amount = opportunity.revenue
        else:
            opportunity.lost_amount = opportunity.revenue
            opportunity.lost_reason = rng.choice(LOST_REASONS)
        return
    remaining = len(demo.open_stages) - demo.open_stages.index(stage)
    opportunity.expected_close_on = demo.today + timedelta(days=rng.randint(-7, 21) + remaining * 9)
    code, subject, minutes, places = NEXT_STEPS[stage.name]
    next_step_on = None
    if not stalled:
        future = demo.future_days[:10] if rng.random() < 0.7 else demo.future_days
        next_step_on = rng.choice(future)
    elif rng.random() < 0.5:
        # The next step slipped: still open, but overdue.
        later = [d for d in demo.past_days if d > last_move.astimezone(demo.tz).date()]
        if later:
            next_step_on = rng.choice(later[:10])
    if next_step_on is not None:
        deal.linked.append(
            demo.activity(
                code=code,
                subject=subject.format(company=deal.company.name, first=deal.contact.first_name),
                member_id=opportunity.account_manager_id or demo.nick.id,
                day=next_step_on,
                minutes=minutes,
                place=rng.choice(places),
                closed=False,
                company=deal.company,
                contact=deal.contact,
                campaign_id=opportunity.campaign_id,
                created_at=last_move + timedelta(minutes=10),
            )
        )


# -- what hangs off them -----------------------------------------------------------------


def _stage_changes(deal: Deal, member_id: int) -> list[StageChange]:
    """The walk from Prospect to the current stage, one row per move."""
    rows: list[StageChange] = []
    previous_id: int | None = None
    for stage, moment in zip(deal.path, deal.moments, strict=True):
        rows.append(
            StageChange(
                opportunity_id=deal.opportunity.id,
                from_stage_id=previous_id,
                to_stage_id=stage.id,
                changed_by_id=member_id,
                changed_at=moment,
            )
        )
        previous_id = stage.id
    return rows


def _forecast_rows(demo: Demo, deal: Deal) -> list[ForecastLine]:
    opportunity = deal.opportunity
    return [
        ForecastLine(
            opportunity_id=opportunity.id,
            product_id=demo.products[line.product].id,
            description=line.description,
            position=position,
            recurring=line.recurring,
            revenue=line.revenue,
            cost=line.cost,
            months=line.months,
            status_id=opportunity.status_id,
            include_in_forecast=True,
        )
        for position, line in enumerate(deal.lines, start=1)
    ]
