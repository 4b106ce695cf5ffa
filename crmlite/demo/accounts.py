"""The demo's clients and prospects: the firms of ``words.COMPANIES`` and their people."""

from __future__ import annotations

import re
from datetime import timedelta

from crmlite.demo.context import MS_SALES, PROJECTS, Demo
from crmlite.demo.words import (
    ARRC,
    CITIES,
    COMPANIES,
    CONTACT_TITLES,
    FIRST_NAMES,
    LAST_NAMES,
    STREETS,
)
from crmlite.models import Company, Contact


def companies(demo: Demo) -> None:
    """Each firm of COMPANIES, in its city, managed from its city's location: mostly Cory
    around ARRC and Manny around Fresno, Nick for the rest; on the books for 20 to 700 days
    before the window. Flushed (with PRODUCT.md's two), so contacts can point at them."""
    rng = demo.rng
    business_units = demo.business_units
    for name, industry, city in COMPANIES:
        zips, area, location_name = CITIES[city]
        if location_name == ARRC:
            manager = demo.cory if rng.random() < 0.55 else demo.nick
        else:
            manager = demo.manny if rng.random() < 0.8 else demo.nick
        domain = f"{_slug(name)}.example"
        created = demo.at(demo.start - timedelta(days=rng.randint(20, 700)), 9, 30)
        demo.companies.append(
            Company(
                name=name,
                street=f"{rng.randint(100, 9899)} {rng.choice(STREETS)}",
                city=city,
                region="CA",
                postal_code=rng.choice(zips),
                country="United States",
                phone=_phone(demo, area),
                email=f"info@{domain}",
                website=f"www.{domain}",
                industry=industry,
                account_manager_id=manager.id,
                location_id=demo.locations[location_name].id,
                business_unit_id=(
                    business_units[MS_SALES] if rng.random() < 0.7 else business_units[PROJECTS]
                ).id,
                created_at=created,
                updated_at=created,
            )
        )
    demo.session.add_all(demo.companies)
    demo.session.flush()


def contacts(demo: Demo) -> None:
    """One to three people per firm, no two with the same name, on the firm's line with an
    extension, often with a mobile."""
    rng = demo.rng
    used_names: set[tuple[str, str]] = set()

    def person() -> tuple[str, str]:
        while True:
            pair = (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
            if pair not in used_names:
                used_names.add(pair)
                return pair

    for company in demo.companies:
        domain = company.email.split("@", 1)[1]
        area = company.phone[1:4]
        for _ in range(rng.choice((1, 1, 2, 2, 2, 3))):
            first, last = person()
            demo.contacts.setdefault(company.id, []).append(
                Contact(
                    company_id=company.id,
                    first_name=first,
                    last_name=last,
                    title=rng.choice(CONTACT_TITLES),
                    email=f"{_slug(first)}.{_slug(last)}@{domain}",
                    phone=f"{company.phone} x{rng.randint(100, 299)}",
                    mobile=_phone(demo, area) if rng.random() < 0.6 else "",
                    created_at=company.created_at,
                    updated_at=company.created_at,
                )
            )
    demo.session.add_all(c for people in demo.contacts.values() for c in people)


def _phone(demo: Demo, area: str) -> str:
    """A number of the 555-01xx range, reserved for fiction."""
    return f"({area}) 555-01{demo.rng.randint(0, 99):02d}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("&", "and")).strip("-")
