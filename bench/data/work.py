"""The bench data's activities: the next steps of open opportunities, then the day-to-day
work of every member."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from datetime import date, timedelta

from bench.data.context import (
    CHUNK,
    FUTURE_DAYS,
    NEXT_STEP_CODE,
    NEXT_STEP_SHARE,
    PAST_CLOSED,
    PAST_DAYS,
    PLACES_BY_CODE,
    Bench,
    Row,
)
from crmlite.models import Activity, ActivityStatus


def activities(bench: Bench) -> None:
    """`activities` activities: first the next step of most open opportunities (the others
    are stalled), in the next three weeks; then the day-to-day work, by the types' monthly
    counts, over the last 12 months and the next 2, on working days."""
    bench.bulk(Activity, _activity_rows(bench), "activities", bench.activities)


def _activity_rows(bench: Bench) -> Iterator[Row]:
    rng, today, plans = bench.rng, bench.today, bench.plans
    by_owner: dict[int, list[int]] = {}
    for index, plan in enumerate(plans):
        by_owner.setdefault(plan.owner_id, []).append(index)
    companies_by_owner: dict[int, list[int]] = {}
    for index, company in enumerate(bench.companies):
        companies_by_owner.setdefault(company.owner_id, []).append(index)
    codes = [t.code for t in bench.activity_types]
    weights = [t.monthly_count or 1 for t in bench.activity_types]
    window = bench.days[-(PAST_DAYS + FUTURE_DAYS + 1) :]
    past_days = [d for d in window if d < today and d.weekday() < 5]
    future_days = [d for d in bench.days if d >= today and d.weekday() < 5]
    all_days = past_days + future_days
    next_steps = [i for i, p in enumerate(plans) if p.is_open and rng.random() < NEXT_STEP_SHARE]
    next_steps = next_steps[: bench.activities]
    # How far into past_days an opportunity's other activities may fall: anywhere for one with
    # a next step, only in the past for a stalled one (so it stays stalled), and only up to
    # the close for a won or lost one.
    scheduled = set(next_steps)
    day_limit: list[int | None] = [
        None
        if i in scheduled
        else len(past_days)
        if plan.is_open
        else bisect_right(past_days, plan.moments[-1].astimezone(bench.tz).date())
        for i, plan in enumerate(plans)
    ]

    for index in next_steps:
        plan = plans[index]
        yield _activity_row(
            bench,
            NEXT_STEP_CODE.get(plan.stage_name, "SE"),
            plan.owner_id,
            rng.choice(future_days[:15]),
            index,
            plan.company_index,
        )
    remaining = bench.activities - len(next_steps)
    while remaining > 0:
        batch = min(remaining, CHUNK)
        for code in rng.choices(codes, weights, k=batch):
            member_id = rng.choice(bench.member_ids)
            day = rng.choice(all_days)
            roll = rng.random()
            plan_index = company_index = None
            if roll < 0.4 and by_owner.get(member_id):
                # About one in three of a member's activities is for one of their deals.
                plan_index = rng.choice(by_owner[member_id])
                company_index = plans[plan_index].company_index
                limit = day_limit[plan_index]
                if limit is not None and (day >= today or limit < len(past_days)):
                    if limit == 0:
                        plan_index = None
                    else:
                        day = past_days[rng.randrange(limit)]
            elif roll < 0.85 or code not in ("CC", "EV", "WB"):
                pool = companies_by_owner.get(member_id)
                company_index = rng.choice(pool) if pool else rng.randrange(len(bench.companies))
            yield _activity_row(bench, code, member_id, day, plan_index, company_index)
        remaining -= batch


def _activity_row(
    bench: Bench,
    code: str,
    member_id: int,
    day: date,
    plan_index: int | None,
    company_index: int | None,
) -> Row:
    """One activity of the member on `day`, for the company (a contact of it: the deal's
    own when for a deal) and deal given; timed 70% of the time, in office hours; closed
    PAST_CLOSED of the time when past; entered up to two weeks before."""
    rng = bench.rng
    activity_type = bench.type_by_code[code]
    company = bench.companies[company_index] if company_index is not None else None
    contact = rng.choice(company.contacts) if company is not None else None
    opportunity_id = campaign_id = None
    if plan_index is not None:
        plan = bench.plans[plan_index]
        opportunity_id, campaign_id = bench.opportunity_ids[plan_index], plan.campaign_id
        if company is not None:
            contact = next((c for c in company.contacts if c[0] == plan.contact_id), contact)
    starts_at = ends_at = None
    if rng.random() < 0.7:
        minutes = 120 if code == "CC" else rng.choice((30, 60, 60, 90))
        start = rng.randrange(8 * 60, 17 * 60 - minutes + 1, 30)
        starts_at = bench.at(day, start)
        ends_at = starts_at + timedelta(minutes=minutes)
    closed = day < bench.today and rng.random() < PAST_CLOSED
    closed_at = None
    if closed:
        closed_at = (
            ends_at + timedelta(minutes=10)
            if ends_at is not None
            else bench.at(day, rng.randint(8 * 60, 17 * 60))
        )
    created_at = min(bench.at(day, 8 * 60) - timedelta(days=rng.randint(0, 14)), bench.now)
    subject = activity_type.name
    if contact is not None:
        subject = f"{subject} - {contact[1]}"
    if company is not None:
        subject = f"{subject} ({company.name})"
    return {
        "subject": subject[:200],
        "type_id": activity_type.id,
        "status": (ActivityStatus.CLOSED if closed else ActivityStatus.OPEN).value,
        "company_id": company.id if company is not None else None,
        "contact_id": contact[0] if contact is not None else None,
        "phone": contact[2] if contact is not None else "",
        "opportunity_id": opportunity_id,
        "campaign_id": campaign_id,
        "assigned_to_id": member_id,
        "assigned_by_id": member_id,
        "due_on": day,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "reminder_minutes": 15 if starts_at is not None else None,
        "place": PLACES_BY_CODE.get(code, "On-Site"),
        "closed_at": closed_at,
        "closed_by_id": member_id if closed else None,
        "points_earned": activity_type.points if closed else None,
        "email_from": "",
        "email_to": "",
        "email_message_id": None,
        "created_at": created_at,
        "updated_at": closed_at or created_at,
        "version": 1,
    }
