"""Demo data: PRODUCT.md's example records and about three months of a team's work.

``load_demo`` is deterministic: the generator is seeded and every date is placed relative
to ``today`` (the team-local date by default), so with a fixed ``today`` the same rows come
out on every machine, and with the real one the app always looks alive: about 75 days of
history, a calendar for the next three weeks, and a funnel whose open opportunities mostly
have their next step scheduled.

It assumes the defaults are loaded (``load_defaults``). Like every service it only flushes;
the caller commits.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
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
    OpportunityContact,
    OpportunityNote,
    OpportunityStatus,
    OpportunityTeamMember,
    OpportunityType,
    Rating,
    RevenueQuota,
    Role,
    SalesStage,
    StageChange,
)
from crmlite.services.members import create_member, find_by_email
from crmlite.services.team import get_team, local_today

DEMO_PASSWORD = "crmlite-demo"
SEED = 2013
# The generated work spans today - PAST_DAYS … today + FUTURE_DAYS.
PAST_DAYS = 75
FUTURE_DAYS = 21

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

ARRC = "ARRC"
FRESNO = "Fresno"
MS_SALES = "MS Sales"
PROJECTS = "Project Services"

MS_COMPLETE = "Managed Services - Complete"
MS_PHONE = "Managed Services - Phone System"
MS_BACKUP = "Managed Services - Backup & Recovery"
CABLING = "Cabling Project"
HARDWARE = "New Hardware"
ASSESSMENT = "Network Assessment"
CLOUD = "Cloud Migration"
MANAGED_SERVICES = (MS_COMPLETE, MS_PHONE, MS_BACKUP)
PRODUCTS = (MS_COMPLETE, MS_PHONE, MS_BACKUP, CABLING, HARDWARE, ASSESSMENT, CLOUD)

# city: (ZIP codes, area code, location)
CITIES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "Bakersfield": (("93301", "93304", "93309", "93311", "93312", "93313"), "661", ARRC),
    "Tehachapi": (("93561",), "661", ARRC),
    "Delano": (("93215",), "661", ARRC),
    "Shafter": (("93263",), "661", ARRC),
    "Taft": (("93268",), "661", ARRC),
    "Wasco": (("93280",), "661", ARRC),
    "Arvin": (("93203",), "661", ARRC),
    "Lamont": (("93241",), "661", ARRC),
    "Ridgecrest": (("93555",), "760", ARRC),
    "Lancaster": (("93534", "93536"), "661", ARRC),
    "Palmdale": (("93550", "93551"), "661", ARRC),
    "Fresno": (("93710", "93711", "93720", "93721"), "559", FRESNO),
    "Clovis": (("93611", "93612"), "559", FRESNO),
    "Visalia": (("93277", "93291"), "559", FRESNO),
    "Tulare": (("93274",), "559", FRESNO),
    "Porterville": (("93257",), "559", FRESNO),
    "Hanford": (("93230",), "559", FRESNO),
    "Lemoore": (("93245",), "559", FRESNO),
    "Selma": (("93662",), "559", FRESNO),
    "Madera": (("93637",), "559", FRESNO),
    "Kingsburg": (("93631",), "559", FRESNO),
    "Reedley": (("93654",), "559", FRESNO),
    "Coalinga": (("93210",), "559", FRESNO),
}

# The clients and prospects of a managed service provider in the southern Central Valley.
COMPANIES: list[tuple[str, str, str]] = [
    ("Bakersfield Family Dental", "Dental", "Bakersfield"),
    ("Kern River Title & Escrow", "Real Estate", "Bakersfield"),
    ("Golden Empire Realty", "Real Estate", "Bakersfield"),
    ("Sierra Pacific Law Group", "Legal", "Bakersfield"),
    ("Rosedale Veterinary Hospital", "Veterinary", "Bakersfield"),
    ("Oildale Machine Works", "Manufacturing", "Bakersfield"),
    ("Ming Lake Accounting", "Accounting", "Bakersfield"),
    ("Panorama Insurance Agency", "Insurance", "Bakersfield"),
    ("Stockdale Physical Therapy", "Healthcare", "Bakersfield"),
    ("Truxtun Avenue Architects", "Architecture", "Bakersfield"),
    ("Brundage Lane Chiropractic", "Healthcare", "Bakersfield"),
    ("Mesa Verde Engineering", "Engineering", "Bakersfield"),
    ("Riverlakes Community Church", "Non-Profit", "Bakersfield"),
    ("Highway 99 Logistics", "Transportation", "Bakersfield"),
    ("Tehachapi Wind Services", "Energy", "Tehachapi"),
    ("Delano Growers Cooperative", "Agriculture", "Delano"),
    ("Shafter Ag Aviation", "Agriculture", "Shafter"),
    ("Taft Oilfield Services", "Energy", "Taft"),
    ("Wasco Rose Growers", "Agriculture", "Wasco"),
    ("Arvin Community Clinic", "Healthcare", "Arvin"),
    ("Lamont Cold Storage", "Logistics", "Lamont"),
    ("High Desert Aerospace Machining", "Manufacturing", "Ridgecrest"),
    ("Antelope Valley Dermatology", "Healthcare", "Lancaster"),
    ("Palmdale Charter Academy", "Education", "Palmdale"),
    ("Westside Pump & Irrigation", "Agriculture", "Fresno"),
    ("San Joaquin Orthopedics", "Healthcare", "Fresno"),
    ("Central Valley Credit Union", "Financial Services", "Fresno"),
    ("Fresno Pediatric Associates", "Healthcare", "Fresno"),
    ("Blackstone Auto Glass", "Automotive", "Fresno"),
    ("Clovis Home Loans", "Financial Services", "Clovis"),
    ("Visalia Eye Center", "Healthcare", "Visalia"),
    ("Sequoia Property Management", "Real Estate", "Visalia"),
    ("Tulare Dairy Equipment", "Manufacturing", "Tulare"),
    ("Porterville Citrus Packing", "Agriculture", "Porterville"),
    ("Kings County Auto Group", "Automotive", "Hanford"),
    ("Lemoore Heating & Air", "Construction", "Lemoore"),
    ("Selma Raisin Company", "Food Processing", "Selma"),
    ("Madera Wine Cellars", "Food & Beverage", "Madera"),
    ("Kingsburg Tax & Bookkeeping", "Accounting", "Kingsburg"),
    ("Reedley Family Medicine", "Healthcare", "Reedley"),
    ("Coalinga Water District", "Government", "Coalinga"),
]

STREETS = [
    "Truxtun Ave",
    "California Ave",
    "Ming Ave",
    "Stockdale Hwy",
    "Coffee Rd",
    "Rosedale Hwy",
    "Chester Ave",
    "Brundage Ln",
    "Olive Dr",
    "White Ln",
    "Panama Ln",
    "Gosford Rd",
    "Main St",
    "Blackstone Ave",
    "Shaw Ave",
    "Herndon Ave",
    "Mooney Blvd",
    "Center St",
    "Oak St",
    "Commerce Way",
    "Industrial Pkwy",
    "Airport Dr",
    "Pine St",
    "Olive Ave",
]

FIRST_NAMES = [
    "Maria",
    "James",
    "Linda",
    "Robert",
    "Patricia",
    "Michael",
    "Jennifer",
    "David",
    "Elena",
    "Daniel",
    "Susan",
    "Carlos",
    "Karen",
    "Steven",
    "Rosa",
    "Brian",
    "Angela",
    "Kevin",
    "Teresa",
    "Jose",
    "Melissa",
    "Gary",
    "Amanda",
    "Luis",
    "Stephanie",
    "Ryan",
    "Priya",
    "Eric",
    "Nicole",
    "Anthony",
    "Heather",
    "Victor",
    "Rachel",
    "Thomas",
    "Monica",
    "Jeff",
    "Denise",
    "Ray",
    "Christina",
    "Paul",
    "Yolanda",
    "Mark",
    "Kim",
    "Gabriel",
    "Tanya",
]

LAST_NAMES = [
    "Garcia",
    "Johnson",
    "Nguyen",
    "Hernandez",
    "Miller",
    "Lopez",
    "Patel",
    "Davis",
    "Ramirez",
    "Wilson",
    "Thompson",
    "Sandoval",
    "Anderson",
    "Castillo",
    "Baker",
    "Singh",
    "Mendoza",
    "Turner",
    "Moreno",
    "Collins",
    "Vasquez",
    "Reyes",
    "Parker",
    "Dhillon",
    "Ortiz",
    "Sullivan",
    "Chavez",
    "Morgan",
    "Gutierrez",
    "Hughes",
    "Flores",
    "Bennett",
    "Torres",
    "Kaur",
    "Watson",
    "Alvarez",
    "Brooks",
    "Romero",
    "Fisher",
    "Medina",
]

CONTACT_TITLES = [
    "Owner",
    "Office Manager",
    "Practice Administrator",
    "Controller",
    "Operations Manager",
    "IT Coordinator",
    "CFO",
    "President",
    "General Manager",
    "Managing Partner",
]

LOST_REASONS = [
    "Stayed with their current provider (status quo).",
    "Chose a lower-priced competitor.",
    "Budget was cut for this year.",
    "Decided to keep IT in-house.",
    "Project postponed indefinitely after a change of ownership.",
    "Bought the hardware online themselves.",
]

OPPORTUNITY_NOTES = [
    "Spoke with {first}; they want pricing for every site before the end of the quarter.",
    "{first} is comparing us with their current provider. Sent references.",
    "Walked the office with {first}. Server closet is overheating; mentioned it.",
    "{first} asked for a phased start: main office first, the others next quarter.",
    "Owner signs; {first} gathers the quotes. Get on the owner's calendar.",
    "Backups have not run for two weeks. Good reason to move now.",
    "They had ransomware scare last spring; security is the buying reason.",
    "{first} liked the monthly flat fee; wants the agreement reviewed by their attorney.",
]

# type code → (subject template, minutes or None for untimed, places)
FILL_ACTIVITIES: dict[str, tuple[str, int | None, tuple[str, ...]]] = {
    "CC": ("2 hr cold call block: {industry} offices", 120, ("Office",)),
    "EV": ("{city} Chamber mixer", 120, ("On-Site",)),
    "WB": ("Lunch & Learn: protecting your office from ransomware", 90, ("Office", "Remote")),
    "LD": ("Lunch with {first} ({company})", 60, ("On-Site",)),
    "VE": ("Value-add email to {first}: {topic}", None, ("E-mail",)),
    "TBR": ("Technology business review with {company}", 90, ("On-Site", "Remote")),
    "RG": ("Referral for {first}: introduced a local {industry} contact", None, ("Phone",)),
    "HQ": ("Hardware quote for {company}: {item}", None, ("Office",)),
    "AQ": ("Addendum quote for {company}: {addendum}", None, ("Office",)),
    "TC": ("Thank you card to {first}", None, ("Office",)),
    "WOW": ("Wow experience for {company}: {gift}", None, ("On-Site",)),
    "PD": ("Coffee with {first}", 60, ("On-Site",)),
    "SE": ("Follow-up call with {first}", 30, ("Phone", "E-mail")),
    "TP": ("Thank-you postcard to {first}", None, ("Office",)),
    "MT": ("Marketing track call to {first}", 30, ("Phone",)),
    "LF": ("Lead follow-up call to {first}", 30, ("Phone",)),
}
TOPICS = [
    "phishing tips",
    "Windows 10 end of life",
    "backup checklist",
    "password managers",
    "Wi-Fi security",
    "Microsoft 365 tips",
    "summer power outages",
]
ITEMS = [
    "5 workstations",
    "a file server",
    "two laptops",
    "a firewall",
    "a UPS",
    "a wireless upgrade",
    "12 monitors",
    "a network switch",
]
ADDENDA = [
    "two new users",
    "a new branch office",
    "offsite backup",
    "after-hours support",
    "a phone line add-on",
    "e-mail archiving",
]
GIFTS = ["pizza for the staff", "a fruit basket", "coffee gift cards", "a donut delivery"]
INDUSTRY_TARGETS = ["dental", "law", "accounting", "medical", "real estate", "agriculture"]

# To-stage → (type code, subject, minutes or None, places) of the activity that moved it.
STAGE_MOVES: dict[str, tuple[str, str, int | None, tuple[str, ...]]] = {
    "Prospect": ("PF", "Add {company} to the funnel", None, ("Office",)),
    "1st Appointment": ("SA", "1st Appointment with {first}", 60, ("On-Site",)),
    "Discovery": ("DM", "Discovery meeting with {first}", 90, ("On-Site",)),
    "Presentation": ("PA", "Present proposal to {company}", 60, ("On-Site", "Remote")),
    "Follow-Up": ("SE", "Follow up with {first} on the proposal", 30, ("Phone",)),
    "Commitment": ("FC", "Follow up appointment to close with {first}", 60, ("On-Site",)),
    "Won": ("TC", "Thank you card to {first}", None, ("Office",)),
    "Lost": ("SE", "Call {first} about their decision", 30, ("Phone",)),
}
# Current stage → the next step to schedule.
NEXT_STEPS: dict[str, tuple[str, str, int, tuple[str, ...]]] = {
    "Prospect": ("SA", "1st Appointment with {first}", 60, ("On-Site",)),
    "1st Appointment": ("DM", "Discovery meeting with {first}", 90, ("On-Site",)),
    "Discovery": ("PA", "Present proposal to {company}", 60, ("On-Site", "Remote")),
    "Presentation": ("FC", "Follow up appointment to close with {first}", 60, ("On-Site", "Phone")),
    "Follow-Up": ("FC", "Follow up appointment to close with {first}", 60, ("On-Site",)),
    "Commitment": ("SE", "Check agreement set-up with {first}", 30, ("Phone",)),
}
# Activity types only produced by the funnel itself (not by the generic fill).
FUNNEL_CODES = ("PF", "SA", "DM", "PA", "FC")
# Open opportunities per stage, plus Won and Lost, in the three-month window.
OPEN_COUNTS = {
    "Prospect": 20,
    "1st Appointment": 16,
    "Discovery": 14,
    "Presentation": 12,
    "Follow-Up": 12,
    "Commitment": 8,
}
WON_IN_WINDOW = 12
LOST_IN_WINDOW = 14
STALLED_SHARE = 0.15
# Scales the generic activities so the whole comes to about 900.
FILL_FACTOR = 0.7
MONTHLY_QUOTAS = {
    "nick@example.com": Decimal("3500.00"),
    "cory@example.com": Decimal("4000.00"),
    "manny@example.com": Decimal("3000.00"),
}


def money(value: Decimal | float | int | str) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("&", "and")).strip("-")


@dataclass
class _Line:
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
class _Deal:
    """An opportunity being generated, and what is attached to it once it has an id."""

    opportunity: Opportunity
    company: Company
    contact: Contact
    path: list[SalesStage]
    lines: list[_Line]
    moments: list[datetime] = field(default_factory=list)
    linked: list[Activity] = field(default_factory=list)
    helper: tuple[Member, str] | None = None


class _Demo:
    def __init__(self, today: date, tz: ZoneInfo) -> None:
        self.rng = random.Random(SEED)
        self.today = today
        self.tz = tz
        self.start = today - timedelta(days=PAST_DAYS)
        self.end = today + timedelta(days=FUTURE_DAYS)
        self.past_days = self._working_days(self.start, today - timedelta(days=1))
        self.future_days = self._working_days(today, self.end)
        self.busy: dict[tuple[int, date], set[int]] = {}
        self.activities: list[Activity] = []

        self.stages = list(db.session.scalars(select(SalesStage).order_by(SalesStage.position)))
        self.stage = {s.name: s for s in self.stages}
        self.open_stages = [s for s in self.stages if not s.is_won and not s.is_lost]
        self.won_stage = next(s for s in self.stages if s.is_won)
        self.lost_stage = next(s for s in self.stages if s.is_lost)
        statuses = {s.name: s for s in db.session.scalars(select(OpportunityStatus))}
        self.open_status, self.won_status = statuses["Open"], statuses["Won"]
        self.lost_status = statuses["Lost"]
        self.types = {t.name: t for t in db.session.scalars(select(OpportunityType))}
        self.activity_types = {
            t.code: t
            for t in db.session.scalars(select(ActivityType).order_by(ActivityType.position))
        }
        self.campaign_types = {t.name: t for t in db.session.scalars(select(CampaignType))}

    # -- time --------------------------------------------------------------------------

    @staticmethod
    def _working_days(first: date, last: date) -> list[date]:
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        return [d for d in days if d.weekday() < 5]

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

    # -- reference rows ----------------------------------------------------------------

    def location(self, name: str) -> Location:
        found = db.session.scalar(select(Location).where(Location.name == name))
        if found is None:
            found = Location(name=name)
            db.session.add(found)
        return found

    def business_unit(self, name: str) -> BusinessUnit:
        found = db.session.scalar(select(BusinessUnit).where(BusinessUnit.name == name))
        if found is None:
            found = BusinessUnit(name=name)
            db.session.add(found)
        return found

    def sub_type(self, type_name: str, name: str) -> CampaignSubType:
        campaign_type = self.campaign_types[type_name]
        found = db.session.scalar(
            select(CampaignSubType).where(
                CampaignSubType.type_id == campaign_type.id, CampaignSubType.name == name
            )
        )
        if found is None:
            taken = db.session.scalar(
                select(func.count())
                .select_from(CampaignSubType)
                .where(CampaignSubType.type_id == campaign_type.id)
            )
            position = (taken or 0) + 1
            found = CampaignSubType(type_id=campaign_type.id, name=name, position=position)
            db.session.add(found)
            db.session.flush()
        return found

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


class DemoAlreadyLoaded(ValueError):
    """The demo team (nick@example.com) is in the database already."""


def load_demo(today: date | None = None) -> str:
    """Load the demo team and its work; returns a one-line summary. Flushes, never commits."""
    team = get_team()
    tz = ZoneInfo(team.time_zone)
    today = today or local_today(tz)
    if find_by_email("nick@example.com") is not None:
        raise DemoAlreadyLoaded("the demo data is already loaded (nick@example.com exists)")
    demo = _Demo(today, tz)
    rng = demo.rng

    # -- locations, business units, members, quotas --
    arrc, fresno = demo.location(ARRC), demo.location(FRESNO)
    ms_sales, projects = demo.business_unit(MS_SALES), demo.business_unit(PROJECTS)
    db.session.flush()
    locations = {ARRC: arrc, FRESNO: fresno}
    nick = create_member(
        email="nick@example.com",
        name="Nick Points",
        password=DEMO_PASSWORD,
        role=Role.ADMIN,
        title="Channel Development Sales Executive",
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
    )
    cory = create_member(
        email="cory@example.com",
        name="Cory Ferguson",
        password=DEMO_PASSWORD,
        role=Role.MANAGER,
        title="Account Manager",
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
    )
    manny = create_member(
        email="manny@example.com",
        name="Manny Martinez",
        password=DEMO_PASSWORD,
        role=Role.REP,
        title="Sales Executive",
        location_id=fresno.id,
        business_unit_id=projects.id,
    )
    members = [nick, cory, manny]
    quota = {m.id: MONTHLY_QUOTAS[m.email] for m in members}
    db.session.add_all(
        RevenueQuota(member_id=m.id, year=year, month=month, revenue=quota[m.id])
        for m in members
        for year in (today.year - 1, today.year)
        for month in range(1, 13)
    )

    # -- companies and contacts --
    used_names: set[tuple[str, str]] = set()

    def person() -> tuple[str, str]:
        while True:
            pair = (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
            if pair not in used_names:
                used_names.add(pair)
                return pair

    def phone(area: str) -> str:
        return f"({area}) 555-01{rng.randint(0, 99):02d}"

    tows = Company(
        name="Tows R Us",
        street="1600 Mill Rock Way",
        city="Bakersfield",
        region="CA",
        postal_code="93311",
        country="United States",
        phone="(661) 555-0142",
        email="office@towsrus.example",
        website="www.towsrus.example",
        industry="Towing",
        account_manager_id=cory.id,
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
        created_at=datetime(2013, 10, 21, 17, 5, tzinfo=UTC),
        updated_at=datetime(2013, 10, 21, 17, 5, tzinfo=UTC),
    )
    chartec = Company(
        name="CharTec",
        street="3101 Sillect Ave",
        city="Bakersfield",
        region="CA",
        postal_code="93308",
        country="United States",
        phone="(866) 544-2772",
        email="info@chartec.example",
        website="www.chartec.example",
        industry="IT Services",
        account_manager_id=nick.id,
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
        created_at=datetime(2013, 12, 5, 22, 10, tzinfo=UTC),
        updated_at=datetime(2013, 12, 5, 22, 10, tzinfo=UTC),
    )
    companies: list[Company] = []
    for name, industry, city in COMPANIES:
        zips, area, location_name = CITIES[city]
        if location_name == ARRC:
            manager = cory if rng.random() < 0.55 else nick
        else:
            manager = manny if rng.random() < 0.8 else nick
        domain = f"{_slug(name)}.example"
        created = demo.at(demo.start - timedelta(days=rng.randint(20, 700)), 9, 30)
        companies.append(
            Company(
                name=name,
                street=f"{rng.randint(100, 9899)} {rng.choice(STREETS)}",
                city=city,
                region="CA",
                postal_code=rng.choice(zips),
                country="United States",
                phone=phone(area),
                email=f"info@{domain}",
                website=f"www.{domain}",
                industry=industry,
                account_manager_id=manager.id,
                location_id=locations[location_name].id,
                business_unit_id=ms_sales.id if rng.random() < 0.7 else projects.id,
                created_at=created,
                updated_at=created,
            )
        )
    db.session.add_all([tows, chartec, *companies])
    db.session.flush()

    shane = Contact(
        company_id=tows.id,
        first_name="Shane",
        last_name="Swanson",
        title="Owner",
        email="shane.swanson@towsrus.example",
        phone="(661) 555-0142",
        street=tows.street,
        city=tows.city,
        region=tows.region,
        postal_code=tows.postal_code,
        country=tows.country,
        created_at=tows.created_at,
        updated_at=tows.created_at,
    )
    jason = Contact(
        company_id=chartec.id,
        first_name="Jason",
        last_name="Rivas",
        title="Operations Manager",
        email="jason.rivas@chartec.example",
        phone="(866) 544-2772",
        created_at=chartec.created_at,
        updated_at=chartec.created_at,
    )
    contacts: dict[int, list[Contact]] = {}
    for company in companies:
        domain = company.email.split("@", 1)[1]
        area = company.phone[1:4]
        for _ in range(rng.choice((1, 1, 2, 2, 2, 3))):
            first, last = person()
            contacts.setdefault(company.id, []).append(
                Contact(
                    company_id=company.id,
                    first_name=first,
                    last_name=last,
                    title=rng.choice(CONTACT_TITLES),
                    email=f"{_slug(first)}.{_slug(last)}@{domain}",
                    phone=f"{company.phone} x{rng.randint(100, 299)}",
                    mobile=phone(area) if rng.random() < 0.6 else "",
                    created_at=company.created_at,
                    updated_at=company.created_at,
                )
            )
    db.session.add_all([shane, jason, *(c for cs in contacts.values() for c in cs)])

    # -- campaigns --
    referral = "Referral"
    business_referral = demo.sub_type(referral, "Business Referral")
    partner_referral = demo.sub_type(referral, "Partner Referral")
    campaign_2013 = {
        sub.name: Campaign(
            name=f"{referral} - {sub.name} - 2013",
            type_id=sub.type_id,
            sub_type_id=sub.id,
            status=CampaignStatus.COMPLETED.value,
            starts_on=date(2013, 1, 1),
            ends_on=date(2013, 12, 31),
            owner_id=nick.id,
            location_id=arrc.id,
            budgeted_cost=cost,
            actual_cost=cost,
            expected_revenue=money(25000),
            created_at=datetime(2013, 1, 2, 17, 0, tzinfo=UTC),
            updated_at=datetime(2013, 1, 2, 17, 0, tzinfo=UTC),
        )
        for sub, cost in ((business_referral, money(250)), (partner_referral, ZERO))
    }
    plans: list[tuple[str, str | None, int, int]] = [
        ("Event", "Chamber", -1, 850),
        ("Direct Mail", "Postcard", -1, 1200),
        ("Telemarketing", "MSP Leads", -1, 3000),
        ("Event", "Lunch & Learn", 0, 650),
        ("Email", "Product Promotion", 0, 150),
        ("Sales Executive", "Cold Call", 0, 0),
        ("Referral", "Business Referral", 0, 250),
        ("Webinar", None, 0, 400),
        ("Website", "Visitor ID", 0, 1800),
    ]
    existing_campaigns = set(db.session.scalars(select(Campaign.name)))
    campaigns: list[Campaign] = []
    for type_name, sub_name, offset, cost in plans:
        year = today.year + offset
        name = " - ".join(p for p in (type_name, sub_name, str(year)) if p)
        if name in existing_campaigns or name in {c.name for c in campaign_2013.values()}:
            continue
        sub = demo.sub_type(type_name, sub_name) if sub_name else None
        current = year == today.year
        elapsed = (today - date(year, 1, 1)).days / 365 if current else 1
        created = demo.at(date(year, 1, 1) + timedelta(days=rng.randint(1, 20)), 10)
        created = min(created, demo.at(demo.start, 10))
        campaigns.append(
            Campaign(
                name=name,
                type_id=demo.campaign_types[type_name].id,
                sub_type_id=sub.id if sub else None,
                status=(CampaignStatus.ACTIVE if current else CampaignStatus.COMPLETED).value,
                starts_on=date(year, 1, 1),
                ends_on=date(year, 12, 31),
                owner_id=nick.id if type_name != "Telemarketing" else cory.id,
                location_id=arrc.id if rng.random() < 0.7 else fresno.id,
                budgeted_cost=money(cost),
                actual_cost=money(round(cost * elapsed, -1)),
                expected_revenue=money(max(cost, 500) * 12),
                created_at=created,
                updated_at=created,
            )
        )
    db.session.add_all([*campaign_2013.values(), *campaigns])
    db.session.flush()

    # -- PRODUCT.md's example records --
    discovery = demo.stage["Discovery"]
    tows_created = datetime(2013, 10, 21, 17, 0, tzinfo=UTC)
    tows_moves = [
        datetime(2013, 10, 21, 17, 0, tzinfo=UTC),
        datetime(2013, 10, 29, 19, 30, tzinfo=UTC),
        datetime(2013, 11, 7, 18, 45, tzinfo=UTC),
    ]
    tows_opportunity = Opportunity(
        name="Tows R Us - Managed Services - Complete",
        description="Managed Services for 3 sites",
        type_id=demo.types[MS_COMPLETE].id,
        status_id=demo.open_status.id,
        stage_id=discovery.id,
        revenue=money("6200.00"),
        cost=ZERO,
        expected_close_on=date(2013, 11, 30),
        rating=Rating.MEDIUM.value,
        probability=60,
        source=referral,
        campaign_id=campaign_2013["Business Referral"].id,
        account_manager_id=cory.id,
        company_id=tows.id,
        contact_id=shane.id,
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
        stage_entered_at=tows_moves[-1],
        created_at=tows_created,
        created_by_id=cory.id,
        updated_at=tows_moves[-1],
        updated_by_id=cory.id,
    )
    jason_scheduled = datetime(2013, 12, 5, 14, 18, tzinfo=tz).astimezone(UTC)
    appointment_start = datetime(2013, 12, 9, 10, 0, tzinfo=tz).astimezone(UTC)
    appointment_end = datetime(2013, 12, 9, 11, 0, tzinfo=tz).astimezone(UTC)
    chartec_moves = [jason_scheduled - timedelta(minutes=8), appointment_end]
    chartec_opportunity = Opportunity(
        name=MS_PHONE,
        description="Phone system upgrade: hosted VoIP for 18 users",
        type_id=demo.types[MS_PHONE].id,
        status_id=demo.open_status.id,
        stage_id=demo.stage["1st Appointment"].id,
        revenue=money(450 * 36),
        cost=money(180 * 36),
        expected_close_on=date(2014, 1, 31),
        rating=Rating.HOT.value,
        probability=demo.stage["1st Appointment"].default_probability,
        source=referral,
        campaign_id=campaign_2013["Partner Referral"].id,
        account_manager_id=nick.id,
        company_id=chartec.id,
        contact_id=jason.id,
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
        stage_entered_at=chartec_moves[-1],
        created_at=chartec_moves[0],
        created_by_id=nick.id,
        updated_at=chartec_moves[-1],
        updated_by_id=nick.id,
    )
    example_deals = [
        (
            tows_opportunity,
            [_Line(MS_COMPLETE, "Managed services, 3 sites", money(6200), ZERO)],
            tows_moves,
            cory,
        ),
        (
            chartec_opportunity,
            [
                _Line(
                    MS_PHONE,
                    "Hosted VoIP, 18 users",
                    money(450),
                    money(180),
                    recurring=True,
                    months=36,
                )
            ],
            chartec_moves,
            nick,
        ),
    ]

    # -- generated opportunities, their history and next steps --
    deals = _generate_deals(
        demo, members, companies, contacts, campaigns, quota, locations, ms_sales, projects
    )
    _plan_deals(demo, deals, members)
    db.session.add_all([d[0] for d in example_deals])
    db.session.add_all([d.opportunity for d in deals])
    db.session.flush()

    stage_changes: list[StageChange] = []
    lines: list[ForecastLine] = []
    for opportunity, example_lines, moves, member in example_deals:
        path = [demo.stage["Prospect"], demo.stage["1st Appointment"], discovery][: len(moves)]
        stage_changes.extend(_stage_changes(opportunity, path, moves, member.id))
        lines.extend(_forecast_rows(demo, opportunity, example_lines))

    appointment = Activity(
        subject="1st Appointment with Jason",
        type_id=demo.activity_types["SA"].id,
        status=ActivityStatus.CLOSED.value,
        company_id=chartec.id,
        contact_id=jason.id,
        phone="(866) 544-2772",
        opportunity_id=chartec_opportunity.id,
        campaign_id=campaign_2013["Partner Referral"].id,
        assigned_to_id=nick.id,
        assigned_by_id=nick.id,
        due_on=date(2013, 12, 9),
        starts_at=appointment_start,
        ends_at=appointment_end,
        reminder_minutes=15,
        place="On-Site",
        closed_at=appointment_end,
        closed_by_id=nick.id,
        points_earned=demo.activity_types["SA"].points,
        created_at=jason_scheduled - timedelta(minutes=2),
        updated_at=appointment_end,
    )
    demo.activities.append(appointment)

    notes: list[OpportunityNote] = []
    team_rows: list[OpportunityTeamMember] = []
    extra_contacts: list[OpportunityContact] = []
    for deal in deals:
        opportunity = deal.opportunity
        owner_id = opportunity.account_manager_id or nick.id
        stage_changes.extend(_stage_changes(opportunity, deal.path, deal.moments, owner_id))
        lines.extend(_forecast_rows(demo, opportunity, deal.lines))
        for activity in deal.linked:
            activity.opportunity_id = opportunity.id
        if deal.helper is not None:
            team_rows.append(
                OpportunityTeamMember(
                    opportunity_id=opportunity.id, member_id=deal.helper[0].id, role=deal.helper[1]
                )
            )
        if deal.path[0] is not deal.path[-1] and rng.random() < 0.22:
            notes.append(
                OpportunityNote(
                    opportunity_id=opportunity.id,
                    author_id=owner_id,
                    created_at=deal.moments[-1] + timedelta(minutes=rng.randint(15, 90)),
                    body=rng.choice(OPPORTUNITY_NOTES).format(first=deal.contact.first_name),
                )
            )
        others = [c for c in contacts[deal.company.id] if c is not deal.contact]
        if others and rng.random() < 0.3:
            extra_contacts.append(
                OpportunityContact(
                    opportunity_id=opportunity.id,
                    contact_id=others[0].id,
                    role=rng.choice(("Decision maker", "Technical contact", "Influencer")),
                )
            )
    _fill_activities(demo, members, companies, contacts, campaigns, cory, manny)

    db.session.add_all([*stage_changes, *lines, *notes, *team_rows, *extra_contacts])
    db.session.add_all(demo.activities)
    db.session.flush()
    db.session.add(
        ActivityNote(
            activity_id=appointment.id,
            author_id=nick.id,
            created_at=jason_scheduled,
            body="Meeting scheduled with Jason. He was referred by Jim over at Jim's towing. "
            "He is interested in a phone system upgrade.",
        )
    )
    db.session.flush()

    company_count = len(companies) + 2
    contact_count = sum(len(cs) for cs in contacts.values()) + 2
    return (
        f"Demo data: {len(members)} members, {company_count} companies, "
        f"{contact_count} contacts, {len(campaigns) + len(campaign_2013)} campaigns, "
        f"{len(deals) + len(example_deals)} opportunities, "
        f"{len(demo.activities)} activities."
    )


def _stage_changes(
    opportunity: Opportunity, path: list[SalesStage], moments: list[datetime], member_id: int
) -> list[StageChange]:
    """The walk from Prospect to the current stage, one row per move."""
    rows: list[StageChange] = []
    previous: SalesStage | None = None
    for stage, moment in zip(path, moments, strict=True):
        rows.append(
            StageChange(
                opportunity_id=opportunity.id,
                from_stage_id=previous.id if previous else None,
                to_stage_id=stage.id,
                changed_by_id=member_id,
                changed_at=moment,
            )
        )
        previous = stage
    return rows


def _lines_for(demo: _Demo, product: str, target: Decimal | None) -> list[_Line]:
    """Forecast lines for a deal of this product: random in size, or close to `target`."""
    rng = demo.rng

    def pct(low: int, high: int) -> Decimal:
        return Decimal(rng.randint(low, high)) / 100

    if target is not None:
        if product in MANAGED_SERVICES:
            monthly = money(round(float(target) / 12 / 5) * 5)
            return [
                _Line(
                    product,
                    "Managed services agreement, 12 months",
                    monthly,
                    money(monthly * pct(40, 55)),
                    recurring=True,
                    months=12,
                )
            ]
        return [_Line(product, f"{product} (fixed price)", target, money(target * pct(35, 80)))]

    if product in MANAGED_SERVICES:
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
        while monthly * months > 58_000 and months > 12:
            months -= 12
        monthly = min(monthly, 58_000 // months)
        lines = [
            _Line(
                product,
                f"Managed services, {label}",
                money(monthly),
                money(monthly * pct(40, 60)),
                recurring=True,
                months=months,
            )
        ]
        if rng.random() < 0.35:
            setup = rng.choice((500, 750, 1000, 1500, 2000))
            lines.append(
                _Line(product, "Onboarding and setup", money(setup), money(setup * pct(20, 40)))
            )
        return lines
    if product == CABLING:
        drops = rng.randint(12, 110)
        revenue = drops * rng.choice((125, 140, 155, 175))
        lines = [
            _Line(product, f"{drops} network drops", money(revenue), money(revenue * pct(48, 60)))
        ]
    elif product == HARDWARE:
        pcs = rng.randint(3, 18)
        revenue = pcs * rng.choice((950, 1100, 1250))
        lines = [
            _Line(product, f"{pcs} workstations", money(revenue), money(revenue * pct(78, 86)))
        ]
        if rng.random() < 0.4:
            server = rng.choice((4500, 6800, 8900))
            lines.append(
                _Line(product, "Server and UPS", money(server), money(server * pct(75, 82)))
            )
    elif product == ASSESSMENT:
        revenue = rng.choice((750, 1000, 1500, 2000, 2500))
        lines = [
            _Line(
                product,
                "Network assessment and report",
                money(revenue),
                money(revenue * pct(10, 25)),
            )
        ]
    else:
        users = rng.randint(10, 60)
        revenue = users * rng.choice((90, 120, 150)) + rng.choice((0, 2500, 5000))
        lines = [
            _Line(
                product,
                f"Move {users} mailboxes and files to Microsoft 365",
                money(revenue),
                money(revenue * pct(35, 50)),
            )
        ]
    if rng.random() < 0.25:
        assessment = rng.choice((500, 750, 1000))
        lines.append(
            _Line(
                ASSESSMENT,
                "Pre-project assessment",
                money(assessment),
                money(assessment * pct(10, 20)),
            )
        )
    return lines


def _describe(product: str, company: Company, lines: list[_Line]) -> str:
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


def _generate_deals(
    demo: _Demo,
    members: list[Member],
    companies: list[Company],
    contacts: dict[int, list[Contact]],
    campaigns: list[Campaign],
    quota: dict[int, Decimal],
    locations: dict[str, Location],
    ms_sales: BusinessUnit,
    projects: BusinessUnit,
) -> list[_Deal]:
    """Opportunities (without ids yet) and the stage path each one walked."""
    rng = demo.rng
    stages = demo.stage
    kinds: list[str] = [name for name, count in OPEN_COUNTS.items() for _ in range(count)]
    kinds += ["Won"] * WON_IN_WINDOW + ["Lost"] * LOST_IN_WINDOW
    rng.shuffle(kinds)
    used: set[tuple[int, str]] = set()
    deals: list[_Deal] = []
    location_names = {loc.id: name for name, loc in locations.items()}
    member_by_id = {m.id: m for m in members}

    def pick(member: Member | None = None) -> tuple[Company, str, Member]:
        """A company and product not paired yet (so names stay unique), and an owner."""
        pool = [c for c in companies if member is None or c.account_manager_id == member.id]
        for _ in range(200):
            company = rng.choice(pool or companies)
            product = rng.choice(PRODUCTS)
            if (company.id, product) not in used:
                break
        used.add((company.id, product))
        owner = member or (
            member_by_id[company.account_manager_id or members[0].id]
            if rng.random() < 0.85
            else rng.choice(members)
        )
        return company, product, owner

    def campaign_for(year: int) -> Campaign | None:
        if rng.random() < 0.15:
            return None
        same_year = [c for c in campaigns if c.starts_on and c.starts_on.year == year]
        return rng.choice(same_year or campaigns) if campaigns else None

    def build(
        kind: str, company: Company, product: str, owner: Member, target: Decimal | None
    ) -> _Deal:
        lines = _lines_for(demo, product, target)
        revenue = sum((line.total_revenue for line in lines), ZERO)
        cost = sum((line.total_cost for line in lines), ZERO)
        if kind == "Won":
            path = [stages[n] for n in OPEN_COUNTS if n != "Follow-Up" or rng.random() < 0.6]
            path.append(demo.won_stage)
            status = demo.won_status
        elif kind == "Lost":
            path = [*demo.open_stages[: rng.randint(1, 5)], demo.lost_stage]
            status = demo.lost_status
        else:
            path = demo.open_stages[: demo.open_stages.index(stages[kind]) + 1]
            status = demo.open_status
        stage = path[-1]
        contact = rng.choice(contacts[company.id])
        location_name = location_names.get(company.location_id or 0, ARRC)
        opportunity = Opportunity(
            name=f"{company.name} - {product}",
            description=_describe(product, company, lines),
            type_id=demo.types[product].id,
            status_id=status.id,
            stage_id=stage.id,
            revenue=revenue,
            cost=cost,
            rating=rng.choice((Rating.HOT, Rating.MEDIUM, Rating.MEDIUM, Rating.COLD)).value,
            probability=stage.default_probability,
            account_manager_id=owner.id,
            company_id=company.id,
            contact_id=contact.id,
            location_id=locations[location_name].id,
            business_unit_id=(ms_sales if product in MANAGED_SERVICES else projects).id,
            created_by_id=owner.id,
            updated_by_id=owner.id,
        )
        return _Deal(opportunity, company, contact, path, lines)

    for kind in kinds:
        company, product, owner = pick()
        target = money(rng.randint(12, 70) * 50) if kind == "Won" else None
        deals.append(build(kind, company, product, owner, target))

    # Earlier wins, one per member and month, so quota attainment has a history: every month
    # of this year before the window (at least the six months before it), and the window's
    # first month up to its first day.
    first_month = min(date(demo.today.year, 1, 1), _add_months(demo.start.replace(day=1), -6))
    month = first_month
    while month <= demo.start:
        days = demo._working_days(month, min(_add_months(month, 1), demo.start) - timedelta(days=1))
        for member in members if days else []:
            company, product, owner = pick(member)
            target = money(round(float(quota[member.id]) * rng.uniform(0.55, 1.3) / 50) * 50)
            deal = build("Won", company, product, owner, target)
            deal.opportunity.closed_at = demo.at(rng.choice(days), rng.randint(9, 16), 30)
            deals.append(deal)
        month = _add_months(month, 1)

    for deal in deals:
        campaign = campaign_for((deal.opportunity.closed_at or demo.at(demo.today, 12)).year)
        deal.opportunity.campaign_id = campaign.id if campaign else None
        deal.opportunity.source = (
            _campaign_type_name(demo, campaign)
            if campaign
            else rng.choice(("Existing Client", "Networking", "Walk-In"))
        )
    return deals


def _campaign_type_name(demo: _Demo, campaign: Campaign) -> str:
    return next(name for name, t in demo.campaign_types.items() if t.id == campaign.type_id)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _forecast_rows(demo: _Demo, opportunity: Opportunity, lines: list[_Line]) -> list[ForecastLine]:
    return [
        ForecastLine(
            opportunity_id=opportunity.id,
            product_id=demo.types[line.product].id,
            description=line.description,
            position=position,
            recurring=line.recurring,
            revenue=line.revenue,
            cost=line.cost,
            months=line.months,
            status_id=opportunity.status_id,
            include_in_forecast=True,
        )
        for position, line in enumerate(lines, start=1)
    ]


def _plan_deals(demo: _Demo, deals: list[_Deal], members: list[Member]) -> None:
    """Before the opportunities are flushed: when each one moved (with the activity that
    moved it), its dates and amounts, its next step, and its team. Leaves STALLED_SHARE of
    the open deals without a next step."""
    rng = demo.rng
    open_deals = [d for d in deals if d.opportunity.status_id == demo.open_status.id]
    stalled = {id(d) for d in rng.sample(open_deals, round(len(open_deals) * STALLED_SHARE))}

    for deal in deals:
        opportunity, company, contact = deal.opportunity, deal.company, deal.contact
        owner_id = opportunity.account_manager_id or members[0].id
        words = {"company": company.name, "first": contact.first_name}
        earlier = opportunity.closed_at  # set for a win from before the window

        # The day of each move: working days a few days apart.
        if earlier is not None:
            close_day = earlier.astimezone(demo.tz).date()
            pool = demo._working_days(close_day - timedelta(days=70), close_day)
            days = [*sorted(rng.sample(pool[:-1], len(deal.path) - 1)), close_day]
        else:
            # The last move anywhere in the window, the first 2-8 working days per move
            # before it, the ones between at random.
            pool = demo.past_days
            moves = len(deal.path) - 1
            last = rng.randint(min(2 * moves, len(pool) - 1), len(pool) - 1)
            first = rng.randint(max(0, last - 8 * moves), max(0, last - 2 * moves))
            between = sorted(rng.sample(range(first + 1, last), moves - 1)) if moves > 1 else []
            days = [pool[i] for i in ([first, *between, last] if moves else [last])]

        for stage, day in zip(deal.path, days, strict=True):
            if earlier is not None:
                moment = (
                    earlier
                    if stage.is_won
                    else demo.at(day, rng.randint(9, 16), rng.choice((0, 15, 30, 45)))
                )
            else:
                code, subject, minutes, places = STAGE_MOVES[stage.name]
                moved_by = demo.activity(
                    code=code,
                    subject=subject.format(**words),
                    member_id=owner_id,
                    day=day,
                    minutes=minutes,
                    place=rng.choice(places),
                    closed=True,
                    company=company,
                    contact=contact,
                    campaign_id=opportunity.campaign_id,
                )
                deal.linked.append(moved_by)
                assert moved_by.closed_at is not None
                moment = moved_by.closed_at
                if stage.name == "Prospect":
                    moved_by.created_at = moment - timedelta(minutes=5)
                if stage.name == "1st Appointment" and rng.random() < 0.5:
                    follow_day = next((d for d in demo.past_days if d > day), None)
                    if follow_day is not None:
                        deal.linked.append(
                            demo.activity(
                                code="TP",
                                subject=f"Thank-you postcard to {contact.first_name}",
                                member_id=owner_id,
                                day=follow_day,
                                minutes=None,
                                place="Office",
                                closed=True,
                                company=company,
                                contact=contact,
                                campaign_id=opportunity.campaign_id,
                            )
                        )
            if deal.moments and moment <= deal.moments[-1]:
                moment = deal.moments[-1] + timedelta(hours=1)
            deal.moments.append(moment)

        last = deal.moments[-1]
        opportunity.created_at = deal.moments[0]
        opportunity.stage_entered_at = opportunity.updated_at = last
        stage = deal.path[-1]
        if stage.is_won or stage.is_lost:
            opportunity.closed_at = last
            opportunity.expected_close_on = last.astimezone(demo.tz).date()
            if stage.is_won:
                opportunity.won_amount = opportunity.revenue
            else:
                opportunity.lost_amount = opportunity.revenue
                opportunity.lost_reason = rng.choice(LOST_REASONS)
        else:
            remaining = len(demo.open_stages) - demo.open_stages.index(stage)
            opportunity.expected_close_on = demo.today + timedelta(
                days=rng.randint(-7, 21) + remaining * 9
            )
            code, subject, minutes, places = NEXT_STEPS[stage.name]
            next_step_on = None
            if id(deal) not in stalled:
                future = demo.future_days[:10] if rng.random() < 0.7 else demo.future_days
                next_step_on = rng.choice(future)
            elif rng.random() < 0.5:
                # The next step slipped: still open, but overdue.
                later = [d for d in demo.past_days if d > last.astimezone(demo.tz).date()]
                if later:
                    next_step_on = rng.choice(later[:10])
            if next_step_on is not None:
                deal.linked.append(
                    demo.activity(
                        code=code,
                        subject=subject.format(**words),
                        member_id=owner_id,
                        day=next_step_on,
                        minutes=minutes,
                        place=rng.choice(places),
                        closed=False,
                        company=company,
                        contact=contact,
                        campaign_id=opportunity.campaign_id,
                        created_at=last + timedelta(minutes=10),
                    )
                )

        if rng.random() < 0.2:
            helper = rng.choice([m for m in members if m.id != owner_id])
            role = rng.choice(("Sales associate", "Technical lead", "Executive sponsor"))
            deal.helper = (helper, role)
            if role == "Sales associate":
                opportunity.sales_associate_id = helper.id


def _fill_activities(
    demo: _Demo,
    members: list[Member],
    companies: list[Company],
    contacts: dict[int, list[Contact]],
    campaigns: list[Campaign],
    manager: Member,
    rep: Member,
) -> None:
    """The rest of each member's work, so each type's count roughly follows its monthly
    target over the window."""
    rng = demo.rng
    months = (PAST_DAYS + FUTURE_DAYS) / 30.44
    window_days = demo.past_days + demo.future_days
    codes = {t.id: c for c, t in demo.activity_types.items()}
    done: dict[tuple[int, str], int] = {}
    for activity in demo.activities:
        key = (activity.assigned_to_id, codes[activity.type_id])
        done[key] = done.get(key, 0) + 1
    campaign_by_type = {
        c.type_id: c for c in campaigns if c.starts_on and c.starts_on.year == demo.today.year
    }
    event_campaign = campaign_by_type.get(demo.campaign_types["Event"].id)
    webinar_campaign = campaign_by_type.get(demo.campaign_types["Webinar"].id)
    cold_campaign = campaign_by_type.get(demo.campaign_types["Sales Executive"].id)

    for member in members:
        own = [c for c in companies if c.account_manager_id == member.id] or companies
        for code, activity_type in demo.activity_types.items():
            if code in FUNNEL_CODES or code not in FILL_ACTIVITIES:
                continue
            per_month = activity_type.monthly_count or 1.2
            target = round(per_month * months * FILL_FACTOR * rng.uniform(0.85, 1.15))
            subject, minutes, places = FILL_ACTIVITIES[code]
            for _ in range(max(0, target - done.get((member.id, code), 0))):
                day = rng.choice(window_days)
                company: Company | None = rng.choice(own)
                contact: Contact | None = rng.choice(contacts[company.id]) if company else None
                campaign: Campaign | None = None
                if code in ("CC", "EV", "WB"):
                    campaign = {"CC": cold_campaign, "EV": event_campaign, "WB": webinar_campaign}[
                        code
                    ]
                words = {
                    "company": company.name if company else "",
                    "first": contact.first_name if contact else "",
                    "city": company.city if company else "",
                    "industry": rng.choice(INDUSTRY_TARGETS),
                    "topic": rng.choice(TOPICS),
                    "item": rng.choice(ITEMS),
                    "addendum": rng.choice(ADDENDA),
                    "gift": rng.choice(GIFTS),
                }
                if code in ("CC", "EV", "WB"):
                    company = contact = None
                timed = minutes
                if timed is None and code in ("HQ", "AQ", "RG") and rng.random() < 0.4:
                    timed = 30
                if timed is not None and code in ("SE", "MT", "LF") and rng.random() < 0.35:
                    timed = None
                if day < demo.today:
                    recent = (demo.today - day).days <= 14
                    closed = rng.random() > (0.15 if recent else 0.03)
                else:
                    closed = False
                assigned_by = manager.id if member is rep and rng.random() < 0.15 else member.id
                demo.activity(
                    code=code,
                    subject=subject.format(**words),
                    member_id=member.id,
                    day=day,
                    minutes=timed,
                    place=rng.choice(places),
                    closed=closed,
                    company=company,
                    contact=contact,
                    campaign_id=campaign.id if campaign else None,
                    assigned_by_id=assigned_by,
                )
