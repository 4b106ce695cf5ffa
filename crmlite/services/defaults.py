"""The defaults of the sales method (PRODUCT.md), loaded idempotently by ``flask crm init``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import (
    ActivityGroup,
    ActivityType,
    CampaignSubType,
    CampaignType,
    OpportunityStatus,
    OpportunityType,
    SalesStage,
    Team,
    TrackKind,
)
from crmlite.models.people import DEFAULT_POINTS_QUOTA, DEFAULT_TIME_ZONE

# name, default probability, is_won, is_lost
STAGES: list[tuple[str, int, bool, bool]] = [
    ("Prospect", 10, False, False),
    ("1st Appointment", 30, False, False),
    ("Discovery", 60, False, False),
    ("Presentation", 70, False, False),
    ("Follow-Up", 80, False, False),
    ("Commitment", 90, False, False),
    ("Won", 100, True, False),
    ("Lost", 0, False, True),
]

# The kind of activity each standard stage's next-step question offers first: moving to 1st
# Appointment means scheduling that appointment (SA), and so on. Won and Lost ask none.
STAGE_NEXT_STEP_TYPES: dict[str, str] = {
    "Prospect": "SE",
    "1st Appointment": "SA",
    "Discovery": "DM",
    "Presentation": "PA",
    "Follow-Up": "FC",
    "Commitment": "FC",
}

# name, is_closed, is_won, is_lost
STATUSES: list[tuple[str, bool, bool, bool]] = [
    ("Open", False, False, False),
    ("Won", True, True, False),
    ("Lost", True, False, True),
    ("No Decision", True, False, False),
]

OPPORTUNITY_TYPES = [
    "Managed Services - Complete",
    "Managed Services - Phone System",
    "Managed Services - Backup & Recovery",
    "Cabling Project",
    "New Hardware",
    "Network Assessment",
    "Cloud Migration",
]
# The forecast table's category of each default product ("Managed Services…": Managed Service).
PRODUCT_CATEGORIES = {
    "Cabling Project": "Service",
    "Network Assessment": "Service",
    "Cloud Migration": "Service",
    "New Hardware": "Other",
}


@dataclass(frozen=True)
class ActivityTypeDefault:
    code: str
    name: str
    group: ActivityGroup
    points: int
    monthly_count: int


_F, _O, _P, _C = (
    ActivityGroup.FUNNEL_STAGES,
    ActivityGroup.FARM_OPPORTUNITIES,
    ActivityGroup.PROACTIVE,
    ActivityGroup.FARM_CLIENTS,
)

# The points table of PRODUCT.md (21 types whose monthly totals add up to 644), and E-mail.
ACTIVITY_TYPES: list[ActivityTypeDefault] = [
    ActivityTypeDefault("PF", "Add Prospect to Funnel", _F, 3, 20),
    ActivityTypeDefault("SA", "1st Appointment", _F, 10, 7),
    ActivityTypeDefault("DM", "Discovery Meeting", _F, 12, 4),
    ActivityTypeDefault("PA", "Presentation Appointment", _F, 14, 4),
    ActivityTypeDefault("FC", "Follow Up Appointment to Close", _F, 16, 0),
    ActivityTypeDefault("PD", "Proactive Date With Client", _O, 5, 0),
    ActivityTypeDefault("SE", "Follow up Call/Email", _O, 1, 0),
    ActivityTypeDefault("TP", "Thank You Postcard after a meeting", _O, 1, 0),
    ActivityTypeDefault("CC", "2 Hr Cold Call Block", _P, 15, 4),
    ActivityTypeDefault("MT", "Marketing Track Activity Call", _P, 1, 0),
    ActivityTypeDefault("LF", "Lead Follow Up Call", _P, 1, 0),
    ActivityTypeDefault("EV", "Attend a Social Event/Trade Show", _P, 10, 2),
    ActivityTypeDefault("WB", "Host a Webinar or Lunch & Learn", _P, 10, 1),
    ActivityTypeDefault("LD", "Lunch Date w/ Client", _C, 5, 2),
    ActivityTypeDefault("VE", "Value Add Proactive Email", _C, 2, 10),
    ActivityTypeDefault("TBR", "Technology Business Review Meeting", _C, 20, 4),
    ActivityTypeDefault("RG", "Referral Given to a Client", _C, 5, 1),
    ActivityTypeDefault("HQ", "New Hardware Quote", _C, 5, 15),
    ActivityTypeDefault("AQ", "New Addendum Quote", _C, 10, 10),
    ActivityTypeDefault("TC", "Thank You Card", _C, 1, 10),
    ActivityTypeDefault("WOW", "Approved Wow Experience", _C, 10, 2),
    # Not in the points table: what a captured e-mail becomes. It earns nothing.
    ActivityTypeDefault("EM", "E-mail", _O, 0, 0),
]

CAMPAIGN_TYPES: dict[str, list[str]] = {
    "Direct Mail": ["Letter", "Postcard"],
    "Email": ["Important Announcement", "Product Promotion", "Track – General", "Track – Vertical"],
    "Event": ["Chamber", "Lunch & Learn", "Open House"],
    "Inside Sales": ["Product Promotion", "Discount"],
    "Pay Per Click (PPC)": ["PPC"],
    "Public Relations": ["Press Release", "Pitch"],
    "Print": ["Magazine", "Newspaper"],
    "Referral": ["Business Referral"],
    "Sales Executive": ["Cold Call"],
    "Social Media": ["Facebook", "LinkedIn"],
    "Telemarketing": ["MSP Leads"],
    "Walk-In": [],
    "Webinar": [],
    "Website": ["Visitor ID", "Website"],
}

# code, name, description
TRACK_KINDS: list[tuple[str, str, str]] = [
    (
        "general_interest",
        "General Interest",
        "Year long; every new prospect joins it unless an event track applies.",
    ),
    (
        "industry_specific",
        "Industry Specific",
        "Content for one target industry; on completion the contact moves to General Interest.",
    ),
    ("value_add", "Value-Add", "For current clients with up-sell potential; a seller decides."),
    (
        "event_specific",
        "Event Specific",
        "4–5 touches right after a large event; then General Interest.",
    ),
    (
        "lost_sale",
        "Lost Sale",
        "Year long, after a lost or stalled sale: first question the choice made, "
        "then stay top of mind.",
    ),
]


@dataclass(frozen=True)
class StepDefault:
    day: int
    action: str  # "activity" or "email"
    subject: str
    code: str = ""  # the activity type of an activity step
    body: str = ""


def _monthly_touches(first_day: int = 0) -> list[StepDefault]:
    touches = [
        StepDefault(
            0,
            "email",
            "Thanks for your time, {name}",
            body="Hi {name},\n\nThank you for your interest. We are here when you need us.",
        ),
    ]
    for month in range(1, 12):
        if month % 3 == 0:
            touches.append(
                StepDefault(first_day + 30 * month, "activity", "Check in by phone", code="MT")
            )
        else:
            touches.append(
                StepDefault(
                    first_day + 30 * month,
                    "email",
                    "Technology tips for this month, {name}",
                    body="Hi {name},\n\nThree quick ideas to keep your "
                    "systems safe and your team productive this month.",
                )
            )
    return touches


# Kinds whose tracks run alongside a contact's nurture track (General Interest, Industry
# Specific, Lost Sale: one of those at a time). Value-Add is account work with current
# clients that a seller starts on purpose, not nurture: it must not end (or be ended by)
# General Interest. Event Specific is a few touches about one event, and leads back to
# General Interest: ending General Interest for it would restart that year-long track
# from its first e-mail when the event track ends.
RUNS_ALONGSIDE_KINDS = frozenset({"value_add", "event_specific"})

# name, kind code, industry, steps, the track to join on completion
EXAMPLE_TRACKS: list[tuple[str, str, str, list[StepDefault], str | None]] = [
    ("General Interest", "general_interest", "", _monthly_touches(), None),
    (
        "Healthcare Practices",
        "industry_specific",
        "Healthcare",
        [
            StepDefault(
                0,
                "email",
                "IT for healthcare practices, {name}",
                body="Hi {name},\n\nHow practices like yours keep patient data safe.",
            ),
            StepDefault(14, "activity", "Call about compliance needs", code="MT"),
            StepDefault(
                30,
                "email",
                "A checklist for your next HIPAA review",
                body="Hi {name},\n\nHere is the checklist we use with our clients.",
            ),
            StepDefault(60, "activity", "Offer a network assessment", code="SE"),
        ],
        "General Interest",
    ),
    (
        "Value-Add Review",
        "value_add",
        "",
        [
            StepDefault(0, "activity", "Plan a technology business review", code="TBR"),
            StepDefault(
                7,
                "email",
                "Ideas for your business, {name}",
                body="Hi {name},\n\nA few upgrades that would pay for themselves.",
            ),
            StepDefault(30, "activity", "Follow up on the review", code="SE"),
        ],
        None,
    ),
    (
        "After the Trade Show",
        "event_specific",
        "",
        [
            StepDefault(
                1,
                "email",
                "Great to meet you at the show, {name}",
                body="Hi {name},\n\nThanks for stopping by our booth.",
            ),
            StepDefault(2, "activity", "Call the event lead", code="LF"),
            StepDefault(
                5,
                "email",
                "The slides from our talk",
                body="Hi {name},\n\nAs promised, the slides from the show.",
            ),
            StepDefault(9, "activity", "Invite to a lunch & learn", code="SE"),
            StepDefault(
                14,
                "email",
                "Can we help, {name}?",
                body="Hi {name},\n\nIf any of it was useful, let's talk.",
            ),
        ],
        "General Interest",
    ),
    (
        "Lost Sale",
        "lost_sale",
        "",
        [
            StepDefault(7, "activity", "Ask how the chosen solution is working", code="SE"),
            StepDefault(
                30,
                "email",
                "How is it going, {name}?",
                body="Hi {name},\n\nHow is the new setup working out? Any surprises?",
            ),
            StepDefault(90, "activity", "Check in: questions about the choice made", code="MT"),
            StepDefault(
                180,
                "email",
                "Still here for you, {name}",
                body="Hi {name},\n\nA quick hello, and a few tips we share with clients.",
            ),
            StepDefault(270, "activity", "Proactive call", code="MT"),
            StepDefault(
                360,
                "email",
                "A year on, {name}",
                body="Hi {name},\n\nIt's been a year. If things change, we'd love to help.",
            ),
        ],
        None,
    ),
]


def _load_example_tracks() -> None:
    from crmlite.models import Track, TrackStep

    tracks = {t.name: t for t in db.session.scalars(select(Track))}
    kinds = {k.code: k.id for k in db.session.scalars(select(TrackKind))}
    types = {t.code: t.id for t in db.session.scalars(select(ActivityType))}
    created = []
    for name, kind, industry, steps, _ in EXAMPLE_TRACKS:
        if name in tracks:
            continue
        track = Track(
            name=name,
            kind_id=kinds[kind],
            industry=industry,
            runs_alongside=kind in RUNS_ALONGSIDE_KINDS,
        )
        db.session.add(track)
        db.session.flush()
        tracks[name] = track
        created.append(name)
        for position, step in enumerate(steps, start=1):
            db.session.add(
                TrackStep(
                    track_id=track.id,
                    position=position,
                    day_offset=step.day,
                    action=step.action,
                    subject=step.subject,
                    body=step.body,
                    activity_type_id=types.get(step.code) if step.action == "activity" else None,
                )
            )
    for name, _, _, _, then in EXAMPLE_TRACKS:
        if name in created and then:
            tracks[name].on_complete_track_id = tracks[then].id


def _load_team(team_name: str) -> None:
    if db.session.get(Team, 1) is None:
        db.session.add(
            Team(
                id=1, name=team_name, time_zone=DEFAULT_TIME_ZONE, points_quota=DEFAULT_POINTS_QUOTA
            )
        )


def _load_stages() -> None:
    """The stages missing, each with its next-step type (the activity types are loaded)."""
    stages = set(db.session.scalars(select(SalesStage.name)))
    type_ids = {
        code: id_ for code, id_ in db.session.execute(select(ActivityType.code, ActivityType.id))
    }
    for position, (name, probability, is_won, is_lost) in enumerate(STAGES, start=1):
        if name not in stages:
            code = STAGE_NEXT_STEP_TYPES.get(name)
            db.session.add(
                SalesStage(
                    name=name,
                    position=position,
                    default_probability=probability,
                    is_won=is_won,
                    is_lost=is_lost,
                    next_step_type_id=type_ids.get(code) if code else None,
                )
            )


def load_defaults(team_name: str = "crmlite") -> None:
    """Create whatever default is missing; never change or duplicate what exists."""
    _load_team(team_name)

    statuses = set(db.session.scalars(select(OpportunityStatus.name)))
    for position, (name, is_closed, is_won, is_lost) in enumerate(STATUSES, start=1):
        if name not in statuses:
            db.session.add(
                OpportunityStatus(
                    name=name,
                    position=position,
                    is_closed=is_closed,
                    is_won=is_won,
                    is_lost=is_lost,
                )
            )

    types = set(db.session.scalars(select(OpportunityType.name)))
    db.session.add_all(
        OpportunityType(
            name=n,
            category=PRODUCT_CATEGORIES.get(
                n, "Managed Service" if n.startswith("Managed") else "Other"
            ),
            recurring=n.startswith("Managed"),
        )
        for n in OPPORTUNITY_TYPES
        if n not in types
    )

    codes = set(db.session.scalars(select(ActivityType.code)))
    for position, d in enumerate(ACTIVITY_TYPES, start=1):
        if d.code not in codes:
            db.session.add(
                ActivityType(
                    code=d.code,
                    name=d.name,
                    group=d.group.value,
                    points=d.points,
                    monthly_count=d.monthly_count,
                    position=position,
                )
            )

    db.session.flush()
    _load_stages()

    _load_campaign_types()

    kinds = set(db.session.scalars(select(TrackKind.code)))
    for position, (code, name, description) in enumerate(TRACK_KINDS, start=1):
        if code not in kinds:
            db.session.add(
                TrackKind(code=code, name=name, description=description, position=position)
            )
    db.session.flush()
    _load_example_tracks()
    db.session.flush()


def _load_campaign_types() -> None:
    existing = {t.name: t for t in db.session.scalars(select(CampaignType))}
    existing_subs = set(
        db.session.execute(select(CampaignSubType.type_id, CampaignSubType.name)).all()
    )
    for position, (type_name, sub_names) in enumerate(CAMPAIGN_TYPES.items(), start=1):
        campaign_type = existing.get(type_name)
        if campaign_type is None:
            campaign_type = CampaignType(name=type_name, position=position)
            db.session.add(campaign_type)
            db.session.flush()
        for sub_position, sub_name in enumerate(sub_names, start=1):
            if (campaign_type.id, sub_name) not in existing_subs:
                db.session.add(
                    CampaignSubType(type_id=campaign_type.id, name=sub_name, position=sub_position)
                )
