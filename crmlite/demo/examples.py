"""PRODUCT.md's example records, exactly as the product description tells them (2013).

Tows R Us (Bakersfield) and its owner Shane Swanson, whose managed-services deal reached
Discovery through a business referral; CharTec and Jason Rivas, referred by a partner, with
a hosted phone system in 1st Appointment, the appointment on 9 December 2013 and its note.
Each function is the example part of one phase and runs just before the generated rows of
the same table, so the examples keep the first ids.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from crmlite.demo.campaigns import sub_type
from crmlite.demo.context import MS_COMPLETE, MS_PHONE, MS_SALES, Deal, Demo, Line
from crmlite.demo.words import ARRC
from crmlite.models import (
    Activity,
    ActivityNote,
    ActivityStatus,
    Campaign,
    CampaignStatus,
    Company,
    Contact,
    Opportunity,
    Rating,
)
from crmlite.services.money import ZERO, cents

REFERRAL = "Referral"
APPOINTMENT_DAY = date(2013, 12, 9)


def companies(demo: Demo) -> None:
    """Tows R Us (Cory's) and CharTec (Nick's); flushed with the generated companies."""
    ex = demo.examples
    arrc, ms_sales = demo.locations[ARRC], demo.business_units[MS_SALES]
    ex.tows = Company(
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
        account_manager_id=demo.cory.id,
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
        created_at=datetime(2013, 10, 21, 17, 5, tzinfo=UTC),
        updated_at=datetime(2013, 10, 21, 17, 5, tzinfo=UTC),
    )
    ex.chartec = Company(
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
        account_manager_id=demo.nick.id,
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
        created_at=datetime(2013, 12, 5, 22, 10, tzinfo=UTC),
        updated_at=datetime(2013, 12, 5, 22, 10, tzinfo=UTC),
    )
    demo.session.add_all([ex.tows, ex.chartec])


def contacts(demo: Demo) -> None:
    """Shane Swanson, owner of Tows R Us, and Jason Rivas, operations manager at CharTec."""
    ex = demo.examples
    tows, chartec = ex.tows, ex.chartec
    ex.shane = Contact(
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
    ex.jason = Contact(
        company_id=chartec.id,
        first_name="Jason",
        last_name="Rivas",
        title="Operations Manager",
        email="jason.rivas@chartec.example",
        phone="(866) 544-2772",
        created_at=chartec.created_at,
        updated_at=chartec.created_at,
    )
    demo.session.add_all([ex.shane, ex.jason])


def campaigns(demo: Demo) -> None:
    """2013's two referral campaigns: business referrals (250.00 spent) and partner
    referrals (free); flushed, so the generated campaigns see their names."""
    ex = demo.examples
    for sub_name, cost in (("Business Referral", cents(250)), ("Partner Referral", ZERO)):
        sub = sub_type(demo, REFERRAL, sub_name)
        ex.referral_2013[sub.name] = Campaign(
            name=f"{REFERRAL} - {sub.name} - 2013",
            type_id=sub.type_id,
            sub_type_id=sub.id,
            status=CampaignStatus.COMPLETED.value,
            starts_on=date(2013, 1, 1),
            ends_on=date(2013, 12, 31),
            owner_id=demo.nick.id,
            location_id=demo.locations[ARRC].id,
            budgeted_cost=cost,
            actual_cost=cost,
            expected_revenue=cents(25000),
            created_at=datetime(2013, 1, 2, 17, 0, tzinfo=UTC),
            updated_at=datetime(2013, 1, 2, 17, 0, tzinfo=UTC),
        )
    demo.session.add_all(ex.referral_2013.values())
    demo.session.flush()


def opportunities(demo: Demo) -> None:
    """Tows R Us' managed services for 3 sites (Cory's, in Discovery since 7 November 2013)
    and CharTec's hosted phone system (Nick's, in 1st Appointment since the appointment);
    flushed with the generated opportunities."""
    ex = demo.examples
    tows, chartec = ex.tows, ex.chartec
    open_status, stage = demo.statuses["Open"], demo.stage
    arrc, ms_sales = demo.locations[ARRC], demo.business_units[MS_SALES]
    tows_moves = [
        datetime(2013, 10, 21, 17, 0, tzinfo=UTC),
        datetime(2013, 10, 29, 19, 30, tzinfo=UTC),
        datetime(2013, 11, 7, 18, 45, tzinfo=UTC),
    ]
    tows_opportunity = Opportunity(
        name="Tows R Us - Managed Services - Complete",
        description="Managed Services for 3 sites",
        type_id=demo.products[MS_COMPLETE].id,
        status_id=open_status.id,
        stage_id=stage["Discovery"].id,
        revenue=cents("6200.00"),
        cost=ZERO,
        expected_close_on=date(2013, 11, 30),
        rating=Rating.MEDIUM.value,
        probability=60,
        source=REFERRAL,
        campaign_id=ex.referral_2013["Business Referral"].id,
        account_manager_id=demo.cory.id,
        company_id=tows.id,
        contact_id=ex.shane.id,
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
        stage_entered_at=tows_moves[-1],
        created_at=tows_moves[0],
        created_by_id=demo.cory.id,
        updated_at=tows_moves[-1],
        updated_by_id=demo.cory.id,
    )
    _starts_at, appointment_end = _appointment(demo)
    chartec_moves = [_jason_scheduled(demo) - timedelta(minutes=8), appointment_end]
    first_appointment = stage["1st Appointment"]
    chartec_opportunity = Opportunity(
        name=MS_PHONE,
        description="Phone system upgrade: hosted VoIP for 18 users",
        type_id=demo.products[MS_PHONE].id,
        status_id=open_status.id,
        stage_id=first_appointment.id,
        revenue=cents(450 * 36),
        cost=cents(180 * 36),
        expected_close_on=date(2014, 1, 31),
        rating=Rating.HOT.value,
        probability=first_appointment.default_probability,
        source=REFERRAL,
        campaign_id=ex.referral_2013["Partner Referral"].id,
        account_manager_id=demo.nick.id,
        company_id=chartec.id,
        contact_id=ex.jason.id,
        location_id=arrc.id,
        business_unit_id=ms_sales.id,
        stage_entered_at=chartec_moves[-1],
        created_at=chartec_moves[0],
        created_by_id=demo.nick.id,
        updated_at=chartec_moves[-1],
        updated_by_id=demo.nick.id,
    )
    ex.deals = [
        Deal(
            tows_opportunity,
            tows,
            ex.shane,
            [stage["Prospect"], first_appointment, stage["Discovery"]],
            [Line(MS_COMPLETE, "Managed services, 3 sites", cents(6200), ZERO)],
            tows_moves,
        ),
        Deal(
            chartec_opportunity,
            chartec,
            ex.jason,
            [stage["Prospect"], first_appointment],
            [
                Line(
                    MS_PHONE,
                    "Hosted VoIP, 18 users",
                    cents(450),
                    cents(180),
                    recurring=True,
                    months=36,
                )
            ],
            chartec_moves,
        ),
    ]
    demo.session.add_all(deal.opportunity for deal in ex.deals)


def appointment(demo: Demo) -> None:
    """Nick's first appointment with Jason, 10:00-11:00 on 9 December 2013, done; it comes
    after the generated deals' own activities."""
    ex = demo.examples
    starts_at, ends_at = _appointment(demo)
    first_appointment = demo.activity_types["SA"]
    ex.appointment = Activity(
        subject="1st Appointment with Jason",
        type_id=first_appointment.id,
        status=ActivityStatus.CLOSED.value,
        company_id=ex.chartec.id,
        contact_id=ex.jason.id,
        phone="(866) 544-2772",
        opportunity_id=ex.deals[1].opportunity.id,
        campaign_id=ex.referral_2013["Partner Referral"].id,
        assigned_to_id=demo.nick.id,
        assigned_by_id=demo.nick.id,
        due_on=APPOINTMENT_DAY,
        starts_at=starts_at,
        ends_at=ends_at,
        reminder_minutes=15,
        place="On-Site",
        closed_at=ends_at,
        closed_by_id=demo.nick.id,
        points_earned=first_appointment.points,
        created_at=_jason_scheduled(demo) - timedelta(minutes=2),
        updated_at=ends_at,
    )
    demo.activities.append(ex.appointment)


def appointment_note(demo: Demo) -> None:
    """Nick's note on the appointment, written when he scheduled it (after the activities
    are saved, as it needs the appointment's id)."""
    demo.session.add(
        ActivityNote(
            activity_id=demo.examples.appointment.id,
            author_id=demo.nick.id,
            created_at=_jason_scheduled(demo),
            body="Meeting scheduled with Jason. He was referred by Jim over at Jim's towing. "
            "He is interested in a phone system upgrade.",
        )
    )
    demo.session.flush()


def _jason_scheduled(demo: Demo) -> datetime:
    """When Nick scheduled the meeting with Jason: 5 December 2013, 14:18 local."""
    return demo.at(date(2013, 12, 5), 14, 18)


def _appointment(demo: Demo) -> tuple[datetime, datetime]:
    """The meeting: 10:00 to 11:00 local on 9 December 2013."""
    return demo.at(APPOINTMENT_DAY, 10), demo.at(APPOINTMENT_DAY, 11)
