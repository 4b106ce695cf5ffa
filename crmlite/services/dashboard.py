"""The sales dashboard page: quota attainment by member, location and business unit; the
forecast against the quota still to close; the hygiene counts. This module only puts the
page together; each figure's rule lives in the module named after it:

- services/wins.py: what counts as won in a month, for whom and for how much (the
  revenue or margin basis);
- services/attainment.py: won against quota by member and by location/business unit, YTD;
- services/forecast.py: the open pipeline of the next three months against the quota gap;
- services/hygiene.py: open deals that break a rule (stalled, past close, zero revenue);
- services/funnel_health.py: conversion, days in stage, win rate and lost reasons, which
  the page loads on its own (heavier);
- services/deal_lists.py: the deals behind each figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from crmlite.services.attainment import (
    QuarterByLocation,
    QuarterByMember,
    quarter_by_member,
    summary_by_place,
)
from crmlite.services.forecast import Forecast, forecast
from crmlite.services.hygiene import Hygiene, hygiene
from crmlite.services.wins import Basis, member_names, status_ids


@dataclass
class Dashboard:
    year: int
    quarter: int
    basis: Basis
    by_member: QuarterByMember
    by_location: QuarterByLocation | None
    forecast: Forecast
    hygiene: list[Hygiene]


def dashboard(
    year: int,
    quarter: int,
    today: date,
    tz: ZoneInfo,
    basis: Basis = Basis.REVENUE,
    *,
    member_id: int | None = None,
    places_over_year: bool = False,
) -> Dashboard:
    """The attainment summaries, the forecast and the hygiene counts, for the whole team or
    (member_id) one member, whose view leaves out the locations; the summary by location and
    business unit covers the quarter or (places_over_year) the whole year. A fixed number of
    queries: the members' names and the statuses are read once for all of them."""
    names, statuses = member_names(), status_ids()
    mine: dict[str, Any] = {"member_id": member_id, "names": names, "statuses": statuses}
    return Dashboard(
        year=year,
        quarter=quarter,
        basis=basis,
        by_member=quarter_by_member(year, quarter, tz, basis, **mine),
        by_location=None
        if member_id is not None
        else summary_by_place(
            year, None if places_over_year else quarter, tz, basis, statuses=statuses
        ),
        forecast=forecast(today, tz, basis, **mine),
        hygiene=hygiene(today, **mine),
    )
