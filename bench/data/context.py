"""What the bench data phases share: the sizes and figures of the data set, the ``Bench``
context (generator, session, zone, today and now, reference rows, ids made so far), and
chunked Core inserts that commit as they go."""

from __future__ import annotations

import random
import time as clock
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from crmlite.models import ActivityType, OpportunityStatus, OpportunityType, SalesStage
from crmlite.models.base import Model

Echo = Callable[[str], None]
Row = dict[str, Any]

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
class CompanyRef:
    """A company as later rows need it; ``id`` once inserted."""

    name: str
    phone: str
    email: str
    owner_id: int
    street: str
    city: str
    postal_code: str
    created_at: datetime
    id: int = 0
    contacts: list[tuple[int, str, str]] = field(default_factory=list)  # id, first, phone


@dataclass
class Plan:
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


class Progress:
    """Echoes a message after the seconds since the generation started."""

    def __init__(self, echo: Echo) -> None:
        self.echo = echo
        self.started = clock.perf_counter()

    def __call__(self, message: str) -> None:
        self.echo(f"[{clock.perf_counter() - self.started:7.1f}s] {message}")


@dataclass
class Bench:
    """What the phases share: the sizes asked for, the generator, the session, the team's
    zone, today and now, the reference rows, and the ids and plans made so far."""

    opportunities: int
    activities: int
    members: int
    rng: random.Random
    session: Session
    progress: Progress
    tz: ZoneInfo
    today: date
    now: datetime

    # Made by the phases, in this order.
    location_ids: list[int] = field(default_factory=list)
    unit_ids: list[int] = field(default_factory=list)
    member_ids: list[int] = field(default_factory=list)
    campaign_ids: list[int] = field(default_factory=list)
    companies: list[CompanyRef] = field(default_factory=list)
    contact_count: int = 0
    plans: list[Plan] = field(default_factory=list)
    opportunity_ids: list[int] = field(default_factory=list)
    change_count: int = 0

    # Days and the reference rows, set from the above.
    days: list[date] = field(init=False)
    noon_utc: dict[date, datetime] = field(init=False)
    stages: list[SalesStage] = field(init=False)  # in funnel order, Won and Lost last
    open_stages: list[SalesStage] = field(init=False)
    won_stage: SalesStage = field(init=False)
    lost_stage: SalesStage = field(init=False)
    statuses: dict[str, int] = field(init=False)  # ids by name
    products: list[tuple[int, str]] = field(init=False)  # (id, name) of opportunity types
    activity_types: list[ActivityType] = field(init=False)  # in list order
    type_by_code: dict[str, ActivityType] = field(init=False)

    def __post_init__(self) -> None:
        # Noon of each local day as a UTC instant: working hours never cross a DST change, so
        # a local wall time on that day is noon_utc + (minutes after midnight - 720).
        first_day = self.today - timedelta(days=PAST_DAYS + 120)
        self.days = [
            first_day + timedelta(days=n)
            for n in range((self.today - first_day).days + FUTURE_DAYS + 1)
        ]
        self.noon_utc = {
            d: datetime.combine(d, time(12), tzinfo=self.tz).astimezone(UTC) for d in self.days
        }
        session = self.session
        self.stages = list(session.scalars(select(SalesStage).order_by(SalesStage.position)))
        self.open_stages = [s for s in self.stages if not s.is_won and not s.is_lost]
        self.won_stage = next(s for s in self.stages if s.is_won)
        self.lost_stage = next(s for s in self.stages if s.is_lost)
        self.statuses = {s.name: s.id for s in session.scalars(select(OpportunityStatus))}
        self.products = [
            (type_id, name)
            for type_id, name in session.execute(select(OpportunityType.id, OpportunityType.name))
        ]
        self.activity_types = list(
            session.scalars(select(ActivityType).order_by(ActivityType.position))
        )
        self.type_by_code = {t.code: t for t in self.activity_types}

    def at(self, day: date, minutes: int) -> datetime:
        """`minutes` after local midnight of `day`, as UTC."""
        return self.noon_utc[day] + timedelta(minutes=minutes - 720)

    def bulk(self, model: type[Model], rows: Iterable[Row], label: str, total: int) -> int:
        """Insert in chunks, committing each; returns the number of rows."""
        done = 0
        for batch in _chunks(rows):
            self.session.execute(insert(table_of(model)), batch)
            self.session.commit()
            done += len(batch)
            self.progress(f"{label}: {done:,} / {total:,}")
        return done

    def bulk_ids(self, model: type[Model], rows: list[Row], label: str) -> list[int]:
        """Insert in chunks and return the new ids in the order of `rows`."""
        table = table_of(model)
        ids: list[int] = []
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        for batch in _chunks(rows):
            ids.extend(self.session.execute(statement, batch).scalars())
            self.session.commit()
            self.progress(f"{label}: {len(ids):,} / {len(rows):,}")
        return ids


def table_of(model: type[Model]) -> Table:
    """The model's table, for Core inserts."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _chunks(rows: Iterable[Row], size: int = CHUNK) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
