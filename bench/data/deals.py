"""The bench data's funnel: opportunities with their stage walks, stage changes and
forecast lines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

from bench.data.context import (
    LOST_SHARE,
    OPEN_WEIGHTS,
    PAST_DAYS,
    WON_SHARE,
    Bench,
    Plan,
    Row,
)
from crmlite.demo.words import LOST_REASONS
from crmlite.models import ForecastLine, Opportunity, Rating, StageChange
from crmlite.services.money import cents


def opportunities(bench: Bench) -> None:
    """Won (WON_SHARE), lost (LOST_SHARE) or open in a stage drawn by OPEN_WEIGHTS; each
    created 5-365 days ago and moved every few days since, mostly owned by its company's
    account manager and mostly from a campaign. Their plans stay for the later phases."""
    rows = [_opportunity(bench) for _ in range(bench.opportunities)]
    bench.opportunity_ids = bench.bulk_ids(Opportunity, rows, "opportunities")


def _opportunity(bench: Bench) -> Row:
    rng, today, open_stages = bench.rng, bench.today, bench.open_stages
    roll = rng.random()
    if roll < WON_SHARE:
        path = [*open_stages[: rng.randint(4, 6)], bench.won_stage]
        status_id = bench.statuses["Won"]
    elif roll < WON_SHARE + LOST_SHARE:
        path = [*open_stages[: rng.randint(1, 5)], bench.lost_stage]
        status_id = bench.statuses["Lost"]
    else:
        current = rng.choices(range(len(open_stages)), OPEN_WEIGHTS)[0]
        path = open_stages[: current + 1]
        status_id = bench.statuses["Open"]
    stage = path[-1]
    company_index = rng.randrange(len(bench.companies))
    company = bench.companies[company_index]
    contact_id = rng.choice(company.contacts)[0]
    owner_id = company.owner_id if rng.random() < 0.8 else rng.choice(bench.member_ids)
    product_id, product = rng.choice(bench.products)
    revenue = Decimal(rng.randint(10, 1200) * 50)
    cost = cents(revenue * Decimal(rng.randint(30, 80)) / 100)
    moments = _walk(bench, len(path))
    closed = stage.is_won or stage.is_lost
    last = moments[-1]
    campaign_id = (
        rng.choice(bench.campaign_ids) if bench.campaign_ids and rng.random() < 0.8 else None
    )
    bench.plans.append(
        Plan(
            [s.id for s in path],
            moments,
            company_index,
            contact_id,
            owner_id,
            not closed,
            stage.name,
            campaign_id,
            product_id,
            revenue,
            cost,
            status_id,
        )
    )
    return {
        "name": f"{company.name} - {product}",
        "description": "",
        "type_id": product_id,
        "status_id": status_id,
        "stage_id": stage.id,
        "revenue": revenue,
        "cost": cost,
        "won_amount": revenue if stage.is_won else None,
        "lost_amount": revenue if stage.is_lost else None,
        "lost_reason": rng.choice(LOST_REASONS) if stage.is_lost else "",
        "closed_at": last if closed else None,
        "expected_close_on": (
            last.astimezone(bench.tz).date()
            if closed
            else today + timedelta(days=rng.randint(-20, 120))
        ),
        "rating": rng.choice((Rating.HOT, Rating.MEDIUM, Rating.MEDIUM, Rating.COLD)).value,
        "probability": stage.default_probability,
        "probability_overridden": False,
        "source": "",
        "campaign_id": campaign_id,
        "account_manager_id": owner_id,
        "sales_associate_id": None,
        "company_id": company.id,
        "contact_id": contact_id,
        "location_id": rng.choice(bench.location_ids),
        "business_unit_id": rng.choice(bench.unit_ids),
        "stage_entered_at": last,
        "created_at": moments[0],
        "created_by_id": owner_id,
        "updated_at": last,
        "updated_by_id": owner_id,
        "version": 1,
    }


def _walk(bench: Bench, steps: int) -> list[datetime]:
    """The moments of a walk of `steps` stages: created 5-365 days ago in office hours, then
    a move every 2-12 days (never today), each after the one before and before now."""
    rng, today, now = bench.rng, bench.today, bench.now
    day = today - timedelta(days=rng.randint(steps * 3 + 2, PAST_DAYS))
    moments = []
    for _step in range(steps):
        moments.append(bench.at(day, rng.randint(8 * 60, 17 * 60 - 1)))
        day = min(day + timedelta(days=rng.randint(2, 12)), today - timedelta(days=1))
    for i in range(1, len(moments)):
        if moments[i] <= moments[i - 1]:
            moments[i] = moments[i - 1] + timedelta(minutes=30)
    return [min(m, now - timedelta(minutes=len(moments) - i)) for i, m in enumerate(moments)]


def histories(bench: Bench) -> None:
    """Each opportunity's stage changes (one per move of its walk) and one forecast line."""
    pairs = list(zip(bench.opportunity_ids, bench.plans, strict=True))

    def stage_changes() -> Iterator[Row]:
        for opportunity_id, plan in pairs:
            previous = None
            for stage_id, moment in zip(plan.path, plan.moments, strict=True):
                yield {
                    "opportunity_id": opportunity_id,
                    "from_stage_id": previous,
                    "to_stage_id": stage_id,
                    "changed_by_id": plan.owner_id,
                    "changed_at": moment,
                }
                previous = stage_id

    bench.change_count = sum(len(p.path) for p in bench.plans)
    bench.bulk(StageChange, stage_changes(), "stage changes", bench.change_count)
    forecast_lines = (
        {
            "opportunity_id": opportunity_id,
            "product_id": plan.product_id,
            "description": "",
            "position": 1,
            "recurring": False,
            "revenue": plan.revenue,
            "cost": plan.cost,
            "months": 1,
            "status_id": plan.status_id,
            "include_in_forecast": True,
        }
        for opportunity_id, plan in pairs
    )
    bench.bulk(ForecastLine, forecast_lines, "forecast lines", len(bench.plans))
