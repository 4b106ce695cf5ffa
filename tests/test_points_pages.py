"""Points pages: the leaderboard, a member's summary, the activities behind a figure,
printouts, CSV and PDF; who may see what; bad input; constant queries."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pypdf
import pytest
from flask.testing import FlaskClient

from crmlite.extensions import db
from crmlite.models import Activity, Member, Role
from crmlite.services import activities
from crmlite.services.periods import Month
from crmlite.services.team import get_team, local_today
from tests.conftest import page_token

OCTOBER = "2025-10"
IN_OCTOBER = datetime(2025, 10, 15, 18, tzinfo=UTC)


@pytest.fixture()
def closed(make_activity) -> Callable[..., Activity]:
    def make(member: Member, code: str, at: datetime = IN_OCTOBER, subject: str = "") -> Activity:
        activity = make_activity(member, subject or f"{code} work", code=code, due_on=at.date())
        activities.close_activity(activity, by=member, now=at)
        db.session.commit()
        return activity

    return make


def text(response) -> str:
    return response.get_data(as_text=True)


def cell(html: str, css_class: str, member_id: int | None = None) -> str:
    """The text of the first element with this class (in this member's sheet)."""
    if member_id is not None:
        html = html[html.index(f'id="points-sheet-{member_id}"') :]
    match = re.search(rf'class="[^"]*\b{css_class}\b[^"]*">([^<]*)<', html)
    assert match, css_class
    return match.group(1).strip()


# -- the leaderboard -------------------------------------------------------------------------


def test_everyone_sees_the_leaderboard(client: FlaskClient, signed_in, make_member, closed) -> None:
    cory = make_member(name="Cory Ferguson")
    closed(cory, "TBR")
    closed(cory, "AQ")
    me = signed_in(Role.REP, name="Manny Martinez")
    closed(me, "SA")
    html = text(client.get(f"/points/?month={OCTOBER}"))
    assert "Points · October 2025" in html
    rows = re.findall(r'id="standing-(\d+)">\s*<td class="num">(\d+)</td>', html)
    assert [int(member_id) for member_id, _rank in rows] == [cory.id, me.id]
    assert re.search(rf'id="standing-{cory.id}">.*?standing-points">30<.*?500.*?6 %', html, re.S)
    # A rep opens only their own summary from here.
    assert f'href="/points/members/{me.id}?month={OCTOBER}"' in html
    assert f'href="/points/members/{cory.id}' not in html
    assert "Print all members" not in html
    # The month is over: the pace expects the whole quota.
    assert "the month is over" in html


def test_managers_open_anyone_and_print_all(client: FlaskClient, signed_in, make_member) -> None:
    cory = make_member(name="Cory Ferguson")
    signed_in(Role.MANAGER)
    html = text(client.get("/points/"))
    assert f'href="/points/members/{cory.id}?month=' in html
    assert "Print all members" in html


def test_team_csv(client: FlaskClient, signed_in, make_member, closed) -> None:
    cory = make_member(name="Cory Ferguson", points_quota=400)
    closed(cory, "TBR")
    signed_in(Role.REP, name="Manny Martinez")
    response = client.get(f"/points/team.csv?month={OCTOBER}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="points-team-2025-10.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text(response))))
    assert rows[0] == [
        "Month",
        "Rank",
        "Member",
        "Points",
        "Quota",
        "% attained",
        "Expected by today",
        "Ahead (+) or behind (-)",
        "Pace",
    ]
    assert rows[1] == ["2025-10", "1", "Cory Ferguson", "20", "400", "5", "400", "-380", "behind"]
    assert rows[2] == ["2025-10", "2", "Manny Martinez", "0", "500", "0", "500", "-500", "behind"]


# -- a member's summary ----------------------------------------------------------------------


def test_member_summary(client: FlaskClient, signed_in, closed) -> None:
    me = signed_in(Role.REP, name="Nick Points")
    for code in ("SA", "SA", "TBR", "EM"):
        closed(me, code)
    closed(me, "CC", at=datetime(2025, 11, 1, 7, 30, tzinfo=UTC))  # November in Los Angeles
    html = text(client.get(f"/points/members/{me.id}?month={OCTOBER}"))
    assert "Nick Points · October 2025" in html
    assert cell(html, "points-earned") == "40"
    assert cell(html, "points-quota") == "500"
    assert cell(html, "points-attained") == "8 %"
    assert cell(html, "points-target") == "644"
    for label in (
        "Sales funnel stages",
        "Activities to farm current opportunities",
        "Proactive activities to add to the funnel",
        "General farming activities for current clients",
    ):
        assert label in html
    sa = re.search(r'id="line-\d+-\d+">\s*<td>SA</td>(.*?)</tr>', html, re.S)
    assert sa
    numbers = re.findall(r'class="num[^"]*">([^<]*)<', sa.group(1))
    assert numbers[:4] == ["2", "10", "20", "7"]  # done, each, earned, recommended
    # The gap says "behind" in words, with a true minus sign.
    assert re.search(r'line-gap"><span class="gap-behind">−5 <span class="gap-word">behind<', sa[1])
    assert "Activities done" in html and "Activities recommended" in html
    assert "Points recommended: <strong" in html and "Recommended plan" not in html
    # A closed month: against the whole quota, no pace.
    figures = html[html.index('id="points-figures-') :]
    assert re.search(r"Against the quota</dt>\s*<dd class=\"points-pace\">.*?−460 ", figures)
    assert "expected by today" not in html
    assert "/activities?month=2025-10&amp;type_id=" in sa.group(1)
    # Past months list nothing to close.
    assert 'id="open-activities"' not in html


