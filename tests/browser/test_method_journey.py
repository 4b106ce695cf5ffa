"""The rest of the method in one journey (issue #18), in a real browser: a new admin on an
empty install creates a location and a business unit, a product and a Commitment checklist,
an opportunity with two product lines, an hour of time and an expense, uploads a PDF
proposal, moves the deal to Commitment, ticks the checklist and wins it; then finds it on
the dashboard's location and business-unit rows, and the forecast footer with the right
figures."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import BusinessUnit, Document, Location, Opportunity, Role
from crmlite.services.team import get_team, local_today
from tests.browser.conftest import sign_in_page

EMAIL = "ada@example.com"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"
DEAL = "Kern River - Managed Network"
KIND = "Managed Services - Complete"
PRODUCT = "Firewall Audit"
ITEMS = ("Agreement signed and filed", "Kick-off call held")


def move_on_the_board(page: Page, deal_id: int, to: str) -> Locator:
    """Move the card with its "⋯" menu (Move to… → the stage → Move); returns the card."""
    page.goto("/board/")
    card = page.locator(f"#card-{deal_id}")
    card.locator(".card-menu summary").click()
    card.get_by_role("button", name=f"Move to… ({DEAL})").click()
    card.get_by_label(f"Move {DEAL} to", exact=True).select_option(label=to)
    card.get_by_role("button", name="Move", exact=True).click()
    return page.locator(f"#card-{deal_id}")


def footer_row(page: Page, label: str) -> Locator:
    return page.locator("#forecast-footer tr.footer-row").filter(
        has=page.get_by_role("rowheader", name=label, exact=True)
    )


def test_a_new_admin_wins_a_deal_the_whole_method_way(
    page: Page, live_server: str, make_member
) -> None:
    me = make_member(name="Ada Admin", email=EMAIL, role=Role.ADMIN)
    today = local_today(ZoneInfo(get_team().time_zone))
    db.session.commit()
    sign_in_page(page, live_server, EMAIL)

    # Setup: a location, a business unit, the admin's cost rate, a product, a checklist.
    page.goto("/setup/locations")
    expect(page.locator("#no-places")).to_be_visible()
    page.locator("#new-place").get_by_label("Name").fill("ARRC")
    page.get_by_role("button", name="Add the location").click()
    expect(page.locator("#places-table")).to_contain_text("ARRC")
    page.goto("/setup/business-units")
    page.locator("#new-place").get_by_label("Name").fill("MS Sales")
    page.get_by_role("button", name="Add the business unit").click()
    expect(page.locator("#places-table")).to_contain_text("MS Sales")

    page.goto(f"/setup/members/{me.id}")
    page.get_by_label("Cost rate per hour").fill("80.00")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Ada Admin saved.")).to_be_visible()

    page.goto("/setup/products/")
    add_product = page.locator("form", has=page.get_by_role("button", name="Add the product"))
    add_product.get_by_label("Product", exact=True).fill(PRODUCT)
    add_product.get_by_label("Category").select_option(label="Service")
    add_product.get_by_label("Default revenue").fill("1,500.00")
    add_product.get_by_label("Default cost").fill("600.00")
    add_product.get_by_role("button", name="Add the product").click()
    expect(page.locator("#products tbody tr", has_text=PRODUCT)).to_contain_text("1,500.00")

    page.goto("/setup/checklists")
    section = page.locator("section", has=page.get_by_role("heading", name=KIND, exact=True))
    for item in ITEMS:
        section.get_by_label("New set-up item").fill(item)
        section.get_by_role("button", name="Add", exact=True).click()
        section = page.locator("section", has=page.get_by_role("heading", name=KIND, exact=True))
        expect(section).to_contain_text(item)

    # The opportunity, from the board.
    page.goto("/board/")
    page.get_by_role("button", name="New opportunity").click()
    new = page.locator("#new-opportunity-form")
    new.get_by_label("Opportunity", exact=True).fill(DEAL)
    new.get_by_label("Company").fill("Kern River Water")
    new.get_by_label("Type").select_option(label=KIND)
    new.get_by_role("button", name="Add to Prospect").click()
    expect(page.locator(".board-card", has_text=DEAL)).to_be_visible()
    db.session.rollback()
    deal_id = db.session.scalar(select(Opportunity.id).where(Opportunity.name == DEAL))
    assert deal_id is not None

    page.goto(f"/opportunities/{deal_id}")
    fields = page.locator("#opportunity-fields")
    fields.get_by_role("link", name="Edit").click()
    fields = page.locator("#opportunity-fields")
    fields.get_by_label("Location").select_option(label="ARRC")
    fields.get_by_label("Business unit").select_option(label="MS Sales")
    fields.get_by_role("button", name="Save").click()
    fields = page.locator("#opportunity-fields")
    expect(fields.get_by_role("link", name="Edit")).to_be_visible()  # saved, shown again
    expect(fields).to_contain_text("ARRC")
    expect(fields).to_contain_text("MS Sales")

    # Two product lines: the product's defaults, and a line of its own.
    lines = page.locator("#opportunity-lines")
    add = lines.locator("form.line-add")
    add.get_by_label("Product").select_option(label=PRODUCT)
    expect(add.get_by_label("Revenue")).to_have_value("1500.00")
    expect(add.get_by_label("Cost")).to_have_value("600.00")
    add.get_by_role("button", name="Add line").click()
    expect(page.locator("#lines-total-revenue")).to_have_text("1,500.00")
    add = page.locator("#opportunity-lines form.line-add")
    add.get_by_label("Description").fill("Cabling")
    add.get_by_label("Revenue").fill("1000")
    add.get_by_label("Cost").fill("400")
    add.get_by_role("button", name="Add line").click()
    expect(page.locator("#lines-total-revenue")).to_have_text("2,500.00")
    expect(page.locator("#lines-total-cost")).to_have_text("1,000.00")

    # An hour of time and an expense.
    costs = page.locator("#opportunity-costs")
    time_form = costs.locator("#time-form")
    time_form.get_by_label("Date").fill(today.isoformat())
    time_form.get_by_label("Hours").fill("1")
    time_form.get_by_role("button", name="Log time").click()
    expect(page.locator("#time-total")).to_have_text("80.00")
    expense_form = page.locator("#expense-form")
    expense_form.get_by_label("Date").fill(today.isoformat())
    expense_form.get_by_label("Amount").fill("45.50")
    expense_form.get_by_label("Category").select_option(label="Travel")
    expense_form.get_by_role("button", name="Add expense").click()
    expect(page.locator("#expense-total")).to_have_text("45.50")

    # The forecast footer, as the seed prints it.
    page.reload()
    expect(footer_row(page, "Forecast Totals")).to_contain_text("2,500.00")
    expect(footer_row(page, "Forecast Totals").locator("td")).to_have_text(
        ["2,500.00", "1,000.00", "1,500.00", "60.00"]
    )
    expect(footer_row(page, "Time").locator("td").nth(1)).to_have_text("80.00")
    expect(footer_row(page, "Expenses").locator("td").nth(1)).to_have_text("45.50")
    expect(footer_row(page, "Forecast Total less Time and Expenses").locator("td")).to_have_text(
        ["2,500.00", "1,125.50", "1,374.50", "54.98"]
    )

    # A PDF proposal.
    documents = page.locator("#opportunity-documents")
    page.get_by_label("Upload a document").set_input_files(
        {"name": "Proposal.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    documents.get_by_role("button", name="Upload", exact=True).click()
    expect(documents.get_by_role("link", name="Proposal.pdf")).to_be_visible()

    # Commitment: no next step yet, so the card asks; skipped.
    card = move_on_the_board(page, deal_id, "Commitment")
    expect(card).to_contain_text("Schedule the next step?")
    card.get_by_role("button", name="Skip (leave it stalled)").click()
    expect(page.locator(f"#card-{deal_id} .card-checklist")).to_have_text("✓ 0/2")

    page.goto(f"/opportunities/{deal_id}")
    checklist = page.locator("#opportunity-checklist")
    for done, item in enumerate(ITEMS, start=1):
        checklist.get_by_role("button", name=f"Tick: {item}").click()
        expect(checklist).to_contain_text(f"{done}/2 done")

    # Won, every item done: no question about the checklist.
    card = move_on_the_board(page, deal_id, "Won")
    expect(card.get_by_label("Won amount")).to_have_value("2500.00")
    expect(card).not_to_contain_text("still open")
    card.get_by_role("button", name="Mark won").click()
    expect(page.locator(f"#card-{deal_id}")).to_contain_text("2,500")
    db.session.rollback()
    won = db.session.get(Opportunity, deal_id)
    assert won is not None and won.closed_at is not None
    assert won.won_amount == Decimal("2500.00")
    assert db.session.scalars(select(Document.filename)).all() == ["Proposal.pdf"]

    # The dashboard: its own row under Locations and under Business units, and the totals.
    arrc = db.session.scalar(select(Location.id).where(Location.name == "ARRC"))
    ms_sales = db.session.scalar(select(BusinessUnit.id).where(BusinessUnit.name == "MS Sales"))
    page.goto("/dashboard/")
    summary = page.locator("#location-summary")
    months = summary.locator("thead th")
    month_column = [months.nth(i).inner_text() for i in range(months.count())].index(
        today.strftime("%b")
    )
    for row_id in (f"location-{arrc}", f"unit-{ms_sales}", "location-totals"):
        row = summary.locator(f"#{row_id}")
        expect(row.locator("th, td").nth(month_column)).to_have_text("2,500")
        expect(row.locator("td").nth(months.count() - 4)).to_have_text("2,500")  # Total
