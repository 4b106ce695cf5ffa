"""A campaign from start to lead in a real browser: a manager creates a campaign, picking
its sub-type from the list the chosen type filters in place; a website visitor fills in
the campaign's public form; the new Prospect is on the board; the manager closes the form
and the next visitor finds it closed. And a campaign e-mail written, previewed and sent
from its page."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import Page, expect
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import Activity, Campaign, CampaignType, Opportunity, Role
from crmlite.services import delivery, marketing_lists
from crmlite.services.campaigns import save_campaign
from crmlite.services.mailer import open_mailer
from tests.browser.conftest import sign_in_page

EMAIL = "cory@example.com"


def test_create_a_campaign_then_a_web_form_lead_lands_on_the_board(
    page: Page, live_server: str, make_member
) -> None:
    cory = make_member(name="Cory Ferguson", email=EMAIL, role=Role.MANAGER)
    sign_in_page(page, live_server, EMAIL)

    page.goto("/campaigns/new")
    sub_type = page.get_by_label("Sub-type")
    expect(sub_type.locator("option", has_text="Product Promotion")).to_have_count(0)
    # Choosing the type swaps in its sub-types without a reload.
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Type", exact=True).select_option(label="Email")
    expect(sub_type.locator("option", has_text="Product Promotion")).to_have_count(1)
    expect(sub_type.locator("option", has_text="Postcard")).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("#proposed-name")).to_contain_text(f"Email - {date.today().year}")
    sub_type.select_option(label="Product Promotion")
    page.get_by_role("button", name="Save").click()
    proposed = f"Email - Product Promotion - {date.today().year}"
    expect(page.get_by_role("heading", level=1)).to_have_text(proposed)

    db.session.rollback()
    campaign = db.session.scalars(select(Campaign)).one()
    assert campaign.owner_id == cory.id
    form_url = page.locator("#web-form-url").get_attribute("href")
    assert form_url and "/t/f/" in form_url

    # A visitor on the team's website, not signed in.
    visitor = page.context.browser.new_context(base_url=live_server)
    try:
        form_page = visitor.new_page()
        form_page.goto(form_url)
        form_page.get_by_label("Your name").fill("Jason Rivas")
        form_page.get_by_label("Company").fill("CharTec")
        form_page.get_by_label("E-mail").fill("jason@chartec.example")
        form_page.get_by_label("Phone").fill("(866) 544-2772")
        form_page.get_by_label("Message").fill("Interested in a phone system upgrade.")
        form_page.get_by_role("button", name="Send").click()
        expect(form_page.locator("#thanks-message")).to_contain_text("We received your message")
    finally:
        visitor.close()

    db.session.rollback()
    opportunity = db.session.scalars(select(Opportunity)).one()
    assert opportunity.name == "CharTec - Web form"
    assert opportunity.campaign_id == campaign.id
    call = db.session.scalars(select(Activity)).one()
    assert call.assigned_to_id == cory.id and call.opportunity_id == opportunity.id

    page.goto("/board/")
    card = page.locator(f"#card-{opportunity.id}")
    expect(card).to_contain_text("CharTec - Web form")
    prospect = page.locator(".board-column").first
    expect(prospect).to_contain_text("Prospect")
    expect(prospect.locator(f"#card-{opportunity.id}")).to_have_count(1)

    # The campaign is over: the manager closes its form, and the next visitor finds it closed.
    page.goto(f"/campaigns/{campaign.id}")
    page.locator("#web-form-embed summary").click()
    page.get_by_role("button", name="Close the form").click()
    expect(page.locator(".flash-success")).to_contain_text("The web form is closed.")
    expect(page.locator("#web-form-state")).to_have_text("closed")
    visitor = page.context.browser.new_context(base_url=live_server)
    try:
        form_page = visitor.new_page()
        response = form_page.goto(form_url)
        assert response is not None and response.status == 410
        expect(form_page.get_by_role("heading", level=1)).to_have_text("This form is closed")
        expect(form_page.locator("#web-form")).to_have_count(0)
    finally:
        visitor.close()


def test_write_preview_and_send_a_campaign_email(
    page: Page, live_server: str, make_member, make_contact, app, tmp_path, monkeypatch
) -> None:
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", str(tmp_path / "outbox"))
    cory = make_member(name="Cory Ferguson", email=EMAIL, role=Role.MANAGER)
    email_type = db.session.scalars(select(CampaignType).where(CampaignType.name == "Email")).one()
    campaign = save_campaign(None, type_id=email_type.id, owner_id=cory.id, name="Spring mail")
    shane = make_contact("Shane", "Swanson", email="shane@example.com")
    group = marketing_lists.create_list("Towing", by=cory)
    marketing_lists.add_contacts(group, [shane.id])
    db.session.commit()
    sign_in_page(page, live_server, EMAIL)

    page.goto(f"/campaigns/{campaign.id}")
    page.get_by_role("link", name="Write an e-mail").click()
    page.get_by_label("Subject").fill("Spring offer for {{ first_name }}")
    page.get_by_label("Text").fill("Hello {{ first_name }}, see https://example.com/offer")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#preview-text")).to_contain_text("Hello Shane, see https://example.com")
    preview = page.frame_locator("iframe.email-preview")
    expect(preview.get_by_role("link", name="https://example.com/offer")).to_be_visible()

    page.get_by_label("Contact group").select_option(label="Towing (1 reachable of 1)")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".flash-success")).to_contain_text("1 e-mail queued")
    expect(page.locator("#count-waiting")).to_have_text("1")
    expect(page.locator("#send-running")).to_be_visible()
    assert not (tmp_path / "outbox").exists()  # nothing is sent inside the request

    # The worker sends it; the page's figures follow by themselves, without a reload.
    db.session.rollback()  # end the test's read snapshot, taken before the Send
    with open_mailer() as mailer:
        assert delivery.deliver(mailer, sender=app.config["MAIL_FROM"]).sent == 1
    expect(page.locator("#count-sent")).to_have_text("1", timeout=10_000)
    expect(page.locator("#count-waiting")).to_have_text("0")
    expect(page.locator("#send-done")).to_have_text("Done.")
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
