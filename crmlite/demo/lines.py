"""What the demo's deals are worth: forecast lines sized like a small managed service
provider's work, and the description each opportunity gets from its first line."""

from __future__ import annotations

import random
from decimal import Decimal

from crmlite.demo.context import (
    ASSESSMENT,
    CABLING,
    CLOUD,
    HARDWARE,
    MANAGED_SERVICES,
    MS_BACKUP,
    MS_COMPLETE,
    MS_PHONE,
    Line,
)
from crmlite.models import Company
from crmlite.services.money import cents

# No deal is worth more than this over its whole term.
MOST = 58_000


def lines_for(rng: random.Random, product: str, target: Decimal | None) -> list[Line]:
    """Forecast lines for a deal of this product: random in size, or close to `target`."""
    if target is not None:
        return _near(rng, product, target)
    if product in MANAGED_SERVICES:
        return _agreement(rng, product)
    return _project(rng, product)


def describe(product: str, company: Company, lines: list[Line]) -> str:
    """The opportunity's description: what is sold, in the words of its first line."""
    detail = lines[0].description
    return {
        MS_COMPLETE: f"Managed services for {company.name}: {detail}",
        MS_PHONE: f"Phone system upgrade: {detail}",
        MS_BACKUP: f"Backup & recovery: {detail}",
        CABLING: f"Cabling for the office: {detail}",
        HARDWARE: f"Hardware refresh: {detail}",
        ASSESSMENT: "Network assessment before a managed services proposal",
        CLOUD: detail,
    }[product]


def _share(rng: random.Random, low: int, high: int) -> Decimal:
    """A random whole percentage between low and high, as a fraction (the cost share)."""
    return Decimal(rng.randint(low, high)) / 100


def _near(rng: random.Random, product: str, target: Decimal) -> list[Line]:
    """One line worth about `target`: a 12-month agreement (monthly fee rounded to 5) or a
    fixed price."""
    if product in MANAGED_SERVICES:
        monthly = cents(round(float(target) / 12 / 5) * 5)
        return [
            Line(
                product,
                "Managed services agreement, 12 months",
                monthly,
                cents(monthly * _share(rng, 40, 55)),
                recurring=True,
                months=12,
            )
        ]
    return [Line(product, f"{product} (fixed price)", target, cents(target * _share(rng, 35, 80)))]


def _agreement(rng: random.Random, product: str) -> list[Line]:
    """A managed services agreement priced per user or server, for 12 to 36 months (shorter
    when it would exceed MOST), sometimes with an onboarding fee."""
    if product == MS_COMPLETE:
        seats = rng.randint(8, 45)
        monthly, label = seats * rng.choice((95, 105, 115, 125)), f"{seats} users"
    elif product == MS_PHONE:
        seats = rng.randint(6, 40)
        monthly, label = seats * rng.choice((25, 30, 35)), f"hosted VoIP, {seats} users"
    else:
        servers = rng.randint(1, 6)
        monthly, label = 150 + servers * rng.choice((120, 150, 180)), f"{servers} servers"
    months = rng.choice((12, 24, 36, 36))
    while monthly * months > MOST and months > 12:
        months -= 12
    monthly = min(monthly, MOST // months)
    lines = [
        Line(
            product,
            f"Managed services, {label}",
            cents(monthly),
            cents(monthly * _share(rng, 40, 60)),
            recurring=True,
            months=months,
        )
    ]
    if rng.random() < 0.35:
        setup = rng.choice((500, 750, 1000, 1500, 2000))
        lines.append(
            Line(product, "Onboarding and setup", cents(setup), cents(setup * _share(rng, 20, 40)))
        )
    return lines


def _project(rng: random.Random, product: str) -> list[Line]:
    """A one-off project sized by drops, workstations, mailboxes or a flat fee, sometimes
    with an assessment before it."""
    if product == CABLING:
        drops = rng.randint(12, 110)
        revenue = drops * rng.choice((125, 140, 155, 175))
        lines = [
            Line(
                product,
                f"{drops} network drops",
                cents(revenue),
                cents(revenue * _share(rng, 48, 60)),
            )
        ]
    elif product == HARDWARE:
        pcs = rng.randint(3, 18)
        revenue = pcs * rng.choice((950, 1100, 1250))
        lines = [
            Line(
                product, f"{pcs} workstations", cents(revenue), cents(revenue * _share(rng, 78, 86))
            )
        ]
        if rng.random() < 0.4:
            server = rng.choice((4500, 6800, 8900))
            lines.append(
                Line(product, "Server and UPS", cents(server), cents(server * _share(rng, 75, 82)))
            )
    elif product == ASSESSMENT:
        revenue = rng.choice((750, 1000, 1500, 2000, 2500))
        lines = [
            Line(
                product,
                "Network assessment and report",
                cents(revenue),
                cents(revenue * _share(rng, 10, 25)),
            )
        ]
    else:
        users = rng.randint(10, 60)
        revenue = users * rng.choice((90, 120, 150)) + rng.choice((0, 2500, 5000))
        lines = [
            Line(
                product,
                f"Move {users} mailboxes and files to Microsoft 365",
                cents(revenue),
                cents(revenue * _share(rng, 35, 50)),
            )
        ]
    if rng.random() < 0.25:
        assessment = rng.choice((500, 750, 1000))
        lines.append(
            Line(
                ASSESSMENT,
                "Pre-project assessment",
                cents(assessment),
                cents(assessment * _share(rng, 10, 20)),
            )
        )
    return lines
