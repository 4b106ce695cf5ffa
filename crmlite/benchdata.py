"""Bench data: a large, realistic data set generated fast, for the benchmarks.

``flask crm bench-data`` calls ``generate``. Rows go in with SQLAlchemy Core bulk inserts
(``insert(table)`` with a list of dicts, ~20,000 rows a statement batch) and a commit per
chunk, so memory stays flat and progress is visible; ids are assigned by the database and
read back with ``RETURNING`` (sorted by parameter order) where later rows need them. Works
on SQLite and PostgreSQL alike.

Every NOT NULL column is filled explicitly in the dicts: Core applies Python-side defaults
only for keys left out, and spelling them out keeps the generated data exact (``version`` 1,
timestamps in the past, aware UTC datetimes as ``UTCDateTime`` requires).
"""

from __future__ import annotations

import random
import time as clock
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, select

from crmlite.database import utcnow
from crmlite.demo.words import (
    CITIES,
    CONTACT_TITLES,
    FIRST_NAMES,
    LAST_NAMES,
    LOST_REASONS,
    STREETS,
)
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityStatus,
    ActivityType,
    BusinessUnit,
    Campaign,
    CampaignStatus,
    CampaignSubType,
    CampaignType,
    Company,
    Contact,
    ForecastLine,
    Location,
    Member,
    Opportunity,
    OpportunityStatus,
    OpportunityType,
    Rating,
    RevenueQuota,
    Role,
    SalesStage,
    StageChange,
)
from crmlite.services import next_steps as next_step_days
from crmlite.services import stage_history
from crmlite.services.members import hash_password
from crmlite.services.team import get_team, local_today

Echo = Callable[[str], None]

CHUNK = 20_000
BENCH_PASSWORD = "crmlite-bench"
LOCATIONS = ("ARRC", "Fresno", "Sacramento")
BUSINESS_UNITS = ("MS Sales", "Project Services", "Cloud Services")
# Activities span the last 12 months and the next 2.
PAST_DAYS = 365
FUTURE_DAYS = 61
# Share of the past activities that are closed; with the future ones open, ~70% overall.
PAST_CLOSED = 0.81
# Share of open opportunities that get a next step (the rest show up as stalled).
NEXT_STEP_SHARE = 0.85
# Open stages by weight; Won and Lost are the rest.
OPEN_WEIGHTS = (28, 18, 14, 12, 10, 8)
WON_SHARE, LOST_SHARE = 0.18, 0.12

COMPANY_PLACES = [
    "Kern",
    "Valley",
    "Sierra",
    "Golden State",
    "Central",
    "Pacific",
    "Delta",
    "Foothill",
    "Sequoia",
    "Mojave",
    "Tule River",
    "Riverbend",
    "Oak Park",
    "Sunset",
    "Mission",
    "Westside",
    "Eastside",
    "Cal Coast",
    "San Joaquin",
    "Kings River",
    "Orchard",
    "Redwood",
    "Lakeside",
    "Highland",
    "Granite",
    "Summit",
    "Canyon",
    "Harbor",
    "Vista",
    "Crossroads",
]
COMPANY_KINDS = [
    ("Dental", "Dental"),
    ("Family Medicine", "Healthcare"),
    ("Law Group", "Legal"),
    ("Accounting", "Accounting"),
    ("Realty", "Real Estate"),
    ("Insurance Agency", "Insurance"),
    ("Auto Group", "Automotive"),
    ("Ag Supply", "Agriculture"),
    ("Veterinary Hospital", "Veterinary"),
    ("Title & Escrow", "Real Estate"),
    ("Machine Works", "Manufacturing"),
    ("Credit Union", "Financial Services"),
    ("Physical Therapy", "Healthcare"),
    ("Engineering", "Engineering"),
    ("Logistics", "Transportation"),
    ("Builders", "Construction"),
    ("Heating & Air", "Construction"),
    ("Wine Cellars", "Food & Beverage"),
    ("Charter School", "Education"),
    ("Property Management", "Real Estate"),
]
PLACES_BY_CODE = {
    "CC": "Office",
    "VE": "E-mail",
    "SE": "Phone",
    "MT": "Phone",
    "LF": "Phone",
    "HQ": "Office",
    "AQ": "Office",
    "TC": "Office",
    "TP": "Office",
    "WB": "Remote",
}
NEXT_STEP_CODE = {
    "Prospect": "SA",
    "1st Appointment": "DM",
    "Discovery": "PA",
    "Presentation": "FC",
    "Follow-Up": "FC",
    "Commitment": "SE",
}


