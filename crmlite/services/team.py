"""Team-wide settings: name, time zone, default points quota, currency, paper."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, available_timezones

from crmlite.extensions import db
from crmlite.models import Member, Paper, Team
from crmlite.services import points
from crmlite.services.money import is_currency

SETTINGS_ID = 1


def get_team() -> Team:
    """The settings row; created with defaults if the database has none yet."""
    team = db.session.get(Team, SETTINGS_ID)
    if team is None:
        team = Team(id=SETTINGS_ID, name="crmlite")
        db.session.add(team)
        db.session.flush()
    return team


def is_valid_time_zone(name: str) -> bool:
    return name in available_timezones()


def update_team(
    team: Team,
    *,
    name: str,
    time_zone: str,
    points_quota: int,
    today: date,
    by: Member,
    currency: str | None = None,
    paper: Paper | None = None,
) -> Team:
    """Save the settings; months before this one keep the points quota they had (a change
    of it is published for the audit log). The currency (an ISO 4217 code) is only how
    amounts are shown: no amount is converted. The paper (A4 or Letter) is the one the PDFs
    crmlite makes are laid out on. Either left out: kept."""
    if not is_valid_time_zone(time_zone):
        raise ValueError(f"unknown time zone {time_zone!r}")
    if currency is not None and not is_currency(currency):
        raise ValueError(f"unknown currency {currency!r}")
    points.record_quota_change(member=None, team=team, new_quota=points_quota, today=today, by=by)
    team.name = name
    team.time_zone = time_zone
    team.points_quota = points_quota
    if currency is not None:
        team.currency = currency
    if paper is not None:
        team.paper = Paper(paper).value
    db.session.flush()
    return team


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(tz)).astimezone(tz).date()
