"""The demo's day-to-day work: besides moving deals, each member makes cold calls, goes to
events, sends value-add e-mails, quotes hardware… about as often as the activity types'
monthly targets say, over the window."""

from __future__ import annotations

from crmlite.demo.context import FUTURE_DAYS, PAST_DAYS, Demo
from crmlite.demo.words import ADDENDA, GIFTS, INDUSTRY_TARGETS, ITEMS, TOPICS
from crmlite.models import Campaign, Company, Contact

# What members do besides moving deals:
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
# Activity types only produced by the funnel itself (not by the day-to-day work).
FUNNEL_CODES = ("PF", "SA", "DM", "PA", "FC")
# Scales the day-to-day activities so the whole comes to about 900.
FILL_FACTOR = 0.7
# Cold calls, events and webinars belong to this year's campaign of their kind.
CAMPAIGN_TYPES = {"CC": "Sales Executive", "EV": "Event", "WB": "Webinar"}


def day_to_day(demo: Demo) -> None:
    """The rest of each member's work, so each type's count roughly follows its monthly
    target over the window (counting what the funnel already made). Past work is mostly
    done (less so in the last two weeks); some of Manny's is assigned by Cory."""
    rng = demo.rng
    months = (PAST_DAYS + FUTURE_DAYS) / 30.44
    window_days = demo.past_days + demo.future_days
    codes = {t.id: c for c, t in demo.activity_types.items()}
    done: dict[tuple[int, str], int] = {}
    for activity in demo.activities:
        key = (activity.assigned_to_id, codes[activity.type_id])
        done[key] = done.get(key, 0) + 1
    campaign_by_type = {
        c.type_id: c for c in demo.campaigns if c.starts_on and c.starts_on.year == demo.today.year
    }
    campaign_for_code = {
        code: campaign_by_type.get(demo.campaign_types[type_name].id)
        for code, type_name in CAMPAIGN_TYPES.items()
    }

    for member in demo.members:
        own = [c for c in demo.companies if c.account_manager_id == member.id] or demo.companies
        for code, activity_type in demo.activity_types.items():
            if code in FUNNEL_CODES or code not in FILL_ACTIVITIES:
                continue
            per_month = activity_type.monthly_count or 1.2
            target = round(per_month * months * FILL_FACTOR * rng.uniform(0.85, 1.15))
            subject, minutes, places = FILL_ACTIVITIES[code]
            for _ in range(max(0, target - done.get((member.id, code), 0))):
                day = rng.choice(window_days)
                company: Company | None = rng.choice(own)
                contact: Contact | None = rng.choice(demo.contacts[company.id]) if company else None
                campaign: Campaign | None = campaign_for_code.get(code)
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
                if code in CAMPAIGN_TYPES:
                    # Work with many people at once: no one company or contact.
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
                assigned_by = (
                    demo.cory.id if member is demo.manny and rng.random() < 0.15 else member.id
                )
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
