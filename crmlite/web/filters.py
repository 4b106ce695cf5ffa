"""Jinja filters: money (bare or in the team's currency), percentages, and stored UTC
moments shown in the team's time zone."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask, g

from crmlite.models.people import DEFAULT_CURRENCY
from crmlite.services.money import format_amount, format_money, format_percent


def local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(g.tz) if moment else None


def datetime_label(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return f"{moment.astimezone(g.tz):%a %Y-%m-%d} {time_label(moment)}"


def date_label(day: date | None) -> str:
    return f"{day:%a %Y-%m-%d}" if day else ""


def spoken_date(day: date | None) -> str:
    """A day as a screen reader says it well and a person reads it at once: "Tue 1 Dec 2026"."""
    return f"{day:%a} {day.day} {day:%b %Y}" if day else ""


def time_label(moment: datetime | None) -> str:
    if moment is None:
        return ""
    moment = moment.astimezone(g.tz)
    return f"{moment:%I:%M %p}".lstrip("0").lower()


def currency(value: Decimal | int | None, whole: bool = False) -> str:
    """An amount in the team's currency: "$1,234.50", or "$1,235" with ``whole``."""
    team = g.get("team")
    return format_money(value, team.currency if team else DEFAULT_CURRENCY, whole=whole)


def plural(count: int, noun: str) -> str:
    """ "1 e-mail", "2 e-mails", "1,200 contacts": the count with its noun, in the plural
    unless it is one."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def register(app: Flask) -> None:
    from crmlite.models import ActivityGroup, Role

    app.jinja_env.globals.update(
        groups={group.value: group.label for group in ActivityGroup},
        roles={role.value: role.label for role in Role},
    )
    app.jinja_env.filters.update(
        money=format_amount,
        currency=currency,
        percent=format_percent,
        local=local,
        datetime=datetime_label,
        date=date_label,
        spoken_date=spoken_date,
        time=time_label,
        plural=plural,
    )
