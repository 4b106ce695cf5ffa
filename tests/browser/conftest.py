"""Browser tests: the real app served on a local port, driven by headless Chromium.

``live_server`` serves the session's ``base_app`` from a background thread; every request
there gets its own app context and database session. The test's own ``app`` context is
separate, so commit what the browser must see before it looks. The test's own session
begins deferred (read-only) transactions, so its reads never block the server's writes;
call ``db.session.rollback()`` before reading what the browser changed.

``page`` is a fresh browser context per test. Any console error or uncaught page error
(CSP violations, JS errors) fails the test; on failure a screenshot goes to
``test-artifacts/<test name>.png``.

Chromium is never downloaded: it is ``$CHROMIUM_PATH`` or ``/usr/bin/chromium``. Without
it these tests are skipped, unless ``CRMLITE_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Locator,
    Page,
    expect,
    sync_playwright,
)
from werkzeug.serving import make_server

from tests.conftest import PASSWORD

HERE = Path(__file__).resolve().parent
DEFAULT_TIMEOUT_MS = 5_000
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser is a browser test (``-m "not browser"`` skips them)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item (``item.rep_call``) for the fixtures' teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def live_server(base_app: Flask) -> Iterator[str]:
    """The app served on 127.0.0.1 at a free port; yields the base URL (no trailing slash)."""
    server = make_server("127.0.0.1", 0, base_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        message = (
            f"no Chromium at {path}: install it (Debian: apt-get install chromium) "
            "or set CHROMIUM_PATH"
        )
        if os.environ.get("CRMLITE_REQUIRE_BROWSER") == "1":
            pytest.fail(
                message + " (CRMLITE_REQUIRE_BROWSER=1: browser tests must run)", pytrace=False
            )
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = _chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _is_favicon_miss(url: str) -> bool:
    """Chromium may still ask for /favicon.ico on its own (pages link favicon.svg): that
    404 is the browser's doing, not the page's."""
    return urlsplit(url).path == "/favicon.ico"


def _artifact_name(node_name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", node_name).strip("_") or "test"


@pytest.fixture()
def page(
    app: Flask, live_server: str, browser: Browser, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh page (own cookies) on the live server; relative URLs work in ``goto``."""
    context = browser.new_context(base_url=live_server, viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        where = message.location
        if message.type == "error" and not _is_favicon_miss(where.get("url", "")):
            problems.append(
                f"console error: {message.text} "
                f"({where.get('url', '?')}:{where.get('lineNumber', '?')})"
            )

    def on_page_error(error: Error) -> None:
        problems.append(f"page error: {error.name}: {error.message}")

    def watch(new_page: Page) -> None:
        new_page.on("console", on_console)
        new_page.on("pageerror", on_page_error)

    context.on("page", watch)  # pop-ups too
    the_page = context.new_page()
    try:
        yield the_page
    finally:
        report = getattr(request.node, "rep_call", None)
        failed = report is not None and report.failed
        if (failed or problems) and not the_page.is_closed():
            artifacts = request.config.rootpath / "test-artifacts"
            artifacts.mkdir(exist_ok=True)
            # A screenshot is a courtesy: never hide the real failure behind its own error.
            with contextlib.suppress(Error):
                the_page.screenshot(
                    path=artifacts / f"{_artifact_name(request.node.name)}.png", full_page=True
                )
        context.close()
    if problems:
        pytest.fail("the browser reported errors:\n" + "\n".join(problems), pytrace=False)


def sign_in_page(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Sign in through the real form, as a person would: by the labels, then the button."""
    page.goto(f"{base_url}/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


# The classes htmx gives swapped-in content until it has settled (at once: base.html sets no
# settle delay; htmx's default is 20 ms).
UNSETTLED = re.compile(r"\bhtmx-(added|settling|swapping)\b")


def settled(swapped: Locator) -> None:
    """Wait until htmx has readied what it swapped in (its forms and buttons live): with a
    settle delay, a test that types at once would meet a form that still submits without
    htmx. The app settles at once, so this only guards against the delay coming back."""
    expect(swapped).not_to_have_class(UNSETTLED)
