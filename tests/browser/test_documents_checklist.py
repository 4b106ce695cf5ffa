"""Documents and the Commitment checklist in a real browser: a rep uploads a PDF proposal
on a deal in Commitment (htmx, multipart), sees it listed, ticks a set-up item, and finds
the card's progress on the board."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import Document, OpportunityType, Role
from crmlite.services import checklists
from tests.browser.conftest import sign_in_page

EMAIL = "cory@example.com"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"


def test_upload_a_proposal_and_tick_the_checklist(
    page: Page, live_server: str, make_member, make_opportunity
) -> None:
    me = make_member(name="Cory Ferguson", email=EMAIL, role=Role.REP)
    kind = db.session.scalars(
        select(OpportunityType).where(OpportunityType.name == "Managed Services - Complete")
    ).one()
    for label in ("Agreement signed and filed", "Onboarding call held", "Agents deployed"):
        checklists.add_template_item(kind, label)
    deal = make_opportunity(stage_name="Commitment", account_manager_id=me.id, type_id=kind.id)
    checklists.give_checklist(deal)
    db.session.commit()
    sign_in_page(page, live_server, EMAIL)

    page.goto(f"/opportunities/{deal.id}")
    section = page.locator("#opportunity-documents")
    expect(section).to_contain_text("No documents yet.")
    page.get_by_label("Upload a document").set_input_files(
        {"name": "Proposal.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    section.get_by_role("button", name="Upload", exact=True).click()
    expect(section.get_by_role("link", name="Proposal.pdf")).to_be_visible()
    expect(section).to_contain_text("Cory Ferguson")
    db.session.rollback()
    assert db.session.scalars(select(Document.filename)).all() == ["Proposal.pdf"]

    checklist = page.locator("#opportunity-checklist")
    expect(checklist).to_contain_text("0/3 done")
    checklist.get_by_role("button", name="Tick: Agreement signed and filed").click()
    expect(checklist).to_contain_text("1/3 done")
    expect(
        checklist.get_by_role("button", name="Untick: Agreement signed and filed")
    ).to_be_visible()

    page.goto("/board/")
    expect(page.locator(f"#card-{deal.id} .card-checklist")).to_have_text("✓ 1/3")
