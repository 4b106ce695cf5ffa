"""Points sheet fixes (issue #18): the team row of the leaderboard (page, CSV, print) and a
closed month's sheet frozen with the month, so printing it again gives the same page. The
printed sheet and its PDF (issue #20): the figures first, on the team's paper, tagged, titled."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pypdf
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import Activity, ActivityGroup, ActivityType, Member, PointsMonthSheet, Role
from crmlite.services import activities, points
from crmlite.services.periods import Month
from crmlite.services.team import get_team, local_today

OCTOBER = "2025-10"
IN_OCTOBER = datetime(2025, 10, 15, 18, tzinfo=UTC)
CSRF = re.compile(r"(csrf_token\" value=\"|X-CSRFToken&#34;: &#34;)[^\"&]+")


@pytest.fixture()
def closed(make_activity) -> Callable[..., Activity]:
    def make(member: Member, code: str, at: datetime = IN_OCTOBER) -> Activity:
        activity = make_activity(member, f"{code} work", code=code, due_on=at.date())
        activities.close_activity(activity, by=member, now=at)
        db.session.commit()
        return activity

    return make


def text(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True)


def type_of(code: str) -> ActivityType:
    found = db.session.scalar(select(ActivityType).where(ActivityType.code == code))
    assert found is not None
    return found


def change_table(by: Member) -> None:
    """A manager changes the points table: TBR is worth more and recommended more often, HQ
    (nothing of it closed in October) is deactivated, and a new type is added."""
    tbr = type_of("TBR")
    points.save_activity_type(
        tbr,
        code=tbr.code,
        name="Business review (renamed)",
        group=ActivityGroup(tbr.group),
        points=35,
        monthly_count=9,
        active=True,
        by=by,
    )
    points.set_type_active(type_of("HQ"), False, by=by)
    points.save_activity_type(
        None,
        code="NEW",
        name="A type added later",
        group=ActivityGroup(tbr.group),
        points=50,
        monthly_count=2,
        active=True,
        by=by,
    )
    db.session.commit()


# -- the team row ----------------------------------------------------------------------------


def test_team_row_adds_up_the_leaderboard() -> None:
    rows = [
        points.Standing(1, 1, "A", True, points=300, quota=400, expected=400),
        points.Standing(2, 2, "B", True, points=101, quota=500, expected=500),
    ]
    team = points.team_row(rows)
    assert (team.members, team.points, team.quota, team.expected) == (2, 401, 900, 900)
    assert team.attained == 45  # 401 / 900 = 44.56 %, half up
    assert team.pace is points.Pace.BEHIND and team.ahead_by == -499
    assert points.team_row([]).attained == 0


def test_team_row_on_the_page_csv_and_print(
    client: FlaskClient, signed_in, make_member, closed
) -> None:
    cory = make_member(name="Cory Ferguson", points_quota=400)
    closed(cory, "TBR")  # 20
    closed(cory, "TBR")
    me = signed_in(Role.MANAGER, name="Manny Martinez")
    closed(me, "SA")  # 10
    html = text(client.get(f"/points/?month={OCTOBER}"))
    row = html[html.index('id="team-row"') :]
    assert re.search(r'team-points">50<.*?team-quota">900<.*?team-attained">6 %<', row, re.S)
    assert "2 members" in row and "behind" in row

    rows = list(csv.reader(io.StringIO(text(client.get(f"/points/team.csv?month={OCTOBER}")))))
    assert rows[-1] == ["2025-10", "", "Team", "50", "900", "6", "900", "-850", "behind"]
    assert [r[2] for r in rows[1:-1]] == ["Cory Ferguson", "Manny Martinez"]

    printed = text(client.get(f"/points/print?month={OCTOBER}"))
    assert "Points leaderboard · October 2025" in printed
    team_row = printed[printed.index('id="print-team-row"') :]
    assert re.search(r"Team</th><th class=\"num\">50</th><th class=\"num\">900</th>", team_row)


def test_team_row_of_a_member_alone(client: FlaskClient, signed_in) -> None:
    signed_in(Role.REP)
    html = text(client.get(f"/points/?month={OCTOBER}"))
    row = html[html.index('id="team-row"') :]
    assert "1 member)" in row and 'team-quota">500<' in row


# -- a closed month's sheet is frozen --------------------------------------------------------


def _sheet(html: str) -> str:
    """The page with the session's CSRF token (signed with the time) blanked."""
    return CSRF.sub(r"\1…", html)


