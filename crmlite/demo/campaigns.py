"""The demo's marketing: last year's and this year's campaigns, one per way leads come in."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from crmlite.demo.context import Demo
from crmlite.demo.words import ARRC, FRESNO
from crmlite.models import Campaign, CampaignStatus, CampaignSubType
from crmlite.services.money import cents

# (type, sub-type, year relative to today's, budget)
CAMPAIGNS: list[tuple[str, str | None, int, int]] = [
    ("Event", "Chamber", -1, 850),
    ("Direct Mail", "Postcard", -1, 1200),
    ("Telemarketing", "MSP Leads", -1, 3000),
    ("Event", "Lunch & Learn", 0, 650),
    ("Email", "Product Promotion", 0, 150),
    ("Sales Executive", "Cold Call", 0, 0),
    ("Referral", "Business Referral", 0, 250),
    ("Webinar", None, 0, 400),
    ("Website", "Visitor ID", 0, 1800),
]


def campaigns(demo: Demo) -> None:
    """Each of CAMPAIGNS not in the database yet, named "Type - Sub-type - Year", running the
    whole year: last year's completed and fully spent, this year's active and spent in
    proportion to the days gone by; mostly ARRC's, owned by Nick (Cory runs telemarketing)."""
    rng = demo.rng
    today = demo.today
    existing = set(demo.session.scalars(select(Campaign.name)))
    for type_name, sub_name, offset, cost in CAMPAIGNS:
        year = today.year + offset
        name = " - ".join(p for p in (type_name, sub_name, str(year)) if p)
        if name in existing:
            continue
        sub = sub_type(demo, type_name, sub_name) if sub_name else None
        current = year == today.year
        elapsed = (today - date(year, 1, 1)).days / 365 if current else 1
        created = demo.at(date(year, 1, 1) + timedelta(days=rng.randint(1, 20)), 10)
        created = min(created, demo.at(demo.start, 10))
        demo.campaigns.append(
            Campaign(
                name=name,
                type_id=demo.campaign_types[type_name].id,
                sub_type_id=sub.id if sub else None,
                status=(CampaignStatus.ACTIVE if current else CampaignStatus.COMPLETED).value,
                starts_on=date(year, 1, 1),
                ends_on=date(year, 12, 31),
                owner_id=demo.nick.id if type_name != "Telemarketing" else demo.cory.id,
                location_id=demo.locations[ARRC if rng.random() < 0.7 else FRESNO].id,
                budgeted_cost=cents(cost),
                actual_cost=cents(round(cost * elapsed, -1)),
                expected_revenue=cents(max(cost, 500) * 12),
                created_at=created,
                updated_at=created,
            )
        )
    demo.session.add_all(demo.campaigns)
    demo.session.flush()


def sub_type(demo: Demo, type_name: str, name: str) -> CampaignSubType:
    """The campaign type's sub-type of that name, added at the end of its list if missing."""
    campaign_type = demo.campaign_types[type_name]
    found = demo.session.scalar(
        select(CampaignSubType).where(
            CampaignSubType.type_id == campaign_type.id, CampaignSubType.name == name
        )
    )
    if found is None:
        taken = demo.session.scalar(
            select(func.count())
            .select_from(CampaignSubType)
            .where(CampaignSubType.type_id == campaign_type.id)
        )
        found = CampaignSubType(type_id=campaign_type.id, name=name, position=(taken or 0) + 1)
        demo.session.add(found)
        demo.session.flush()
    return found