def test_member_summary_defaults_to_this_month_and_lists_what_is_open(
    client: FlaskClient, signed_in, make_activity
) -> None:
    me = signed_in(Role.REP)
    today = local_today(ZoneInfo(get_team().time_zone))
    make_activity(me, "Call Jason", code="SE", due_on=today)
    make_activity(me, "Due later", code="SE", due_on=today + timedelta(days=40))
    html = text(client.get(f"/points/members/{me.id}"))
    assert Month.of(today).label in html
    assert 'id="open-activities"' in html
    assert "Call Jason" in html and "Due later" not in html
    assert 'hx-trigger="activity-closed from:body, activity-saved from:body"' in html
    partial = text(client.get(f"/points/members/{me.id}/summary?month={Month.of(today).key}"))
    assert partial.startswith('<section id="points-summary"')


def test_closing_an_activity_raises_the_summary(
    client: FlaskClient, signed_in, make_activity
) -> None:
    me = signed_in(Role.REP)
    call = make_activity(me, "Cold calls", code="CC")
    url = f"/points/members/{me.id}/summary"
    assert cell(text(client.get(url)), "points-earned") == "0"
    token = page_token(client, f"/points/members/{me.id}")
    done = client.post(
        f"/activities/{call.id}/done", headers={"X-CSRFToken": token, "HX-Request": "true"}
    )
    assert "activity-closed" in done.headers["HX-Trigger"]
    assert cell(text(client.get(url)), "points-earned") == "15"


def test_rights(client: FlaskClient, signed_in, make_member) -> None:
    other = make_member()
    me = signed_in(Role.REP)
    assert client.get(f"/points/members/{me.id}").status_code == 200
    for path in ("", "/summary", "/print", "/summary.csv", "/summary.pdf", "/activities"):
        assert client.get(f"/points/members/{other.id}{path}").status_code == 403, path
    assert client.get("/points/print").status_code == 403
    assert client.get("/points/members/999999").status_code == 404