def test_reprinting_a_closed_month_gives_the_same_sheet(
    client: FlaskClient, signed_in, closed
) -> None:
    me = signed_in(Role.MANAGER, name="Nick Points")
    for code in ("SA", "SA", "TBR"):
        closed(me, code)
    print_url = f"/points/members/{me.id}/print?month={OCTOBER}"
    first = text(client.get(print_url))
    first_all = text(client.get(f"/points/print?month={OCTOBER}"))
    first_pdf = client.get(f"/points/members/{me.id}/summary.pdf?month={OCTOBER}").data
    assert f'id="line-{me.id}-{type_of("HQ").id}"' in first  # deactivated below
    target = re.search(r'points-target">(\d+)<', first)
    assert target and target.group(1) == "644"

    change_table(me)

    again = text(client.get(print_url))
    assert _sheet(again) == _sheet(first)  # byte for byte
    assert _sheet(text(client.get(f"/points/print?month={OCTOBER}"))) == _sheet(first_all)
    again_pdf = client.get(f"/points/members/{me.id}/summary.pdf?month={OCTOBER}").data
    assert [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(again_pdf)).pages] == [
        p.extract_text() for p in pypdf.PdfReader(io.BytesIO(first_pdf)).pages
    ]
    # The current month shows the new table.
    current = text(client.get(f"/points/members/{me.id}/print"))
    assert "Business review (renamed)" in current and "A type added later" in current
    assert "Business review (renamed)" not in again


def test_a_change_freezes_closed_months_nobody_has_read(
    app, make_member, closed, client: FlaskClient, signed_in
) -> None:
    manager = signed_in(Role.MANAGER)
    rep = make_member(name="Rita Rep")
    closed(rep, "TBR")
    closed(rep, "TBR", at=datetime(2025, 8, 3, 18, tzinfo=UTC))
    assert db.session.scalar(select(func.count(PointsMonthSheet.id))) == 0
    change_table(manager)
    frozen = set(db.session.scalars(select(PointsMonthSheet.month)))
    # From the first closed activity's month (a day early for the time zone) to last month.
    assert date(2025, 8, 1) in frozen and date(2025, 10, 1) in frozen
    assert date(2025, 7, 1) not in frozen and Month.of(date.today()).first_day not in frozen
    # A second change freezes nothing more.
    assert points.freeze_closed_months() == 0

    html = text(client.get(f"/points/members/{rep.id}/print?month={OCTOBER}"))
    assert re.search(r'points-target">644<', html)
    line = html[html.index(f'id="line-{rep.id}-{type_of("TBR").id}"') :]
    assert "Technology Business Review Meeting" in line.split("</tr>")[0]
    assert f'id="line-{rep.id}-{type_of("HQ").id}"' in html  # active when October closed
    assert "A type added later" not in html


def test_this_month_follows_the_table(app, make_member, signed_in) -> None:
    manager = signed_in(Role.MANAGER)
    today = date.today()
    change_table(manager)
    types = points.sheet_types(Month.of(today), today)
    assert "A type added later" in [t.name for t in types]
    assert not next(t for t in types if t.code == "HQ").active
    assert (
        db.session.scalar(
            select(func.count(PointsMonthSheet.id)).where(
                PointsMonthSheet.month == Month.of(today).first_day
            )
        )
        == 0
    )


