"""Bench data: a large, realistic data set generated fast, for the benchmarks.

    .venv/bin/python -m bench.data [--opportunities N] [--activities M] [--members K] [--seed S]

fills the database the app is configured for (``DATABASE_URL``, as ``flask --app wsgi``
would) after loading the defaults; the benchmarks call ``generate`` on their throw-away
databases (``bench.harness.filled_app``).

``generate`` runs phases around one context object (``context.Bench``): members and quotas,
campaigns, companies and contacts (``accounts``), opportunities with their stage history
and forecast lines (``deals``), activities (``work``), then the derived columns. Rows go in
with SQLAlchemy Core bulk inserts (``insert(table)`` with a list of dicts, ~20,000 rows a
statement batch) and a commit per chunk, so memory stays flat and progress is visible; ids
are assigned by the database and read back with ``RETURNING`` (sorted by parameter order)
where later rows need them. Works on SQLite and PostgreSQL alike. The same seed, day and
clock give the same rows.

Every NOT NULL column is filled explicitly in the dicts: Core applies Python-side defaults
only for keys left out, and spelling them out keeps the generated data exact (``version`` 1,
timestamps in the past, aware UTC datetimes as ``UTCDateTime`` requires).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from zoneinfo import ZoneInfo

from bench.data import accounts, deals, work
from bench.data.context import BENCH_PASSWORD, Bench, Echo, Progress, table_of
from crmlite.database import analyze, utcnow
from crmlite.extensions import db
from crmlite.services import next_steps as next_step_days
from crmlite.services import stage_history
from crmlite.services.team import get_team, local_today

__all__ = ["BENCH_PASSWORD", "generate", "table_of"]


def generate(*, opportunities: int, activities: int, members: int, seed: int, echo: Echo) -> None:
    """Add `members` bench members, ~opportunities/3 companies with contacts, the
    opportunities with their stage history and forecast lines, `activities` activities over
    the last 12 months and the next 2, and this year's revenue quotas. Commits per chunk."""
    tz = ZoneInfo(get_team().time_zone)
    bench = Bench(
        opportunities=opportunities,
        activities=activities,
        members=members,
        rng=random.Random(seed),
        session=db.session(),
        progress=Progress(echo),
        tz=tz,
        today=local_today(tz),
        now=utcnow(),
    )
    for phase in PHASES:
        phase(bench)
    bench.progress(
        f"done: {len(bench.member_ids):,} members, {len(bench.companies):,} companies, "
        f"{bench.contact_count:,} contacts, {len(bench.opportunity_ids):,} opportunities, "
        f"{bench.change_count:,} stage changes, {activities:,} activities"
    )


def _derived_columns(bench: Bench) -> None:
    """Core inserts bypass the ORM hooks that keep next steps and the stage history's derived
    columns in step: refresh them all; then the planner's statistics (a fresh load)."""
    next_step_days.refresh(bench.session)
    stage_history.refresh(bench.session)
    analyze(bench.session)


# In this order: each draws from the one seeded generator and needs the ids made before it.
PHASES: tuple[Callable[[Bench], None], ...] = (
    accounts.members,  # locations, business units, members, this year's quotas
    accounts.campaigns,  # one per type, this year and last
    accounts.companies,
    accounts.contacts,
    deals.opportunities,  # with their stage walks
    deals.histories,  # stage changes and forecast lines
    work.activities,  # next steps, then the day-to-day work
    _derived_columns,
)
