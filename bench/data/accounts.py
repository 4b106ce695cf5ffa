"""The people and places of the bench data: locations, business units, members and their
quotas, campaigns, companies and their contacts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bench.data.context import (
    BENCH_PASSWORD,
    BUSINESS_UNITS,
    LOCATIONS,
    PAST_DAYS,
    Bench,
    CompanyRef,
    Row,
    table_of,
)
from crmlite.demo.words import (
    CITIES,
    COMPANY_KINDS,
    COMPANY_PLACES,
    CONTACT_TITLES,
    FIRST_NAMES,
    LAST_NAMES,
    STREETS,
)
from crmlite.models import (
    BusinessUnit,
    Campaign,
    CampaignStatus,
    CampaignSubType,
    CampaignType,
    Company,
    Contact,
    Location,
    Member,
    RevenueQuota,
    Role,
)
from crmlite.services.members import hash_password


def members(bench: Bench) -> None:
    """Three locations and business units (found or added); members bench-1@example.com …
    bench-K@, every tenth a manager, spread over them; a revenue quota for each month of this
    year. Members and quotas already there are kept."""
    rng, session = bench.rng, bench.session
    bench.location_ids = _named_ids(session, Location, LOCATIONS)
    bench.unit_ids = _named_ids(session, BusinessUnit, BUSINESS_UNITS)
    password_hash = hash_password(BENCH_PASSWORD)
    emails = [f"bench-{n}@example.com" for n in range(1, bench.members + 1)]
    existing = set(session.scalars(select(Member.email).where(Member.email.in_(emails))))
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
                "location_id": bench.location_ids[n % 3],
                "business_unit_id": bench.unit_ids[(n // 3) % 3],
                "points_quota": None,
                "calendar_token": None,
                "last_sign_in_at": None,
                "created_at": bench.now,
            }
        )
    if member_rows:
        session.execute(insert(table_of(Member)), member_rows)
    bench.member_ids = list(
        session.scalars(select(Member.id).where(Member.email.in_(emails)).order_by(Member.id))
    )
    year = bench.today.year
    have_quota = set(
        session.execute(
            select(RevenueQuota.member_id, RevenueQuota.month).where(
                RevenueQuota.year == year, RevenueQuota.member_id.in_(bench.member_ids)
            )
        )
    )
    quota_rows = [
        {
            "member_id": m,
            "year": year,
            "month": month,
            "revenue": Decimal(rng.choice((3000, 3500, 4000, 5000))),
            "margin": None,
        }
        for m in bench.member_ids
        for month in range(1, 13)
        if (m, month) not in have_quota
    ]
    if quota_rows:
        session.execute(insert(table_of(RevenueQuota)), quota_rows)
    session.commit()
    bench.progress(
        f"members: {len(bench.member_ids):,} ({len(member_rows):,} new), "
        f"quotas: {len(quota_rows):,}"
    )


def campaigns(bench: Bench) -> None:
    """One campaign per type (its first sub-type) for this year and last, unless there."""
    session = bench.session
    types = list(session.scalars(select(CampaignType).order_by(CampaignType.position)))
    subs: dict[int, tuple[int, str]] = {}
    for type_id, sub_id, name in session.execute(
        select(CampaignSubType.type_id, CampaignSubType.id, CampaignSubType.name).order_by(
            CampaignSubType.position, CampaignSubType.id
        )
    ):
        subs.setdefault(type_id, (sub_id, name))
    existing = set(session.scalars(select(Campaign.name)))
    rows = []
    for year in (bench.today.year - 1, bench.today.year):
        for n, campaign_type in enumerate(types):
            sub = subs.get(campaign_type.id)
            name = " - ".join(
                p for p in (campaign_type.name, sub[1] if sub else None, str(year)) if p
            )
            if name in existing:
                continue
            cost = Decimal(250 * (n % 8 + 1))
            current = year == bench.today.year
            rows.append(
                {
                    "name": name,
                    "type_id": campaign_type.id,
                    "sub_type_id": sub[0] if sub else None,
                    "status": (
                        CampaignStatus.ACTIVE if current else CampaignStatus.COMPLETED
                    ).value,
                    "starts_on": date(year, 1, 1),
                    "ends_on": date(year, 12, 31),
                    "owner_id": bench.member_ids[n % len(bench.member_ids)],
                    "location_id": bench.location_ids[n % len(bench.location_ids)],
                    "budgeted_cost": cost,
                    "actual_cost": cost,
                    "expected_revenue": cost * 12,
                    "notes": "",
                    "contact_track_id": None,
                    "opportunity_track_id": None,
                    "created_at": bench.now,
                    "updated_at": bench.now,
                }
            )
    if rows:
        session.execute(insert(table_of(Campaign)), rows)
    session.commit()
    bench.campaign_ids = list(session.scalars(select(Campaign.id).order_by(Campaign.id)))


def companies(bench: Bench) -> None:
    """A third as many companies as opportunities (or one per 300 activities), with unique
    names, in a Central Valley city, on the books for one to three years."""
    rng = bench.rng
    if bench.opportunities:
        count = max(1, bench.opportunities // 3)
    else:
        count = max(1, bench.activities // 300)
    cities = list(CITIES.items())
    used_names: set[str] = set()
    rows: list[Row] = []
    for n in range(count):
        kind, industry = rng.choice(COMPANY_KINDS)
        city, (zips, area, _location) = rng.choice(cities)
        name = f"{rng.choice(COMPANY_PLACES)} {kind}"
        if name in used_names:
            name = f"{name} of {city}"
        if name in used_names:
            name = f"{name} #{n}"
        used_names.add(name)
        domain = "".join(ch for ch in name.lower() if ch.isalnum()) + ".example"
        created = bench.now - timedelta(days=rng.randint(PAST_DAYS + 30, PAST_DAYS + 900))
        phone = f"({area}) 555-01{rng.randint(0, 99):02d}"
        owner_id = rng.choice(bench.member_ids)
        location_id = rng.choice(bench.location_ids)
        unit_id = rng.choice(bench.unit_ids)
        street = f"{rng.randint(100, 9899)} {rng.choice(STREETS)}"
        company = CompanyRef(
            name, phone, f"info@{domain}", owner_id, street, city, rng.choice(zips), created
        )
        bench.companies.append(company)
        rows.append(
            {
                "name": name,
                "phone": phone,
                "email": company.email,
                "website": f"www.{domain}",
                "industry": industry,
                "notes": "",
                "account_manager_id": owner_id,
                "location_id": location_id,
                "business_unit_id": unit_id,
                "street": street,
                "city": city,
                "region": "CA",
                "postal_code": company.postal_code,
                "country": "United States",
                "created_at": created,
                "updated_at": created,
            }
        )
    ids = bench.bulk_ids(Company, rows, "companies")
    for company, company_id in zip(bench.companies, ids, strict=True):
        company.id = company_id


def contacts(bench: Bench) -> None:
    """One to three people per company, at its address, on its line with an extension."""
    rng = bench.rng
    rows: list[Row] = []
    owners: list[CompanyRef] = []
    for company in bench.companies:
        domain = company.email.split("@", 1)[1]
        for _ in range(rng.choice((1, 2, 2, 3))):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            rows.append(
                {
                    "company_id": company.id,
                    "first_name": first,
                    "last_name": last,
                    "title": rng.choice(CONTACT_TITLES),
                    "email": f"{first.lower()}.{last.lower()}@{domain}",
                    "phone": f"{company.phone} x{rng.randint(100, 299)}",
                    "mobile": "",
                    "unsubscribed_at": None,
                    "street": company.street,
                    "city": company.city,
                    "region": "CA",
                    "postal_code": company.postal_code,
                    "country": "United States",
                    "created_at": company.created_at,
                    "updated_at": company.created_at,
                }
            )
            owners.append(company)
    ids = bench.bulk_ids(Contact, rows, "contacts")
    for contact_id, company, row in zip(ids, owners, rows, strict=True):
        company.contacts.append((contact_id, row["first_name"], row["phone"]))
    bench.contact_count = len(ids)


def _named_ids(
    session: Session, model: type[Location] | type[BusinessUnit], names: Iterable[str]
) -> list[int]:
    """The ids of the locations or business units of these names, adding the missing ones."""
    existing = dict(session.execute(select(model.name, model.id)).all())
    missing = [n for n in names if n not in existing]
    if missing:
        session.execute(insert(table_of(model)), [{"name": n, "active": True} for n in missing])
        existing = dict(session.execute(select(model.name, model.id)).all())
    return [existing[n] for n in names]
