"""The demo being built: the scenario's figures, the shapes the phases share, and the
context object every phase reads and extends.

The context holds the seeded generator, the session, the team's zone and ``today``, the
reference rows ``load_defaults`` made, and the rows the phases have added so far. Every
random draw goes through ``Demo.rng`` in phase order, so the same ``today`` gives the same
rows on every machine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmlite.models import (
    Activity,
    ActivityStatus,
    ActivityType,
    BusinessUnit,
    Campaign,
    CampaignType,
    Company,
    Contact,
    Location,
    Member,
    Opportunity,
    OpportunityStatus,
    OpportunityType,
    SalesStage,
)

DEMO_PASSWORD = "crmlite-demo"
SEED = 2013
# The generated work spans today - PAST_DAYS … today + FUTURE_DAYS.
PAST_DAYS = 75
FUTURE_DAYS = 21

MS_SALES = "MS Sales"
PROJECTS = "Project Services"

# The products (opportunity types of the defaults) the demo sells.
MS_COMPLETE = "Managed Services - Complete"
MS_PHONE = "Managed Services - Phone System"
MS_BACKUP = "Managed Services - Backup & Recovery"
CABLING = "Cabling Project"
HARDWARE = "New Hardware"
ASSESSMENT = "Network Assessment"
CLOUD = "Cloud Migration"
MANAGED_SERVICES = (MS_COMPLETE, MS_PHONE, MS_BACKUP)
PRODUCTS = (MS_COMPLETE, MS_PHONE, MS_BACKUP, CABLING, HARDWARE, ASSESSMENT, CLOUD)


@dataclass
class Line:
    """A forecast line before its opportunity has an id."""

    product: str
    description: str
    revenue: Decimal
    cost: Decimal
    recurring: bool = False
    months: int = 1

    @property
    def total_revenue(self) -> Decimal:
        return self.revenue * (self.months if self.recurring else 1)

    @property
    def total_cost(self) -> Decimal:
        return self.cost * (self.months if self.recurring else 1)


@dataclass
class Deal:
    """An opportunity being made, and what is attached to it once it has an id: the stages
    it walked (``path``) and when (``moments``), its forecast lines, the activities that
    belong to it and, now and then, a colleague on its team."""

    opportunity: Opportunity
    company: Company
    contact: Contact
    path: list[SalesStage]
    lines: list[Line]
    moments: list[datetime] = field(default_factory=list)
    linked: list[Activity] = field(default_factory=list)
    helper: tuple[Member, str] | None = None


@dataclass
class Examples:
    """PRODUCT.md's example records (2013): Tows R Us with Shane Swanson and its deal in
    Discovery, CharTec with Jason Rivas, his phone-system deal and the first appointment.
    Each is made by the phase of its table, just before the generated rows."""

    tows: Company = field(init=False)
    chartec: Company = field(init=False)
    shane: Contact = field(init=False)
    jason: Contact = field(init=False)
    # The 2013 referral campaigns, by sub-type name.
    referral_2013: dict[str, Campaign] = field(default_factory=dict)
    deals: list[Deal] = field(default_factory=list)
    appointment: Activity = field(init=False)


@dataclass
class Demo:
    """What the phases share: the generator, the session, the window of days, the reference
    rows, and every row made so far (PRODUCT.md's examples apart, in ``examples``)."""

    rng: random.Random
    session: Session
    tz: ZoneInfo
    today: date
    stages: list[SalesStage]  # in funnel order, Won and Lost last
    statuses: dict[str, OpportunityStatus]
    products: dict[str, OpportunityType]
    activity_types: dict[str, ActivityType]  # by code, in list order
    campaign_types: dict[str, CampaignType]

    # Made by the phases, in this order.
    locations: dict[str, Location] = field(default_factory=dict)
    business_units: dict[str, BusinessUnit] = field(default_factory=dict)
    nick: Member = field(init=False)
    cory: Member = field(init=False)
    manny: Member = field(init=False)
    quota: dict[int, Decimal] = field(default_factory=dict)  # monthly revenue, by member id
    companies: list[Company] = field(default_factory=list)
    contacts: dict[int, list[Contact]] = field(default_factory=dict)  # by company id
    campaigns: list[Campaign] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    # Every activity, in the order they are saved (and so get their ids).
    activities: list[Activity] = field(default_factory=list)
    examples: Examples = field(default_factory=Examples)
    # Half-hour slots taken in a member's day, so timed activities rarely overlap.
    busy: dict[tuple[int, date], set[int]] = field(default_factory=dict)

    # The window of generated work, and the funnel by name: set from the above.
    start: date = field(init=False)
    end: date = field(init=False)
    past_days: list[date] = field(init=False)  # working days before today
    future_days: list[date] = field(init=False)  # working days from today to the end
    stage: dict[str, SalesStage] = field(init=False)
    open_stages: list[SalesStage] = field(init=False)
    won_stage: SalesStage = field(init=False)
    lost_stage: SalesStage = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.today - timedelta(days=PAST_DAYS)
        self.end = self.today + timedelta(days=FUTURE_DAYS)
        self.past_days = working_days(self.start, self.today - timedelta(days=1))
        self.future_days = working_days(self.today, self.end)
        self.stage = {s.name: s for s in self.stages}
        self.open_stages = [s for s in self.stages if not s.is_won and not s.is_lost]
        self.won_stage = next(s for s in self.stages if s.is_won)
        self.lost_stage = next(s for s in self.stages if s.is_lost)

    @classmethod
    def begin(cls, session: Session, tz: ZoneInfo, today: date) -> Demo:
        """A fresh demo, seeded, reading the defaults' stages, statuses and types."""
        return cls(
            rng=random.Random(SEED),
            session=session,
            tz=tz,
            today=today,
            stages=list(session.scalars(select(SalesStage).order_by(SalesStage.position))),
            statuses={s.name: s for s in session.scalars(select(OpportunityStatus))},
            products={t.name: t for t in session.scalars(select(OpportunityType))},
            activity_types={
                t.code: t
                for t in session.scalars(select(ActivityType).order_by(ActivityType.position))
            },
            campaign_types={t.name: t for t in session.scalars(select(CampaignType))},
        )

    @property
    def members(self) -> list[Member]:
        return [self.nick, self.cory, self.manny]

    # -- time --------------------------------------------------------------------------

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """A team-local wall time as an aware UTC datetime."""
        return datetime.combine(day, time(hour, minute), tzinfo=self.tz).astimezone(UTC)

    def book(self, member_id: int, day: date, minutes: int) -> tuple[datetime, datetime]:
        """A free slot of `minutes` between 8:00 and 17:00 local in the member's day (half-hour
        grid); overlapping only when the day is full."""
        need = max(1, minutes // 30)
        busy = self.busy.setdefault((member_id, day), set())
        starts = list(range(0, 18 - need + 1))
        self.rng.shuffle(starts)
        chosen = next((s for s in starts if not busy.intersection(range(s, s + need))), starts[0])
        busy.update(range(chosen, chosen + need))
        begin = self.at(day, 8 + chosen // 2, 30 * (chosen % 2))
        return begin, begin + timedelta(minutes=minutes)

    # -- activities --------------------------------------------------------------------

    def activity(
        self,
        *,
        code: str,
        subject: str,
        member_id: int,
        day: date,
        minutes: int | None,
        place: str,
        closed: bool,
        company: Company | None = None,
        contact: Contact | None = None,
        campaign_id: int | None = None,
        assigned_by_id: int | None = None,
        created_at: datetime | None = None,
    ) -> Activity:
        """An activity of the member's calendar (booked in a free slot when timed), added to
        ``activities``. A closed one closes just after it ends (or during its day); one
        without ``created_at`` was entered a few days before it was due."""
        activity_type = self.activity_types[code]
        starts_at = ends_at = None
        if minutes is not None:
            starts_at, ends_at = self.book(member_id, day, minutes)
        closed_at = None
        if closed:
            if ends_at is not None:
                closed_at = ends_at + timedelta(minutes=self.rng.choice((0, 5, 10, 20, 45)))
            else:
                closed_at = self.at(day, self.rng.randint(8, 16), self.rng.choice((0, 15, 30, 45)))
        if created_at is None:
            created_day = min(
                day - timedelta(days=self.rng.randint(1, 8)), self.today - timedelta(days=1)
            )
            created_at = self.at(created_day, 8, self.rng.choice((5, 20, 35, 50)))
        if closed_at is not None and created_at > closed_at:
            created_at = closed_at - timedelta(minutes=30)
        row = Activity(
            subject=subject[:200],
            type_id=activity_type.id,
            status=(ActivityStatus.CLOSED if closed else ActivityStatus.OPEN).value,
            company_id=company.id if company else None,
            contact_id=contact.id if contact else None,
            phone=contact.phone if contact else (company.phone if company else ""),
            campaign_id=campaign_id,
            assigned_to_id=member_id,
            assigned_by_id=assigned_by_id or member_id,
            due_on=day,
            starts_at=starts_at,
            ends_at=ends_at,
            reminder_minutes=15 if starts_at is not None else None,
            place=place,
            closed_at=closed_at,
            closed_by_id=member_id if closed else None,
            points_earned=activity_type.points if closed else None,
            created_at=created_at,
            updated_at=closed_at or created_at,
        )
        self.activities.append(row)
        return row


def working_days(first: date, last: date) -> list[date]:
    """Monday to Friday from first to last, both included."""
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [d for d in days if d.weekday() < 5]
