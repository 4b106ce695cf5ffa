"""Demo data: PRODUCT.md's example records and about three months of a team's work.

``load_demo`` is deterministic: the generator is seeded and every date is placed relative
to ``today`` (the team-local date by default), so with a fixed ``today`` the same rows come
out on every machine, and with the real one the app always looks alive: about 75 days of
history, a calendar for the next three weeks, and a funnel whose open opportunities mostly
have their next step scheduled.

It assumes the defaults are loaded (``load_defaults``). Like every service it only flushes;
the caller commits.

The package, by area: ``context`` (the scenario's figures and the ``Demo`` object the
phases share), ``words`` (names, places, phrases), ``team``, ``accounts``, ``campaigns``,
``examples`` (PRODUCT.md's records), ``deals`` and ``lines`` (the funnel), ``work`` (the
day-to-day activities).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

from crmlite.demo import accounts, campaigns, deals, examples, team, work
from crmlite.demo.context import DEMO_PASSWORD, FUTURE_DAYS, PAST_DAYS, SEED, Demo
from crmlite.extensions import db
from crmlite.services.members import find_by_email
from crmlite.services.team import get_team, local_today

__all__ = ["DEMO_PASSWORD", "FUTURE_DAYS", "PAST_DAYS", "SEED", "DemoAlreadyLoaded", "load_demo"]


class DemoAlreadyLoaded(ValueError):
    """The demo team (nick@example.com) is in the database already."""


def _save_activities(demo: Demo) -> None:
    """Every activity, in the order the phases made them (which gives their ids)."""
    demo.session.add_all(demo.activities)
    demo.session.flush()


# In this order: each draws from the one seeded generator, and each table's rows are added
# in the order that gives them their ids (PRODUCT.md's examples first).
PHASES: tuple[Callable[[Demo], None], ...] = (
    team.members,  # ARRC and Fresno, Nick, Cory and Manny, their revenue quotas
    examples.companies,  # Tows R Us and CharTec
    accounts.companies,  # the Central Valley firms
    examples.contacts,  # Shane Swanson and Jason Rivas
    accounts.contacts,  # one to three people per firm
    examples.campaigns,  # 2013's referral campaigns
    campaigns.campaigns,  # last year's and this year's
    examples.opportunities,  # Tows R Us' managed services, CharTec's phone system
    deals.opportunities,  # the window's deals and earlier wins, their walks planned
    deals.histories,  # stage changes and forecast lines of every deal
    examples.appointment,  # Nick's first appointment with Jason
    deals.details,  # each deal's activities, team, notes, other contacts
    work.day_to_day,  # the rest of each member's calendar
    _save_activities,
    examples.appointment_note,  # needs the appointment's id
)


def load_demo(today: date | None = None) -> str:
    """Load the demo team and its work; returns a one-line summary. Flushes, never commits."""
    tz = ZoneInfo(get_team().time_zone)
    if find_by_email("nick@example.com") is not None:
        raise DemoAlreadyLoaded("the demo data is already loaded (nick@example.com exists)")
    demo = Demo.begin(db.session(), tz, today or local_today(tz))
    for phase in PHASES:
        phase(demo)
    companies = len(demo.companies) + 2
    contacts = sum(len(people) for people in demo.contacts.values()) + 2
    return (
        f"Demo data: {len(demo.members)} members, {companies} companies, "
        f"{contacts} contacts, {len(demo.campaigns) + len(demo.examples.referral_2013)} "
        f"campaigns, {len(demo.deals) + len(demo.examples.deals)} opportunities, "
        f"{len(demo.activities)} activities."
    )
