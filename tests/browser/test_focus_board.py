"""Focus that follows the work on the board (issue #20), with the real keyboard and mouse:
after a save, a cancel or a move the focus is back on the card that was worked on (in its
new place), the page's polite live region says what happened, and Escape closes the side
panel, the "Move to" form and the questions."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import Activity, Opportunity, Role
from crmlite.services.team import local_today
from tests.browser.conftest import sign_in_page
from tests.browser.test_board_drag import drag
from tests.conftest import stage

EMAIL = "cory@example.com"
MANY = 18  # enough cards that the last one is far down its column
# The card menu's "+ Activity" and "Move to…" (their names may grow, they start so).
LOG = re.compile(r"activity", re.I)
MOVE_TO = re.compile(r"^Move\b(?! .* to$)")


@pytest.fixture()
def deals(make_member, make_opportunity, make_activity) -> dict[str, int]:
    cory = make_member(name="Cory Ferguson", email=EMAIL, role=Role.MANAGER)
    for n in range(MANY):
        make_opportunity(name=f"Kern River {n:02d} - Cabling", account_manager_id=cory.id)
    selma = make_opportunity(
        name="Selma Raisin - Hardware", stage_name="Discovery", account_manager_id=cory.id
    )
    make_activity(  # its next step: moving it on asks nothing
        cory,
        "Discovery with Selma",
        code="DM",
        due_on=local_today(ZoneInfo("America/Los_Angeles")) + timedelta(days=2),
        opportunity_id=selma.id,
    )
    db.session.commit()
    return {
        "selma": selma.id,
        **{name: stage(name).id for name in ("Prospect", "Discovery", "Presentation", "Lost")},
    }


def settled(page: Page) -> None:
    """Wait until htmx has taken in what came (the browser focuses an [autofocus] field on
    its own a moment before htmx does it again: keys pressed in between would be undone)."""
    expect(page.locator(".htmx-request, .htmx-settling, .htmx-added")).to_have_count(0)


def open_board(page: Page, live_server: str) -> None:
    sign_in_page(page, live_server, EMAIL)
    page.goto("/board/")
    expect(page.get_by_role("heading", name="Board", level=1)).to_be_visible()


def announcer(page: Page) -> Locator:
    return page.locator("#announcer")


def lowest_card(page: Page, stage_id: int) -> Locator:
    cards = page.locator(f"#stage-{stage_id}-cards .board-card")
    expect(cards).to_have_count(MANY)
    card_id = cards.last.get_attribute("id")
    return page.locator(f"#{card_id}")


def open_log_form(page: Page, card: Locator) -> Locator:
    """The card's "⋯" menu by keyboard, then "+ Activity": the form in the side panel."""
    card.locator(".card-menu summary").focus()
    page.keyboard.press("Enter")
    log = card.get_by_role("button", name=LOG)
    expect(log).to_be_focused()
    page.keyboard.press("Enter")
    form = page.locator("#board-panel form")
    expect(form.get_by_label("Type")).to_be_focused()
    settled(page)
    return form


def test_save_an_activity_from_a_card_low_on_the_board_focus_comes_back_to_it(
    page: Page, live_server: str, deals: dict[str, int]
) -> None:
    open_board(page, live_server)
    card = lowest_card(page, deals["Prospect"])
    name = card.locator(".card-title").inner_text()
    form = open_log_form(page, card)
    form.get_by_label("Type").select_option(label="SE - Follow up Call/Email")
    subject = form.get_by_label("Subject")
    subject.focus()
    subject.press("Control+a")
    page.keyboard.type("Call about the cabling")
    page.keyboard.press("Enter")  # submits the form

    # The card shows the new next step, has the focus (on its name) and is in view.
    expect(card).to_contain_text("Call about the cabling")
    title = card.get_by_role("link", name=name)
    expect(title).to_be_focused()
    expect(title).to_be_in_viewport()
    expect(announcer(page)).to_have_text("Activity saved: Call about the cabling")
    db.session.rollback()
    logged = db.session.scalars(select(Activity).where(Activity.subject.like("Call about%")))
    assert logged.one().opportunity_id == int(card.get_attribute("id").removeprefix("card-"))


def test_cancel_the_activity_form_returns_focus_to_the_card(
    page: Page, live_server: str, deals: dict[str, int]
) -> None:
    open_board(page, live_server)
    card = lowest_card(page, deals["Prospect"])
    form = open_log_form(page, card)
    form.get_by_role("button", name="Cancel").click()
    expect(page.locator("#board-panel")).to_be_empty()
    # Back on what opened the form, in that card.
    expect(card.get_by_role("button", name=LOG)).to_be_focused()
    db.session.rollback()
    assert db.session.scalars(select(Activity.subject)).all() == ["Discovery with Selma"]


def test_escape_closes_the_panel_and_returns_focus_to_the_card(
    page: Page, live_server: str, deals: dict[str, int]
) -> None:
    open_board(page, live_server)
    card = lowest_card(page, deals["Prospect"])
    form = open_log_form(page, card)
    form.get_by_label("Subject").focus()
    page.keyboard.press("Escape")
    expect(page.locator("#board-panel")).to_be_empty()
    expect(card.get_by_role("button", name=LOG)).to_be_focused()
    # A second Escape closes the card's menu, the focus on its "⋯".
    page.keyboard.press("Escape")
    expect(card.locator(".card-menu")).not_to_have_attribute("open", "")
    expect(card.locator(".card-menu summary")).to_be_focused()


