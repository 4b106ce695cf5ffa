"""The demo team: two locations, two business units, three members and their quotas."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from crmlite.demo.context import DEMO_PASSWORD, MS_SALES, PROJECTS, Demo
from crmlite.demo.words import ARRC, FRESNO
from crmlite.models import BusinessUnit, Location, RevenueQuota, Role
from crmlite.services.members import create_member

MONTHLY_QUOTAS = {
    "nick@example.com": Decimal("3500.00"),
    "cory@example.com": Decimal("4000.00"),
    "manny@example.com": Decimal("3000.00"),
}


def members(demo: Demo) -> None:
    """ARRC and Fresno, MS Sales and Project Services (found or added); Nick (admin) and Cory
    (manager) sell managed services from ARRC, Manny (rep) projects from Fresno; each has a
    monthly revenue quota for every month of last year and this one."""
    session = demo.session
    for name in (ARRC, FRESNO):
        demo.locations[name] = _location(demo, name)
    for name in (MS_SALES, PROJECTS):
        demo.business_units[name] = _business_unit(demo, name)
    session.flush()
    arrc, fresno = demo.locations[ARRC], demo.locations[FRESNO]
    ms_sales, projects = demo.business_units[MS_SALES], demo.business_units[PROJECTS]
    demo.nick = create_member(
        email="nick@example.com",
        name="Nick Points",
        password=DEMO_PASSWORD,
        role=Role.ADMIN,
        title="Channel Development Sales Executive",
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
    )
    demo.cory = create_member(
        email="cory@example.com",
        name="Cory Ferguson",
        password=DEMO_PASSWORD,
        role=Role.MANAGER,
        title="Account Manager",
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
    )
    demo.manny = create_member(
        email="manny@example.com",
        name="Manny Martinez",
        password=DEMO_PASSWORD,
        role=Role.REP,
        title="Sales Executive",
        location_id=fresno.id,
        business_unit_id=projects.id,
    )
    demo.quota = {m.id: MONTHLY_QUOTAS[m.email] for m in demo.members}
    session.add_all(
        RevenueQuota(member_id=m.id, year=year, month=month, revenue=demo.quota[m.id])
        for m in demo.members
        for year in (demo.today.year - 1, demo.today.year)
        for month in range(1, 13)
    )


def _location(demo: Demo, name: str) -> Location:
    found = demo.session.scalar(select(Location).where(Location.name == name))
    if found is None:
        found = Location(name=name)
        demo.session.add(found)
    return found


def _business_unit(demo: Demo, name: str) -> BusinessUnit:
    found = demo.session.scalar(select(BusinessUnit).where(BusinessUnit.name == name))
    if found is None:
        found = BusinessUnit(name=name)
        demo.session.add(found)
    return found
