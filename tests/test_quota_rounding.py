"""One rounding rule (issue #18): the Quotas page and the dashboard show the same figure
for the same amount (half up, services/money.py), and the team's Monthly Totals count only
members with a quota, the others shown apart."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from html import unescape

from flask.testing import FlaskClient

from crmlite.extensions import db
from crmlite.models import Member, Role
from crmlite.services import quotas


def cell(html: str, cell_id: str) -> str:
    match = re.search(rf'id="{re.escape(cell_id)}"[^>]*>(.*?)</td>', html, re.S)
    assert match, f"no #{cell_id}"
    return unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def quota_row(html: str, member: Member) -> list[str]:
    """The Quotas page's figures of a member: twelve months, then the year."""
    row = html[html.index(f'id="quota-member-{member.id}"') :].split("</tr>")[0]
    cells = re.findall(r'<td class="num">(.*?)</td>', row, re.S)
    return [unescape(re.sub(r"<[^>]+>", "", c)).split()[0] for c in cells]


def test_quotas_page_and_dashboard_agree(
    client: FlaskClient, signed_in, make_member: Callable[..., Member]
) -> None:
    signed_in(Role.MANAGER)
    half = make_member(name="Hal Half")
    quotas.same_every_month(half, 2025, Decimal("2500.50"))
    odd = make_member(name="Oda Odd")
    quotas.same_every_month(odd, 2025, Decimal("2333.42"))  # a year of 28,001.04
    db.session.commit()

    page = client.get("/quotas/?year=2025").get_data(as_text=True)
    dashboard = client.get("/dashboard/?year=2025&quarter=4").get_data(as_text=True)
    assert quota_row(page, half)[9] == cell(dashboard, f"m{half.id}-10-quota") == "2,501"
    assert quota_row(page, half)[12] == cell(dashboard, f"m{half.id}-ytd-12-quota") == "30,006"
    # Half up on the exact sum, on both pages: 28,001.04 is 28,001, not 28,000 (12 × 2,333).
    assert quota_row(page, odd)[12] == cell(dashboard, f"m{odd.id}-ytd-12-quota") == "28,001"
    assert quota_row(page, odd)[9] == cell(dashboard, f"m{odd.id}-10-quota") == "2,333"
    assert cell(dashboard, f"m{odd.id}-q-quota") == "7,000"  # 7,000.26


def test_team_percent_counts_members_with_a_quota_only(
    client: FlaskClient, signed_in, make_member: Callable[..., Member], make_opportunity
) -> None:
    signed_in(Role.MANAGER)
    cory = make_member(name="Cory Ferguson")
    quotas.same_every_month(cory, 2025, Decimal("4000"))
    rita = make_member(name="Rita Noquota")
    for member, amount in ((cory, "2895.00"), (rita, "2706.00")):
        make_opportunity(
            f"Deal of {member.name}",
            "Won",
            amount,
            won_amount=Decimal(amount),
            account_manager_id=member.id,
            closed_at=datetime(2025, 10, 9, 18, tzinfo=UTC),
        )
    db.session.commit()
    html = client.get("/dashboard/?year=2025&quarter=4").get_data(as_text=True)
    # The seed's example still: 2,895 / 4,000 = 72 % (not 5,601 / 4,000 = 140 %).
    assert [cell(html, f"totals-10-{c}") for c in ("total", "quota", "percent")] == [
        "2,895",
        "4,000",
        "72 %",
    ]
    assert cell(html, "not-counted-10") == "not counted: 1 member without a quota, 2,706 won"
    assert cell(html, "not-counted-11") == "not counted: 1 member without a quota, 0 won"
    assert cell(html, "not-counted-q") == "not counted: 1 member without a quota, 2,706 won"
    assert cell(html, f"m{rita.id}-10-total") == "2,706"  # still on her own row


def test_no_not_counted_line_when_everyone_has_a_quota(
    client: FlaskClient, signed_in, make_member: Callable[..., Member]
) -> None:
    me = signed_in(Role.MANAGER)
    quotas.same_every_month(me, 2025, Decimal("1000"))
    db.session.commit()
    html = client.get("/dashboard/?year=2025&quarter=4").get_data(as_text=True)
    assert 'id="not-counted"' not in html
