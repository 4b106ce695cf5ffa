"""Signing in and out in a real browser: the form, the nav, the keyboard and the printout."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from crmlite.models import Member
from tests.browser.conftest import sign_in_page
from tests.conftest import PASSWORD

EMAIL = "nick@example.com"
NAV = [
    "Board",
    "Companies",
    "Activities",
    "Calendar",
    "Points",
    "Dashboard",
    "Campaigns",
    "Tracks",
    "Setup",
]
WRONG_PASSWORD_MESSAGE = "That e-mail and password do not match"


@pytest.fixture()
def nick(make_member: Callable[..., Member]) -> None:
    # Committed by the factory. Do not read its (expired) attributes here: on SQLite that
    # would open a write transaction in the test and block the server's sign-in.
    make_member(name="Nick Points", email=EMAIL)


def home_heading(page: Page):
    return page.get_by_role("heading", level=1)


@pytest.mark.usefixtures("nick")
def test_sign_in_open_board_and_sign_out(page: Page, live_server: str) -> None:
    sign_in_page(page, live_server, EMAIL, PASSWORD)

    expect(page).to_have_url(f"{live_server}/")
    expect(home_heading(page)).to_have_text("Good day, Nick")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_text(NAV)

    nav.get_by_role("link", name="Board", exact=True).click()
    expect(page).to_have_url(f"{live_server}/board/")
    expect(page.get_by_role("heading", name="Board", level=1)).to_be_visible()
    board = nav.get_by_role("link", name="Board", exact=True)
    expect(board).to_have_attribute("aria-current", "page")

    nav.get_by_role("link", name="Tracks", exact=True).click()
    expect(page.get_by_role("heading", name="Tracks", level=1)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server}/sign-in")
    expect(page.get_by_role("heading", name=re.compile(r"^Sign in to"))).to_be_visible()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    expect(page.locator(".site-header")).to_have_count(0)

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"))
    expect(page.get_by_label("E-mail")).to_be_visible()
    expect(page.locator(".site-header")).to_have_count(0)


@pytest.mark.usefixtures("nick")
def test_wrong_password_says_so_and_keeps_the_email(page: Page, live_server: str) -> None:
    sign_in_page(page, live_server, EMAIL, "not-the-password")

    expect(page).to_have_url(f"{live_server}/sign-in")
    box = page.locator(".auth-box")
    expect(box.get_by_role("alert")).to_contain_text(WRONG_PASSWORD_MESSAGE)
    # Next to the form: right above it, in the same box.
    expect(box.locator("[role=alert] + form")).to_have_count(1)
    expect(page.get_by_label("E-mail")).to_have_value(EMAIL)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    expect(page.locator(".site-header")).to_have_count(0)

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"))


@pytest.mark.usefixtures("nick")
def test_sign_in_with_the_keyboard_only(page: Page, live_server: str) -> None:
    page.goto("/sign-in")
    skip = page.get_by_role("link", name="Skip to content")
    email = page.get_by_label("E-mail")
    password = page.get_by_label("Password", exact=True)

    # The e-mail field has focus on arrival; the only stop before it is the skip link,
    # which is off-screen until focused.
    expect(email).to_be_focused()
    expect(skip).not_to_be_in_viewport()
    page.keyboard.press("Shift+Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Tab")
    expect(email).to_be_focused()

    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    expect(password).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server}/")
    expect(home_heading(page)).to_have_text("Good day, Nick")

    # From the start of a page without autofocus, Tab reaches the skip link first (before
    # the brand and the nav), and following it puts focus on the content.
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


@pytest.mark.usefixtures("nick")
def test_printed_home_page_has_no_header(page: Page, live_server: str) -> None:
    sign_in_page(page, live_server, EMAIL, PASSWORD)
    expect(home_heading(page)).to_have_text("Good day, Nick")
    expect(page.locator(".site-header")).to_be_visible()

    page.emulate_media(media="print")
    expect(page.locator(".site-header")).not_to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).not_to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).not_to_be_visible()
    expect(home_heading(page)).to_be_visible()
    expect(page.locator("#my-day")).to_be_visible()
    expect(page.locator("#team-funnel")).to_be_visible()
    expect(page.locator("main .print-only")).to_be_visible()  # the team name heads the page

    page.emulate_media(media="screen")
    expect(page.locator(".site-header")).to_be_visible()


@pytest.mark.usefixtures("nick")
def test_wrong_password_puts_focus_on_the_password(page: Page, live_server: str) -> None:
    sign_in_page(page, live_server, EMAIL, "not-the-password")
    expect(page.locator(".auth-box").get_by_role("alert")).to_contain_text(WRONG_PASSWORD_MESSAGE)

    expect(page.get_by_label("Password", exact=True)).to_be_focused(timeout=1_000)
    expect(page.locator("[autofocus]")).to_have_count(1)
    expect(page.locator("[aria-invalid]:not([aria-invalid=true])")).to_have_count(0)
    expect(page.locator("[aria-describedby='None']")).to_have_count(0)
