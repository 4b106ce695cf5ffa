"""The import wizard in a real browser: a manager uploads a HubSpot contacts export, keeps
the guessed columns, previews, starts the import; the worker runs it while the page polls,
and the page turns into the report by itself; then undo."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import Contact, Role
from crmlite.services.imports import jobs
from tests.browser.conftest import sign_in_page

EMAIL = "cory@example.com"
FILE = Path(__file__).parent.parent / "data" / "imports" / "hubspot_contacts.csv"
TZ = ZoneInfo("America/Los_Angeles")


def contacts() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Contact.id))) or 0


def test_import_contacts_then_undo(page: Page, live_server: str, make_member) -> None:
    make_member(name="Cory Ferguson", email=EMAIL, role=Role.MANAGER)
    sign_in_page(page, live_server, EMAIL)

    page.goto("/setup/")
    page.get_by_role("link", name="Import").click()
    page.get_by_label("The file holds").select_option(label="Contacts")
    page.get_by_label("File (CSV or Excel .xlsx)").set_input_files(str(FILE))
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Map the columns")
    expect(page.get_by_label("E-mail", exact=True)).to_have_value("Email")
    page.get_by_role("button", name="Preview").click()

    table = page.locator("#preview-table")
    expect(table).to_contain_text("Ångström")
    expect(table).to_contain_text("jason@chartec.net")  # as it will be stored: lower case
    assert contacts() == 0
    page.get_by_role("button", name="Import every row").click()
    expect(page.locator("#import-progress")).to_contain_text("Waiting for the worker")

    db.session.rollback()
    assert jobs.run_queued(TZ) == 1  # the worker's round
    # The polling partial sees the end and the page reloads into the report.
    expect(page.locator("#count-created")).to_have_text("2", timeout=10_000)
    expect(page.get_by_role("button", name="Undo this import")).to_be_visible()
    assert contacts() == 2

    page.get_by_role("button", name="Undo this import").click()
    db.session.rollback()
    assert jobs.run_queued(TZ) == 1
    expect(page.locator("#import-undone")).to_be_visible(timeout=10_000)
    assert contacts() == 0
