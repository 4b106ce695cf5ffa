"""Bench data: a large, realistic data set generated fast, for the benchmarks.

    .venv/bin/python -m bench.data [--opportunities N] [--activities M] [--members K] [--seed S]

fills the database the app is configured for (``DATABASE_URL``, as ``flask --app wsgi``
would) after loading the defaults; the benchmarks call ``generate`` on their throw-away
databases (``bench.harness.filled_app``).

``generate`` runs phases around one context object (``context.Bench``): members and quotas,
campaigns, companies and contacts (``accounts``), opportunities with their stage history
and forecast lines (``deals``), activities (``work``), then the derived columns, tables and
statistics. Rows go in
with SQLAlchemy Core bulk inserts (``insert(table)`` with a list of dicts, ~20,000 rows a
statement batch) and a commit per chunk, so memory stays flat and progress is visible; ids
are assigned by the database and read back with ``RETURNING`` (sorted by parameter order)
where later rows need them. Works on SQLite and PostgreSQL alike. The same seed, day and
clock give the same rows.

On PostgreSQL, when the database user may (a superuser), the rows go in with the triggers
off (``session_replication_role = replica`` on every connection the load takes) and the
tables the triggers keep (roll-ups, board totals) are rebuilt once at the end: at a million
opportunities, the triggers firing per row and again on the refresh of the derived columns
took most of an hour. Foreign keys are triggers too; the generated rows are consistent
(SQLite checks them on every load).

Every NOT NULL column is filled explicitly in the dicts: Core applies Python-side defaults
only for keys left out, and spelling them out keeps the generated data exact (``version`` 1,
timestamps in the past, aware UTC datetimes as ``UTCDateTime`` requires).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, text

from bench.data import accounts, deals, work
from bench.data.context import BENCH_PASSWORD, Bench, Echo, Progress, table_of
from crmlite.database import analyze, utcnow
from crmlite.extensions import db
from crmlite.services import board, rollups, stage_history
from crmlite.services import next_steps as next_step_days
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
    with _triggers_off(bench) as off:
        for phase in PHASES:
            phase(bench)
    if off:
        bench.progress("rebuilding the roll-ups and board totals (the triggers were off)")
        rollups.rebuild()
        board.rebuild_totals()
    analyze(bench.session)
    bench.progress(
        f"done: {len(bench.member_ids):,} members, {len(bench.companies):,} companies, "
        f"{bench.contact_count:,} contacts, {len(bench.opportunity_ids):,} opportunities, "
        f"{bench.change_count:,} stage changes, {activities:,} activities"
    )


def _derived_columns(bench: Bench) -> None:
    """Core inserts bypass the ORM hooks that keep next steps and the stage history's derived
    columns in step: refresh them all."""
    next_step_days.refresh(bench.session)
    stage_history.refresh(bench.session)
    bench.session.commit()


@contextmanager
def _triggers_off(bench: Bench) -> Iterator[bool]:
    """PostgreSQL with a superuser: every connection opened meanwhile runs with the triggers
    off (the pool is emptied first); yields whether they are. Those connections are closed
    when it ends, so none of them serves a request later with its triggers off."""
    engine = db.engine
    may = engine.dialect.name == "postgresql" and bench.session.scalar(
        text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    )
    if not may:
        yield False
        return

    def replica(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        dbapi_connection.commit()  # a SET in a transaction rolled back would be undone

    bench.session.commit()
    engine.dispose()
    event.listen(engine, "connect", replica)
    try:
        yield True
    finally:
        event.remove(engine, "connect", replica)
        bench.session.rollback()  # what a failed phase left; its connection back in the pool
        engine.dispose()


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
