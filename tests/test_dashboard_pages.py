"""The dashboard's pages: PRODUCT.md's example on the page, the switch without a reload
(htmx), bad input, who sees what, the deals behind a figure, and a constant number of
queries."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from crmlite.extensions import db
from crmlite.models import Member, Role
from crmlite.services import quotas
from crmlite.services.team import get_team, local_today

LA = ZoneInfo("America/Los_Angeles")
HTMX = {"HX-Request": "true", "HX-Target": "dashboard"}


def cell(html: str, cell_id: str) -> str:
    """The text of the element with this id (links and spaces stripped)."""
    match = re.search(rf'id="{re.escape(cell_id)}"[^>]*>(.*?)</td>', html, re.S)
    assert match, f"no #{cell_id}"
    return unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def link(html: str, cell_id: str) -> str:
    match = re.search(rf'id="{re.escape(cell_id)}"[^>]*><a href="([^"]+)"', html)
    assert match, f"no link in #{cell_id}"
    return unescape(match.group(1))


@pytest.fixture()
def example(make_member: Callable[..., Member], make_opportunity) -> Callable[[], Member]:
    """PRODUCT.md's example for a member: 4,000 a month in 2025, 48,861 won by the end of
    October, 2,895 of it in October."""

    def make(**fields: Any) -> Member:
        fields.setdefault("name", "Cory Ferguson")
        member = make_member(**fields)
        quotas.same_every_month(member, 2025, Decimal("4000"))
        for name, amount, moment in [
            ("Tows R Us - Managed Services - Complete", "45966.00", datetime(2025, 5, 5, 18)),
            ("CharTec - Managed Services - Phone System", "2895.00", datetime(2025, 10, 9, 18)),
        ]:
            make_opportunity(
                name,
                "Won",
                amount,
                won_amount=Decimal(amount),
                account_manager_id=member.id,
                closed_at=moment.replace(tzinfo=UTC),
            )
        db.session.commit()
        return member

    return make


def test_product_example_on_the_page(client: FlaskClient, signed_in, example) -> None:
    signed_in(Role.MANAGER)
    cory = example()
    response = client.get("/dashboard/?year=2025&quarter=4")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    m = f"m{cory.id}"
    assert [cell(html, f"{m}-10-{c}") for c in ("total", "quota", "percent")] == [
        "2,895",
        "4,000",
        "72 %",
    ]
    assert [cell(html, f"{m}-11-{c}") for c in ("total", "quota", "percent")] == [
        "0",
        "4,000",
        "0 %",
    ]
    ytd = [
        [cell(html, f"{m}-ytd-{month}-{c}") for c in ("total", "quota", "percent")]
        for month in (10, 11, 12)
    ]
    assert ytd == [
        ["48,861", "40,000", "122 %"],
        ["48,861", "44,000", "111 %"],
        ["48,861", "48,000", "102 %"],
    ]
    assert [cell(html, f"totals-10-{c}") for c in ("total", "quota", "percent")] == [
        "2,895",
        "4,000",
        "72 %",
    ]
    assert cell(html, "totals-ytd-12-percent") == "102 %"
    assert "Monthly Totals" in html
    assert "Basis: Revenue" in html
    assert 'id="by-location"' in html  # managers see the locations
    assert "<svg" in html and 'id="attainment-chart"' in html


def test_the_margin_basis_is_stated(client: FlaskClient, signed_in, example) -> None:
    signed_in(Role.ADMIN)
    cory = example()
    html = client.get("/dashboard/?year=2025&quarter=4&basis=margin").get_data(as_text=True)
    assert "Basis: Margin" in html
    # No margin quota set: the quota and % say so instead of dividing by nothing.
    assert cell(html, f"m{cory.id}-10-total") == "2,895"
    assert cell(html, f"m{cory.id}-10-quota") == "—"
    assert cell(html, f"m{cory.id}-10-percent") == "—"
    assert "basis=margin" in link(html, f"m{cory.id}-10-total")


def test_a_figure_links_to_the_won_deals_behind_it(client: FlaskClient, signed_in, example) -> None:
    signed_in(Role.MANAGER)
    cory = example()
    html = client.get("/dashboard/?year=2025&quarter=4").get_data(as_text=True)

    october = client.get(link(html, f"m{cory.id}-10-total")).get_data(as_text=True)
    assert "CharTec - Managed Services - Phone System" in october
    assert "Tows R Us" not in october
    assert re.search(r'id="deals-total">2,895.00<', october)
    assert "Won October 2025 · Cory Ferguson" in unescape(october)

    ytd = client.get(link(html, f"m{cory.id}-ytd-11-total")).get_data(as_text=True)
    assert "Tows R Us - Managed Services - Complete" in ytd
    assert re.search(r'id="deals-total">48,861.00<', ytd)

    everyone = client.get(link(html, "totals-q-total")).get_data(as_text=True)
    assert re.search(r'id="deals-total">2,895.00<', everyone)


def test_the_switch_answers_with_the_figures_only_and_keeps_the_url(
    client: FlaskClient, signed_in, example
) -> None:
    signed_in(Role.MANAGER)
    example()
    response = client.get("/dashboard/?year=2025&quarter=3&basis=revenue", headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(("{#", '<div id="dashboard"'))
    assert "<html" not in html
    assert "Q3 2025" in html
    assert response.headers["HX-Push-Url"] == "/dashboard/?year=2025&quarter=3"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("quarter=5", "The quarter must be a whole number from 1 to 4, not “5”."),
        ("year=abc", "The year must be a whole number from 2000 to 2100, not “abc”."),
        ("year=1999&quarter=2", "The year must be a whole number from 2000 to 2100, not “1999”."),
        ("quarter=-1", "The quarter must be a whole number from 1 to 4, not “-1”."),
        ("quarter=٣", "The quarter must be a whole number from 1 to 4, not “٣”."),
        ("basis=profit", "The basis is either revenue or margin."),
        ("period=decade", "The funnel's period is either the quarter or the year."),
    ],
)
def test_bad_input_says_what_to_fix(
    client: FlaskClient, signed_in, query: str, message: str
) -> None:
    signed_in(Role.MANAGER)
    page = client.get(f"/dashboard/?{query}")
    assert page.status_code == 400
    assert message in unescape(page.get_data(as_text=True))
    assert 'id="dashboard-switch"' in page.get_data(as_text=True)
    # In place (htmx swaps only 2xx): the message replaces the figures.
    fragment = client.get(f"/dashboard/?{query}", headers=HTMX)
    assert fragment.status_code == 200
    assert message in unescape(fragment.get_data(as_text=True))
    funnel = client.get(f"/dashboard/funnel?{query}")
    assert funnel.status_code == 400
    assert message in unescape(funnel.get_data(as_text=True))
    won = client.get(f"/dashboard/won?{query}")
    if "quarter" in query or "year" in query or "basis" in query:
        assert won.status_code == 400
        assert message in unescape(won.get_data(as_text=True))


@pytest.mark.parametrize(
    "url",
    [
        "/dashboard/won?month=13",
        "/dashboard/won?member_id=abc",
        "/dashboard/won?location_id=x",
        "/dashboard/open/pipeline?month=0",
        "/dashboard/open/pipeline?year=20266",
        "/dashboard/won?member_id=99999999999999999999",
        "/dashboard/won?business_unit_id=²",
        "/dashboard/won?year=2²",
    ],
)
def test_bad_list_input_is_a_clear_400(client: FlaskClient, signed_in, url: str) -> None:
    signed_in(Role.MANAGER)
    response = client.get(url)
    assert response.status_code == 400
    assert 'id="deals-errors"' in response.get_data(as_text=True)


def test_unknown_member_location_or_list_is_404(client: FlaskClient, signed_in) -> None:
    signed_in(Role.MANAGER)
    assert client.get("/dashboard/won?member_id=9999").status_code == 404
    assert client.get("/dashboard/won?location_id=9999").status_code == 404
    assert client.get("/dashboard/won?business_unit_id=9999").status_code == 404
    assert client.get("/dashboard/open/past-close?member_id=9999").status_code == 404
    assert client.get("/dashboard/open/everything").status_code == 404


def test_a_rep_sees_only_their_own_figures(
    client: FlaskClient, signed_in, example, make_member
) -> None:
    manny = signed_in(Role.REP, name="Manny Martinez")
    quotas.same_every_month(manny, 2025, Decimal("1000"))
    db.session.commit()
    cory = example()
    html = client.get("/dashboard/?year=2025&quarter=4").get_data(as_text=True)
    assert "You see your own figures." in html
    assert f'id="member-{manny.id}"' in html
    assert f'id="member-{cory.id}"' not in html
    assert "Cory Ferguson" not in html
    assert 'id="by-location"' not in html
    assert cell(html, "totals-10-total") == "0"
    assert cell(html, "totals-10-quota") == "1,000"
    # Their own deals only, and nobody else's.
    assert client.get(f"/dashboard/won?year=2025&member_id={manny.id}").status_code == 200
    assert client.get(f"/dashboard/won?year=2025&member_id={cory.id}").status_code == 403
    assert client.get("/dashboard/won?year=2025&member_id=none").status_code == 403
    mine = client.get("/dashboard/won?year=2025").get_data(as_text=True)
    assert "CharTec" not in mine
    assert client.get(f"/dashboard/open/zero-revenue?member_id={cory.id}").status_code == 403
    funnel = client.get("/dashboard/funnel?year=2025&quarter=4").get_data(as_text=True)
    assert "Your own opportunities." in funnel
    assert client.get("/quotas/").status_code == 403


def test_managers_see_everyone(client: FlaskClient, signed_in, example) -> None:
    nick = signed_in(Role.MANAGER, name="Nick Points")
    cory = example()
    html = client.get("/dashboard/?year=2025&quarter=4").get_data(as_text=True)
    assert f'id="member-{cory.id}"' in html
    assert f'id="member-{nick.id}"' not in html  # no quota, no wins: not listed
    won = client.get(f"/dashboard/won?year=2025&month=10&member_id={cory.id}")
    assert won.status_code == 200


def test_the_funnel_comes_in_place(client: FlaskClient, signed_in, make_opportunity) -> None:
    signed_in(Role.MANAGER)
    make_opportunity("Kern River - Cabling", "Discovery", "1000.00")
    page = client.get("/dashboard/?year=2025&quarter=4").get_data(as_text=True)
    assert 'hx-get="/dashboard/funnel?year=2025&amp;quarter=4"' in page
    fragment = client.get("/dashboard/funnel?year=2025&quarter=4", headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert html.lstrip().startswith("<section") or "<html" not in html
    assert 'id="funnel-stages"' in html and 'id="funnel-chart"' in html
    assert "Q4 2025" in html
    whole = client.get("/dashboard/funnel?year=2025&quarter=4&period=year")
    assert "<html" in whole.get_data(as_text=True)
    assert "in 2025 (" in whole.get_data(as_text=True)


def test_hygiene_counts_link_to_their_lists(
    client: FlaskClient, signed_in, make_member, make_opportunity
) -> None:
    signed_in(Role.MANAGER)
    cory = make_member(name="Cory Ferguson")
    today = local_today(LA)
    make_opportunity(
        "Late one",
        "Presentation",
        "900.00",
        account_manager_id=cory.id,
        expected_close_on=today - timedelta(days=3),
    )
    make_opportunity("Free one", "Prospect", "0", account_manager_id=cory.id)
    html = client.get("/dashboard/").get_data(as_text=True)
    assert cell(html, f"hygiene-{cory.id}-stalled") == "2"
    assert cell(html, f"hygiene-{cory.id}-past-close") == "1"
    assert cell(html, f"hygiene-{cory.id}-zero-revenue") == "1"
    assert link(html, f"hygiene-{cory.id}-stalled") == (
        f"/board/?account_manager_id={cory.id}&stalled_only=1"
    )
    late = client.get(link(html, f"hygiene-{cory.id}-past-close")).get_data(as_text=True)
    assert "Late one" in late and "Free one" not in late
    free = client.get(link(html, f"hygiene-{cory.id}-zero-revenue")).get_data(as_text=True)
    assert "Free one" in free and "Late one" not in free


def test_forecast_links_to_the_pipeline(
    client: FlaskClient, signed_in, make_member, make_opportunity
) -> None:
    signed_in(Role.MANAGER)
    cory = make_member(name="Cory Ferguson")
    today = local_today(LA)
    make_opportunity(
        "Closing soon",
        "Commitment",
        "1000.00",
        account_manager_id=cory.id,
        expected_close_on=today,
    )
    html = client.get("/dashboard/").get_data(as_text=True)
    url = (
        f"/dashboard/open/pipeline?year={today.year}&amp;month={today.month}"
        f"&amp;member_id={cory.id}"
    )
    assert url in html
    listed = client.get(unescape(url)).get_data(as_text=True)
    assert "Closing soon" in listed and "900.00" in listed  # weighted at 90 %


def test_queries_do_not_grow_with_the_data(
    client: FlaskClient, signed_in, make_member, make_opportunity, queries
) -> None:
    signed_in(Role.MANAGER)

    def add(n: int) -> None:
        for i in range(n):
            member = make_member(name=f"Seller {i}")
            quotas.same_every_month(member, 2025, Decimal("1000"))
            for month in (10, 11):
                make_opportunity(
                    f"Won {i}-{month}",
                    "Won",
                    "500.00",
                    won_amount=Decimal("500.00"),
                    account_manager_id=member.id,
                    closed_at=datetime(2025, month, 5, 20, tzinfo=UTC),
                )
            make_opportunity(
                f"Open {i}",
                "Discovery",
                "0",
                account_manager_id=member.id,
                expected_close_on=date(2025, 1, 1),
            )
        db.session.commit()

    def count(url: str) -> int:
        with queries() as counted:
            assert client.get(url).status_code == 200
        return counted.count

    add(1)
    few = [count("/dashboard/?year=2025&quarter=4"), count("/dashboard/funnel?year=2025")]
    add(6)
    many = [count("/dashboard/?year=2025&quarter=4"), count("/dashboard/funnel?year=2025")]
    assert few == many


def test_the_dashboard_has_a_print_layout_and_no_inline_styles(
    client: FlaskClient, signed_in, example
) -> None:
    signed_in(Role.MANAGER)
    example()
    html = client.get("/dashboard/?year=2025&quarter=4").get_data(as_text=True)
    assert "dashboard.css" in html
    assert "style=" not in html and "hx-on" not in html and "<script>" not in html
    assert 'class="dashboard-switch no-print"' in html
    css = (Path(__file__).parents[1] / "static" / "dashboard.css").read_text()
    assert "@media print" in css


def test_the_printed_header_is_written_for_the_choice(client: FlaskClient, signed_in) -> None:
    """The running header and footer of the printed dashboard: linked with the choice (and
    swapped with the figures), written per request, the team's name escaped for CSS."""
    signed_in(Role.REP)
    html = client.get("/dashboard/?year=2025&quarter=3&basis=margin").get_data(as_text=True)
    href = "/dashboard/print.css?year=2025&amp;quarter=3&amp;basis=margin"
    assert f'<link rel="stylesheet" href="{href}" id="dashboard-print-css">' in html
    swapped = client.get("/dashboard/?year=2024&quarter=1", headers=HTMX).get_data(as_text=True)
    assert 'href="/dashboard/print.css?year=2024&amp;quarter=1"' in swapped

    team = get_team()
    team.name = 'ARRC "North" \\ Sales'
    db.session.commit()
    response = client.get("/dashboard/print.css?year=2025&quarter=3&basis=margin&period=year")
    assert response.status_code == 200
    assert response.mimetype == "text/css" and response.headers["Cache-Control"] == "no-store"
    css = response.get_data(as_text=True)
    title = r"ARRC \"North\" \\ Sales · Sales dashboard · Q3 2025 (funnel and locations: 2025)"
    assert f'@top-left {{ content: "{title} · Margin";' in css
    today = local_today(LA)
    assert re.search(
        rf'@top-right {{ content: "Generated {today:%a %Y-%m-%d} \d+:\d\d [ap]m '
        r'\(America/Los_Angeles\)";',
        css,
    )
    assert '@bottom-right { content: "Page " counter(page) " of " counter(pages);' in css

    bad = client.get("/dashboard/print.css?year=1812&quarter=9")
    assert bad.status_code == 400 and bad.mimetype == "text/css"
    assert "<" not in bad.get_data(as_text=True)