def open_move_form(page: Page, card: Locator, name: str) -> Locator:
    card.locator(".card-menu summary").focus()
    page.keyboard.press("Enter")
    expect(card.get_by_role("button", name=LOG)).to_be_focused()
    page.keyboard.press("Tab")
    expect(card.get_by_role("button", name=MOVE_TO)).to_be_focused()
    page.keyboard.press("Enter")
    select_ = page.get_by_label(f"Move {name} to", exact=True)
    expect(select_).to_be_focused()
    settled(page)
    return select_


def test_the_move_forms_cancel_and_escape_put_the_focus_back_on_the_card(
    page: Page, live_server: str, deals: dict[str, int]
) -> None:
    open_board(page, live_server)
    name = "Selma Raisin - Hardware"
    card = page.locator(f"#card-{deals['selma']}")
    open_move_form(page, card, name)
    page.keyboard.press("Tab")  # Move
    page.keyboard.press("Tab")  # Cancel
    expect(card.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")
    title = card.get_by_role("link", name=name)
    expect(title).to_be_focused()
    expect(card.locator("form")).to_have_count(0)
    expect(announcer(page)).to_have_text(f"Not moved: {name} stays in Discovery")

    # Escape in the form does what Cancel does.
    open_move_form(page, card, name)
    page.keyboard.press("Escape")
    expect(card.locator("form")).to_have_count(0)
    expect(title).to_be_focused()
    db.session.rollback()
    assert db.session.get(Opportunity, deals["selma"]).stage_id == deals["Discovery"]


SELMA = "Selma Raisin - Hardware"


def move_selma(page: Page, live_server: str, deals: dict[str, int], to: str) -> Locator:
    """Open the board and move Selma's card with its "Move to" form; its card (or question)."""
    open_board(page, live_server)
    card = page.locator(f"#card-{deals['selma']}")
    open_move_form(page, card, SELMA).select_option(label=to)
    card.get_by_role("button", name="Move", exact=True).click()
    return card


def test_a_keyboard_move_is_announced_and_keeps_the_focus_on_the_card(
    page: Page, live_server: str, deals: dict[str, int]
) -> None:
    name = SELMA
    move_selma(page, live_server, deals, "Presentation")
    moved = page.locator(f"#stage-{deals['Presentation']}-cards #card-{deals['selma']}")
    expect(moved).to_be_visible()
    expect(announcer(page)).to_have_text(f"Moved {name} to Presentation")
    expect(moved.get_by_label(f"Move {name} to", exact=True)).to_be_focused()


def test_escape_on_the_lost_question_puts_the_card_back_with_the_focus(
    page: Page, live_server: str, deals: dict[str, int]
) -> None:
    name = SELMA
    card = move_selma(page, live_server, deals, "Lost")
    reason = card.get_by_label("Why did they say no?")
    expect(reason).to_be_focused()
    page.keyboard.press("Escape")
    title = page.locator(f"#stage-{deals['Discovery']}-cards #card-{deals['selma']} .card-title")
    expect(title).to_be_focused()
    expect(announcer(page)).to_have_text(f"Not moved: {name} stays in Discovery")


def test_an_invalid_answer_focuses_the_field_in_error(
    page: Page, live_server: str, deals: dict[str, int]
) -> None:
    name = SELMA
    card = move_selma(page, live_server, deals, "Lost")
    reason = card.get_by_label("Why did they say no?")
    expect(reason).to_be_focused()
    settled(page)
    card.get_by_role("button", name="Mark lost").focus()
    page.keyboard.press("Enter")  # no reason given
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(reason).to_be_focused()
    page.keyboard.type("Chose the incumbent")
    card.get_by_role("button", name="Mark lost").focus()
    page.keyboard.press("Enter")
    lost = page.locator(f"#stage-{deals['Lost']}-cards #card-{deals['selma']}")
    # Moved with the keyboard: the focus is on its "Move to" list, in its new place.
    expect(lost.get_by_label(f"Move {name} to", exact=True)).to_be_focused()
    expect(announcer(page)).to_have_text(f"Moved {name} to Lost")


def test_a_drop_is_announced_and_the_card_has_the_focus(
    page: Page, live_server: str, deals: dict[str, int]
) -> None:
    open_board(page, live_server)
    card = page.locator(f"#card-{deals['selma']}")
    drag(page, card, page.locator(f"#stage-{deals['Presentation']}-cards"))
    moved = page.locator(f"#stage-{deals['Presentation']}-cards #card-{deals['selma']}")
    expect(announcer(page)).to_have_text("Moved Selma Raisin - Hardware to Presentation")
    expect(moved.locator(".card-title")).to_be_focused()


def test_a_new_opportunity_gets_the_focus_and_cancel_returns_it_to_the_button(
    page: Page, live_server: str, deals: dict[str, int]
) -> None:
    open_board(page, live_server)
    new = page.get_by_role("button", name="New opportunity")
    new.click()
    form = page.locator("#new-opportunity-form")
    expect(form.get_by_label("Opportunity")).to_be_focused()
    form.get_by_role("button", name="Cancel").click()
    expect(form).to_have_count(0)
    expect(new).to_be_focused()

    page.keyboard.press("Enter")  # on "New opportunity"
    expect(form.get_by_label("Opportunity")).to_be_focused()
    settled(page)
    page.keyboard.press("Enter")  # nothing typed: the name is asked for, and focused
    expect(form).to_contain_text("Name the opportunity.")
    expect(form.get_by_label("Opportunity")).to_be_focused()
    settled(page)
    page.keyboard.type("CharTec - Phone System")
    page.keyboard.press("Enter")
    card = page.locator(f"#stage-{deals['Prospect']}-cards .board-card").first
    expect(card.get_by_role("link", name="CharTec - Phone System")).to_be_focused()
    expect(announcer(page)).to_have_text("Added CharTec - Phone System to Prospect")
