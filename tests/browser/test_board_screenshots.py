"""Screenshots of the board with the demo data (docs/screenshots/board-1600.png and
board-390.png, linked from the README). Run once when the board's look changes:

    CRMLITE_SCREENSHOTS=1 PYTHONPATH=$PWD python -m pytest -q \
        tests/browser/test_board_screenshots.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from crmlite.demo import DEMO_PASSWORD, load_demo
from crmlite.extensions import db
from tests.browser.conftest import sign_in_page

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(
    os.environ.get("CRMLITE_SCREENSHOTS") != "1", reason="CRMLITE_SCREENSHOTS=1 makes them"
)


@pytest.mark.parametrize(("width", "height"), [(1600, 1000), (390, 844)])
def test_board_screenshot(app, browser: Browser, live_server: str, width: int, height: int) -> None:
    load_demo()
    db.session.commit()
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height})
    page = context.new_page()
    sign_in_page(page, live_server, "nick@example.com", DEMO_PASSWORD)
    page.goto("/board/")
    expect(page.locator(".board-card").first).to_be_visible()
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=OUT / f"board-{width}.png")
    context.close()