def test_managers_see_anyone(client: FlaskClient, signed_in, make_member) -> None:
    other = make_member(name="Manny Martinez")
    signed_in(Role.MANAGER)
    assert "Manny Martinez" in text(client.get(f"/points/members/{other.id}"))


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2024-13", "Months run from 01 to 12."),
        ("abc", "is not a month: write it as YYYY-MM"),
        ("1066-10", "Choose a month between 1900 and 2199."),
    ],
)
def test_a_bad_month_is_a_clear_400(
    client: FlaskClient, signed_in, month: str, message: str
) -> None:
    me = signed_in(Role.REP)
    for url in (
        f"/points/?month={month}",
        f"/points/members/{me.id}?month={month}",
        f"/points/members/{me.id}/summary.csv?month={month}",
        f"/points/team.csv?month={month}",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        html = text(response)
        assert message in html
        assert 'name="month"' in html  # the picker again


# -- the activities behind a figure ----------------------------------------------------------


def test_each_line_links_to_the_activities_behind_it(
    client: FlaskClient, signed_in, closed
) -> None:
    me = signed_in(Role.REP)
    closed(me, "SA", subject="Appointment with Jason")
    closed(me, "SA", subject="Appointment with Shane")
    closed(me, "TBR", subject="Review with CharTec")
    closed(me, "SA", at=datetime(2025, 9, 30, 18, tzinfo=UTC), subject="September")
    html = text(client.get(f"/points/members/{me.id}?month={OCTOBER}"))
    link = re.search(
        r'href="(/points/members/\d+/activities\?month=2025-10&amp;type_id=\d+)">1st Appointment',
        html,
    )
    assert link
    behind = text(client.get(link.group(1).replace("&amp;", "&")))
    assert "Appointment with Jason" in behind and "Appointment with Shane" in behind
    assert "Review with CharTec" not in behind and "September" not in behind
    assert "2 activities closed in October 2025" in behind and "earning 20 points" in behind
    everything = text(client.get(f"/points/members/{me.id}/activities?month={OCTOBER}"))
    assert "3 activities closed" in everything and "earning 40 points" in everything
    assert client.get(f"/points/members/{me.id}/activities?type_id=999999").status_code == 404
    # What is not an id or an offset is ignored: the whole month, from its first activity.
    odd = f"/points/members/{me.id}/activities?month={OCTOBER}&type_id=99999999999999999999"
    assert "3 activities closed" in text(client.get(odd + "&offset=-1"))


# -- printing, CSV, PDF ----------------------------------------------------------------------


def test_print_page_has_the_header_and_signature_lines(
    client: FlaskClient, signed_in, closed
) -> None:
    me = signed_in(Role.REP, name="Nick Points")
    closed(me, "TBR")
    html = text(client.get(f"/points/members/{me.id}/print?month={OCTOBER}"))
    assert "Points summary: Nick Points · October 2025" in html
    assert re.search(
        # A closed month: the time its sheet was frozen, so a re-print is the same page.
        r"Month closed; sheet frozen \w{3} \d{4}-\d\d-\d\d \d+:\d\d [ap]m \(America/Los_Angeles\)",
        html,
    )
    assert "Member: Nick Points" in html and "Manager" in html
    assert cell(html, "points-earned") == "20"
    assert "print.css" in html


def test_print_all_members_one_sheet_each(
    client: FlaskClient, signed_in, make_member, closed
) -> None:
    cory, manny = make_member(name="Cory Ferguson"), make_member(name="Manny Martinez")
    make_member(name="Left Long Ago", active=False)
    closed(cory, "TBR")
    closed(manny, "SA")
    me = signed_in(Role.MANAGER, name="Nick Points")
    html = text(client.get(f"/points/print?month={OCTOBER}"))
    sheets = re.findall(r'id="points-sheet-(\d+)"', html)
    assert sorted(map(int, sheets)) == sorted([cory.id, manny.id, me.id])
    assert "Left Long Ago" not in html
    assert cell(html, "points-earned", cory.id) == "20"
    assert cell(html, "points-earned", manny.id) == "10"
    css = client.get("/static/print.css")
    assert ".points-sheet + .points-sheet { break-before: page; }" in text(css)
    css.close()


def test_member_csv(client: FlaskClient, signed_in, closed) -> None:
    me = signed_in(Role.REP, name="Nick Points")
    closed(me, "SA")
    closed(me, "SA")
    closed(me, "TBR")
    response = client.get(f"/points/members/{me.id}/summary.csv?month={OCTOBER}")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="points-2025-10-nick-points.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text(response))))
    assert rows[0] == [
        "Member",
        "Month",
        "Group",
        "Code",
        "Activity",
        "Count done",
        "Points each",
        "Points earned",
        "Recommended count",
        "Gap",
    ]
    by_activity = {row[4]: row for row in rows[1:] if row[3]}
    assert by_activity["1st Appointment"][5:] == ["2", "10", "20", "7", "-5"]
    assert by_activity["Technology Business Review Meeting"][5:] == ["1", "20", "20", "4", "-3"]
    assert len(by_activity) == 22
    tail = {row[4]: row[7] for row in rows[-3:]}
    assert tail == {"Total": "40", "Quota": "500", "% attained": "8"}
    subtotals = [row for row in rows if row[4] == "Subtotal"]
    assert [row[7] for row in subtotals] == ["20", "0", "0", "20"]


def test_member_pdf(client: FlaskClient, signed_in, closed) -> None:
    me = signed_in(Role.REP, name="Nick Points")
    for code in ("SA", "SA", "TBR", "HQ"):
        closed(me, code)
    response = client.get(f"/points/members/{me.id}/summary.pdf?month={OCTOBER}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert 'filename="points-2025-10-nick-points.pdf"' in response.headers["Content-Disposition"]
    assert response.data.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1  # one page per member
    pdf = reader.pages[0].extract_text()
    assert "Points summary: Nick Points · October 2025" in pdf
    assert "Technology Business Review Meeting" in pdf
    assert re.search(r"Points earned\s*45", pdf)
    assert re.search(r"Quota attained\s*9 %", pdf)
    assert "Member: Nick Points" in pdf
    assert "Board" not in pdf and "Ctrl+P" not in pdf  # no navigation, no screen notes


# -- queries ---------------------------------------------------------------------------------


def test_page_queries_do_not_grow(
    client: FlaskClient, signed_in, make_member, closed, make_activity, queries
) -> None:
    me = signed_in(Role.MANAGER)
    today = date.today()

    def add(n: int) -> None:
        for _ in range(n):
            member = make_member()
            closed(member, "SA")
            closed(member, "TBR")
            closed(me, "DM")
            make_activity(me, "Open", code="SE", due_on=today)

    def count(url: str) -> int:
        with queries() as counted:
            assert client.get(url).status_code == 200
        return counted.count

    urls = [
        f"/points/?month={OCTOBER}",
        "/points/",
        f"/points/members/{me.id}",
        f"/points/members/{me.id}?month={OCTOBER}",
        f"/points/members/{me.id}/activities?month={OCTOBER}",
        f"/points/print?month={OCTOBER}",
        f"/points/members/{me.id}/summary.csv?month={OCTOBER}",
        f"/points/team.csv?month={OCTOBER}",
    ]
    add(2)
    for url in urls:  # the first read of a closed month freezes its sheet (a few writes, once)
        client.get(url)
    few = [count(url) for url in urls]
    add(12)
    many = [count(url) for url in urls]
    assert many == few
    print_all = text(client.get(f"/points/print?month={OCTOBER}"))
    assert print_all.count('class="points-sheet"') == 16  # the leaderboard, then 15 members