@dataclass
class _Plan:
    """An opportunity's stage walk, kept until its id is known."""

    path: list[int]
    moments: list[datetime]
    company_index: int
    contact_id: int
    owner_id: int
    is_open: bool
    stage_name: str
    campaign_id: int | None
    product_id: int
    revenue: Decimal
    cost: Decimal
    status_id: int


@dataclass
class _Company:
    id: int
    name: str
    phone: str
    owner_id: int
    contacts: list[tuple[int, str, str]] = field(default_factory=list)  # id, first, phone


class _Progress:
    def __init__(self, echo: Echo, started: float) -> None:
        self.echo = echo
        self.started = started

    def __call__(self, message: str) -> None:
        self.echo(f"[{clock.perf_counter() - self.started:7.1f}s] {message}")


def _chunks(rows: Iterable[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _bulk(
    table: Table, rows: Iterable[dict[str, Any]], progress: _Progress, label: str, total: int
) -> int:
    """Insert in chunks, committing each; returns the number of rows."""
    done = 0
    for batch in _chunks(rows):
        db.session.execute(insert(table), batch)
        db.session.commit()
        done += len(batch)
        progress(f"{label}: {done:,} / {total:,}")
    return done


def _bulk_ids(
    table: Table, rows: list[dict[str, Any]], progress: _Progress, label: str
) -> list[int]:
    """Insert in chunks and return the new ids in the order of `rows`."""
    ids: list[int] = []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    for batch in _chunks(rows):
        ids.extend(db.session.execute(statement, batch).scalars())
        db.session.commit()
        progress(f"{label}: {len(ids):,} / {len(rows):,}")
    return ids


def _named_ids(model: type[Location] | type[BusinessUnit], names: Iterable[str]) -> list[int]:
    existing = dict(db.session.execute(select(model.name, model.id)).all())
    missing = [n for n in names if n not in existing]
    if missing:
        db.session.execute(insert(model.__table__), [{"name": n, "active": True} for n in missing])
        existing = dict(db.session.execute(select(model.name, model.id)).all())
    return [existing[n] for n in names]


def generate(*, opportunities: int, activities: int, members: int, seed: int, echo: Echo) -> None:
    """Add `members` bench members, ~opportunities/3 companies with contacts, the
    opportunities with their stage history and forecast lines, `activities` activities over
    the last 12 months and the next 2, and this year's revenue quotas. Commits per chunk."""
    started = clock.perf_counter()
    progress = _Progress(echo, started)
    rng = random.Random(seed)
    tz = ZoneInfo(get_team().time_zone)
    today = local_today(tz)
    now = utcnow()

    # Noon of each local day as a UTC instant: working hours never cross a DST change, so a
    # local wall time on that day is noon_utc + (minutes after midnight - 720).
    first_day = today - timedelta(days=PAST_DAYS + 120)
    days = [
        first_day + timedelta(days=n) for n in range((today - first_day).days + FUTURE_DAYS + 1)
    ]
    noon_utc = {d: datetime.combine(d, time(12), tzinfo=tz).astimezone(UTC) for d in days}

    def at(day: date, minutes: int) -> datetime:
        return noon_utc[day] + timedelta(minutes=minutes - 720)

    stages = list(db.session.scalars(select(SalesStage).order_by(SalesStage.position)))
    open_stages = [s for s in stages if not s.is_won and not s.is_lost]
    won_stage = next(s for s in stages if s.is_won)
    lost_stage = next(s for s in stages if s.is_lost)
    statuses = {s.name: s.id for s in db.session.scalars(select(OpportunityStatus))}
    products = list(db.session.execute(select(OpportunityType.id, OpportunityType.name)))
    activity_types = list(db.session.scalars(select(ActivityType).order_by(ActivityType.position)))
    type_by_code = {t.code: t for t in activity_types}

    # -- locations, business units, members, quotas --
    location_ids = _named_ids(Location, LOCATIONS)
    unit_ids = _named_ids(BusinessUnit, BUSINESS_UNITS)
    password_hash = hash_password(BENCH_PASSWORD)
    emails = [f"bench-{n}@example.com" for n in range(1, members + 1)]
    existing = set(db.session.scalars(select(Member.email).where(Member.email.in_(emails))))
    member_rows = []
    for n, email in enumerate(emails, start=1):
        if email in existing:
            continue
        manager = n % 10 == 1
        member_rows.append(
            {
                "email": email,
                "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "title": "Sales Manager"
                if manager
                else rng.choice(("Sales Executive", "Account Manager")),
                "role": (Role.MANAGER if manager else Role.REP).value,
                "password_hash": password_hash,
                "active": True,
                "location_id": location_ids[n % 3],
                "business_unit_id": unit_ids[(n // 3) % 3],
                "points_quota": None,
                "calendar_token": None,
                "last_sign_in_at": None,
                "created_at": now,
            }
        )
    if member_rows:
        db.session.execute(insert(Member.__table__), member_rows)
    member_ids = list(
        db.session.scalars(select(Member.id).where(Member.email.in_(emails)).order_by(Member.id))
    )
    have_quota = set(
        db.session.execute(
            select(RevenueQuota.member_id, RevenueQuota.month).where(
                RevenueQuota.year == today.year, RevenueQuota.member_id.in_(member_ids)
            )
        )
    )
    quota_rows = [
        {
            "member_id": m,
            "year": today.year,
            "month": month,
            "revenue": Decimal(rng.choice((3000, 3500, 4000, 5000))),
            "margin": None,
        }
        for m in member_ids
        for month in range(1, 13)
        if (m, month) not in have_quota
    ]
    if quota_rows:
        db.session.execute(insert(RevenueQuota.__table__), quota_rows)
    db.session.commit()
    progress(
        f"members: {len(member_ids):,} ({len(member_rows):,} new), quotas: {len(quota_rows):,}"
    )

    campaign_ids = _campaigns(today, now, member_ids, location_ids)

    # -- companies and contacts --
    company_count = max(1, opportunities // 3) if opportunities else max(1, activities // 300)
    cities = list(CITIES.items())
    company_rows = []
    used_names: set[str] = set()
    for n in range(company_count):
        kind, industry = rng.choice(COMPANY_KINDS)
        city, (zips, area, _location) = rng.choice(cities)
        name = f"{rng.choice(COMPANY_PLACES)} {kind}"
        if name in used_names:
            name = f"{name} of {city}"
        if name in used_names:
            name = f"{name} #{n}"
        used_names.add(name)
        domain = "".join(ch for ch in name.lower() if ch.isalnum()) + ".example"
        created = now - timedelta(days=rng.randint(PAST_DAYS + 30, PAST_DAYS + 900))
        company_rows.append(
            {
                "name": name,
                "phone": f"({area}) 555-01{rng.randint(0, 99):02d}",
                "email": f"info@{domain}",
                "website": f"www.{domain}",
                "industry": industry,
                "notes": "",
                "account_manager_id": rng.choice(member_ids),
                "location_id": rng.choice(location_ids),
                "business_unit_id": rng.choice(unit_ids),
                "street": f"{rng.randint(100, 9899)} {rng.choice(STREETS)}",
                "city": city,
                "region": "CA",
                "postal_code": rng.choice(zips),
                "country": "United States",
                "created_at": created,
                "updated_at": created,
            }
        )
    company_ids = _bulk_ids(Company.__table__, company_rows, progress, "companies")
    companies = [
        _Company(cid, row["name"], row["phone"], row["account_manager_id"])
        for cid, row in zip(company_ids, company_rows, strict=True)
    ]

    contact_rows = []
    contact_company: list[int] = []
    for index, (company, row) in enumerate(zip(companies, company_rows, strict=True)):
        domain = row["email"].split("@", 1)[1]
        for _ in range(rng.choice((1, 2, 2, 3))):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            contact_rows.append(
                {
                    "company_id": company.id,
                    "first_name": first,
                    "last_name": last,
                    "title": rng.choice(CONTACT_TITLES),
                    "email": f"{first.lower()}.{last.lower()}@{domain}",
                    "phone": f"{company.phone} x{rng.randint(100, 299)}",
                    "mobile": "",
                    "unsubscribed_at": None,
                    "street": row["street"],
                    "city": row["city"],
                    "region": "CA",
                    "postal_code": row["postal_code"],
                    "country": "United States",
                    "created_at": row["created_at"],
                    "updated_at": row["created_at"],
                }
            )
            contact_company.append(index)
    contact_ids = _bulk_ids(Contact.__table__, contact_rows, progress, "contacts")
    for contact_id, index, row in zip(contact_ids, contact_company, contact_rows, strict=True):
        companies[index].contacts.append((contact_id, row["first_name"], row["phone"]))
    del company_rows, contact_rows

    # -- opportunities, stage history, forecast lines --
    plans: list[_Plan] = []
    opportunity_rows = []
    for _ in range(opportunities):
        roll = rng.random()
        if roll < WON_SHARE:
            path = [*open_stages[: rng.randint(4, 6)], won_stage]
            status_id = statuses["Won"]
        elif roll < WON_SHARE + LOST_SHARE:
            path = [*open_stages[: rng.randint(1, 5)], lost_stage]
            status_id = statuses["Lost"]
        else:
            current = rng.choices(range(len(open_stages)), OPEN_WEIGHTS)[0]
            path = open_stages[: current + 1]
            status_id = statuses["Open"]
        stage = path[-1]
        company_index = rng.randrange(len(companies))
        company = companies[company_index]
        contact_id = rng.choice(company.contacts)[0]
        owner_id = company.owner_id if rng.random() < 0.8 else rng.choice(member_ids)
        product_id, product = rng.choice(products)
        revenue = Decimal(rng.randint(10, 1200) * 50)
        cost = (revenue * Decimal(rng.randint(30, 80)) / 100).quantize(Decimal("0.01"))
        # The walk: created 5-365 days ago, then a move every few days.
        created_day = today - timedelta(days=rng.randint(len(path) * 3 + 2, PAST_DAYS))
        moments = []
        day = created_day
        for _step in path:
            moments.append(at(day, rng.randint(8 * 60, 17 * 60 - 1)))
            day = min(day + timedelta(days=rng.randint(2, 12)), today - timedelta(days=1))
        for i in range(1, len(moments)):
            if moments[i] <= moments[i - 1]:
                moments[i] = moments[i - 1] + timedelta(minutes=30)
        moments = [min(m, now - timedelta(minutes=len(moments) - i)) for i, m in enumerate(moments)]
        closed = stage.is_won or stage.is_lost
        last = moments[-1]
        campaign_id = rng.choice(campaign_ids) if campaign_ids and rng.random() < 0.8 else None
        plans.append(
            _Plan(
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
        opportunity_rows.append(
            {
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
                    last.astimezone(tz).date()
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
                "location_id": rng.choice(location_ids),
                "business_unit_id": rng.choice(unit_ids),
                "stage_entered_at": last,
                "created_at": moments[0],
                "created_by_id": owner_id,
                "updated_at": last,
                "updated_by_id": owner_id,
                "version": 1,
            }
        )
    opportunity_ids = _bulk_ids(Opportunity.__table__, opportunity_rows, progress, "opportunities")
    del opportunity_rows

    def stage_changes() -> Iterator[dict[str, Any]]:
        for opportunity_id, plan in zip(opportunity_ids, plans, strict=True):
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

    change_count = sum(len(p.path) for p in plans)
    _bulk(StageChange.__table__, stage_changes(), progress, "stage changes", change_count)
    _bulk(
        ForecastLine.__table__,
        (
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
            for opportunity_id, plan in zip(opportunity_ids, plans, strict=True)
        ),
        progress,
        "forecast lines",
        len(plans),
    )

    # -- activities --
    by_owner: dict[int, list[int]] = {}
    for index, plan in enumerate(plans):
        by_owner.setdefault(plan.owner_id, []).append(index)
    companies_by_owner: dict[int, list[int]] = {}
    for index, company in enumerate(companies):
        companies_by_owner.setdefault(company.owner_id, []).append(index)
    codes = [t.code for t in activity_types]
    weights = [t.monthly_count or 1 for t in activity_types]
    past_days = [d for d in days[-(PAST_DAYS + FUTURE_DAYS + 1) :] if d < today and d.weekday() < 5]
    future_days = [d for d in days if d >= today and d.weekday() < 5]
    all_days = past_days + future_days
    next_steps = [i for i, p in enumerate(plans) if p.is_open and rng.random() < NEXT_STEP_SHARE]
    next_steps = next_steps[:activities]
    # How far into past_days an opportunity's other activities may fall: anywhere for one with
    # a next step, only in the past for a stalled one (so it stays stalled), and only up to
    # the close for a won or lost one.
    scheduled = set(next_steps)
    day_limit: list[int | None] = [
        None
        if i in scheduled
        else len(past_days)
        if plan.is_open
        else bisect_right(past_days, plan.moments[-1].astimezone(tz).date())
        for i, plan in enumerate(plans)
    ]

    def activity_row(
        code: str, member_id: int, day: date, plan_index: int | None, company_index: int | None
    ) -> dict[str, Any]:
        activity_type = type_by_code[code]
        company = companies[company_index] if company_index is not None else None
        contact = rng.choice(company.contacts) if company is not None else None
        opportunity_id = campaign_id = None
        if plan_index is not None:
            plan = plans[plan_index]
            opportunity_id, campaign_id = opportunity_ids[plan_index], plan.campaign_id
            contact = (
                next((c for c in company.contacts if c[0] == plan.contact_id), contact)
                if company is not None
                else contact
            )
        starts_at = ends_at = None
        if rng.random() < 0.7:
            minutes = 120 if code == "CC" else rng.choice((30, 60, 60, 90))
            start = rng.randrange(8 * 60, 17 * 60 - minutes + 1, 30)
            starts_at = at(day, start)
            ends_at = starts_at + timedelta(minutes=minutes)
        closed = day < today and rng.random() < PAST_CLOSED
        closed_at = None
        if closed:
            closed_at = (
                ends_at + timedelta(minutes=10)
                if ends_at is not None
                else at(day, rng.randint(8 * 60, 17 * 60))
            )
        created_at = min(at(day, 8 * 60) - timedelta(days=rng.randint(0, 14)), now)
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

    def activity_rows() -> Iterator[dict[str, Any]]:
        # First the next step of most open opportunities, then the day-to-day work.
        for index in next_steps:
            plan = plans[index]
            yield activity_row(
                NEXT_STEP_CODE.get(plan.stage_name, "SE"),
                plan.owner_id,
                rng.choice(future_days[:15]),
                index,
                plan.company_index,
            )
        remaining = activities - len(next_steps)
        while remaining > 0:
            batch = min(remaining, CHUNK)
            for code in rng.choices(codes, weights, k=batch):
                member_id = rng.choice(member_ids)
                day = rng.choice(all_days)
                roll = rng.random()
                plan_index = company_index = None
                if roll < 0.4 and by_owner.get(member_id):
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
                    company_index = rng.choice(pool) if pool else rng.randrange(len(companies))
                yield activity_row(code, member_id, day, plan_index, company_index)
            remaining -= batch

    _bulk(Activity.__table__, activity_rows(), progress, "activities", activities)
    # Core inserts bypass the ORM hooks that keep next steps and the stage history's
    # derived columns in step: refresh them all.
    next_step_days.refresh(db.session)
    stage_history.refresh(db.session)
    db.session.commit()
    progress(
        f"done: {len(member_ids):,} members, {len(companies):,} companies, "
        f"{len(contact_ids):,} contacts, {len(opportunity_ids):,} opportunities, "
        f"{change_count:,} stage changes, {activities:,} activities"
    )


def _campaigns(
    today: date, now: datetime, member_ids: list[int], location_ids: list[int]
) -> list[int]:
    """One campaign per type (its first sub-type) for this year and last; returns all ids."""
    types = list(db.session.scalars(select(CampaignType).order_by(CampaignType.position)))
    subs: dict[int, tuple[int, str]] = {}
    for type_id, sub_id, name in db.session.execute(
        select(CampaignSubType.type_id, CampaignSubType.id, CampaignSubType.name).order_by(
            CampaignSubType.position, CampaignSubType.id
        )
    ):
        subs.setdefault(type_id, (sub_id, name))
    existing = set(db.session.scalars(select(Campaign.name)))
    rows = []
    for year in (today.year - 1, today.year):
        for n, campaign_type in enumerate(types):
            sub = subs.get(campaign_type.id)
            name = " - ".join(
                p for p in (campaign_type.name, sub[1] if sub else None, str(year)) if p
            )
            if name in existing:
                continue
            cost = Decimal(250 * (n % 8 + 1))
            rows.append(
                {
                    "name": name,
                    "type_id": campaign_type.id,
                    "sub_type_id": sub[0] if sub else None,
                    "status": (
                        CampaignStatus.ACTIVE if year == today.year else CampaignStatus.COMPLETED
                    ).value,
                    "starts_on": date(year, 1, 1),
                    "ends_on": date(year, 12, 31),
                    "owner_id": member_ids[n % len(member_ids)],
                    "location_id": location_ids[n % len(location_ids)],
                    "budgeted_cost": cost,
                    "actual_cost": cost,
                    "expected_revenue": cost * 12,
                    "notes": "",
                    "contact_track_id": None,
                    "opportunity_track_id": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    if rows:
        db.session.execute(insert(Campaign.__table__), rows)
    db.session.commit()
    return list(db.session.scalars(select(Campaign.id).order_by(Campaign.id)))