# -- the printed sheet and its PDF (issue #20) -----------------------------------------------

PAPERS = {"A4": (595, 842), "Letter": (612, 792)}  # points


def pdf_of(client: FlaskClient, url: str) -> pypdf.PdfReader:
    response = client.get(url)
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    return pypdf.PdfReader(io.BytesIO(response.data))


@pytest.mark.parametrize("paper", list(PAPERS))
def test_the_pdf_leads_with_the_figures_on_the_teams_paper(
    client: FlaskClient, signed_in, closed, paper: str
) -> None:
    me = signed_in(Role.REP, name="Nick Points")
    for code in ("SA", "SA", "TBR", "HQ"):
        closed(me, code)
    get_team().paper = paper
    db.session.commit()
    reader = pdf_of(client, f"/points/members/{me.id}/summary.pdf?month={OCTOBER}")

    assert len(reader.pages) == 1  # one page per member
    box = reader.pages[0].mediabox
    assert (round(box.width), round(box.height)) == PAPERS[paper]
    pdf = reader.pages[0].extract_text()
    assert "Points summary: Nick Points · October 2025" in pdf
    assert re.search(r"Month closed; sheet frozen \w{3} \d{4}-\d\d-\d\d", pdf)
    # The key figures come first, before the lines; a closed month: against the whole quota.
    figures = pdf[: pdf.index("1st Appointment")]
    assert re.search(r"Points earned\s*45\s*Monthly quota\s*500\s*Quota attained\s*9 %", figures)
    assert re.search(r"Against the quota\s*−455 behind", figures)
    assert "expected by today" not in pdf
    # Clear column names; gaps in words, not colour only.
    assert re.search(r"Activities\s+done", pdf) and re.search(r"Activities\s+recommended", pdf)
    assert re.search(r"Total 4 45 96 −92 behind", pdf)
    assert "Points recommended: 644" in pdf
    assert "Member: Nick Points" in pdf and "Manager" in pdf
    assert "Board" not in pdf and "Print" not in pdf  # no navigation, no screen buttons

    # Titled with the member and the month; tagged (PDF/UA-1), in the page's language.
    assert reader.metadata is not None
    assert reader.metadata.title == "Points summary: Nick Points · October 2025 · crmlite"
    root = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"].value is True
    assert "/StructTreeRoot" in root and root["/Lang"] == "en"
    assert root["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    assert b'pdfuaid:part="1"' in root["/Metadata"].get_data()


def test_this_months_sheet_prints_the_pace(client: FlaskClient, signed_in, closed) -> None:
    me = signed_in(Role.REP, name="Nick Points")
    closed(me, "TBR", at=datetime.now(UTC))  # 20 points this month
    today = local_today(ZoneInfo(get_team().time_zone))
    expected = points.expected_points(500, Month.of(today), today)
    ahead = 20 - expected
    word = f"−{-ahead} behind" if ahead < 0 else (f"+{ahead} ahead" if ahead else "0 on pace")

    html = text(client.get(f"/points/members/{me.id}/print"))
    assert '<button type="button" class="btn btn-primary" data-print>Print</button>' in html
    assert "<title>Points summary: Nick Points · " in html
    pdf = pdf_of(client, f"/points/members/{me.id}/summary.pdf").pages[0].extract_text()
    assert re.search(r"Points earned\s*20\s*Monthly quota\s*500\s*Quota attained\s*4 %", pdf)
    assert re.search(rf"Pace today\s*{re.escape(word)}\s*{expected} points expected by today", pdf)


def test_print_all_is_titled_by_the_month(client: FlaskClient, signed_in, make_member) -> None:
    make_member(name="Cory Ferguson")
    signed_in(Role.MANAGER)
    html = text(client.get(f"/points/print?month={OCTOBER}"))
    assert "<title>Points · October 2025 · crmlite</title>" in html
    assert html.count("data-print") == 1
