"""WCAG 2.1 AA on every page and every open state, checked by axe-core inside the real page.

axe-core is vendored (``tests/browser/vendor/axe-core-<version>.min.js``, MPL-2.0; see
``tests/browser/vendor/README.md``), so nothing is installed for it. It runs under the
page's own Content-Security-Policy, which is not bypassed (no ``bypass_csp``):

- ``page.add_script_tag(path=...)`` would not do: Playwright inlines the file's text into a
  ``<script>`` element, which ``script-src 'self'`` blocks (``test_axe_runs_under_the_csp``
  shows the page refusing such a tag).
- ``page.evaluate(source)`` hands the text to the DevTools protocol (``Runtime.evaluate``)
  in the page's main world. Scripts the debugger evaluates are not subject to the page's
  ``script-src`` (the CSP governs what the *page* may load or evaluate), and axe itself
  never calls ``eval`` or ``new Function``: a ``securitypolicyviolation`` listener stays
  silent while axe runs, and the tests' console watch (``axe_page``) would fail them on any
  CSP report.

The pages come from the URL map: every GET route, with a representative record for its
arguments (the signed-in member's own where records have owners), as each role. Routes that
are not pages are listed in ``NOT_PAGES`` with the reason, and htmx fragments in
``FRAGMENTS`` with the state that shows them inside their page; a new route that is neither
a page nor listed fails ``test_every_page``. A role's refused page (403) is the error page,
checked once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Response, expect
from sqlalchemy import select
from werkzeug.routing import Rule

from crmlite.demo import DEMO_PASSWORD, load_demo
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    Campaign,
    CampaignEmail,
    Company,
    Contact,
    ForecastLine,
    ImportJob,
    MarketingList,
    Member,
    Opportunity,
    SalesStage,
    Track,
    TrackStep,
    WebhookSubscription,
)
from crmlite.services import password_resets, tracking
from tests.browser.conftest import DEFAULT_TIMEOUT_MS, VIEWPORT, sign_in_page
from tests.test_permissions_matrix import build_world

AXE_VERSION = "4.14.1"
AXE = Path(__file__).resolve().parent / "vendor" / f"axe-core-{AXE_VERSION}.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ROLES = {"admin": "nick@example.com", "manager": "cory@example.com", "rep": "manny@example.com"}

# GET routes that are not pages a person reads, by endpoint (or endpoint prefix): why.
NOT_PAGES = {
    "api.": "the JSON API",
    "public.pixel": "a 1×1 GIF",
    "public.click": "a redirect to the e-mail's link",
    "documents.download": "a file download (the stored document)",
    "calendar.feed": "an iCalendar feed",
    "email_campaigns.preview": (
        "the campaign author's own e-mail HTML, shown in a sandboxed frame with no script; "
        "the e-mail page around it is checked"
    ),
    "activities.dismiss": "an empty answer (a skipped question goes away)",
    "dashboard.print_css": "a stylesheet (the printed dashboard's running header)",
}
# Rules whose address ends in a download's extension: CSV, XLSX, PDF, ZIP, ICS.
DOWNLOAD = re.compile(r"\.(<fmt>|csv|pdf|zip|ics)$")

# htmx fragments, by endpoint: the state in this module that shows each inside its page.
FRAGMENTS = {
    "activities.due_soon": "every page (the Due-soon strip)",
    "activities.edit": "test_open_states_as: the activity panel",
    "activities.new": "test_open_states_as: the new-activity panel",
    "activities.show": "test_open_states_as: the activity panel",
    "board.card": "test_every_page: the board",
    "board.changes": "test_every_page: the board (live changes)",
    "board.more": "test_every_page: the board (load more)",
    "board.move_form": "test_open_states_as: the move form",
    "board.new": "test_open_states_as: the new-opportunity form",
    "board.new_cancelled": "test_every_page: the board",
    "email_campaigns.search": "test_every_page: the contact group page",
    "email_campaigns.send_progress": "test_every_page: the e-mail page",
    "imports.progress": "test_every_page: the import page",
    "opportunities.activities_section": "test_every_page: the opportunity page",
    "opportunities.contact_options": "test_every_page: the opportunity page",
    "opportunities.edit_fields": "test_open_states_as: the opportunity's fields form",
    "opportunities.edit_line": "test_open_states_as: a forecast line's form",
    "opportunities.fields": "test_every_page: the opportunity page",
    "opportunities.line_defaults": "test_every_page: the opportunity page",
    "opportunities.lines": "test_every_page: the opportunity page",
    "checklists.section": "test_every_page: the opportunity page",
    "time_expenses.section": "test_every_page: the opportunity page",
    "documents.section": "test_every_page: the opportunity page",
    "points.member_summary": "test_every_page: the member's points page",
    "campaigns.sub_types": "test_every_page: the campaign form",
}


# ---------------------------------------------------------------- axe in the page


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    nodes: tuple[str, ...]  # "selector: what fails"

    def describe(self) -> str:
        lines = [f"  {self.rule} ({self.impact}, {len(self.nodes)}×): {self.help}"]
        lines += [f"    {node}" for node in self.nodes[:4]]
        if len(self.nodes) > 4:
            lines.append(f"    … and {len(self.nodes) - 4} more")
        return "\n".join(lines)


_RUN_AXE = """async (tags) => {
  const heard = [];
  const listen = (event) => heard.push(event.violatedDirective + " " + event.blockedURI);
  document.addEventListener("securitypolicyviolation", listen);
  try {
    const result = await axe.run(document, {
      runOnly: {type: "tag", values: tags},
      resultTypes: ["violations"],
      iframes: false,
    });
    return {
      csp: heard,
      violations: result.violations.map((v) => ({
        rule: v.id,
        impact: v.impact || "",
        help: v.help,
        nodes: v.nodes.map((n) => n.target.join(" ") + ": " +
          (n.failureSummary || "").replace(/\\s+/g, " ").trim()),
      })),
    };
  } finally {
    document.removeEventListener("securitypolicyviolation", listen);
  }
}"""


def axe_violations(page: Page) -> list[Violation]:
    """axe's WCAG 2.1 A/AA violations on the page as it is now (axe is loaded once a
    document, by the DevTools protocol: see the module docstring)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found = page.evaluate(_RUN_AXE, WCAG_21_AA)
    assert found["csp"] == [], f"axe tripped the page's CSP: {found['csp']}"
    return [
        Violation(v["rule"], v["impact"], v["help"], tuple(v["nodes"])) for v in found["violations"]
    ]


class Findings:
    """Violations by page or state, reported all together at the end."""

    def __init__(self) -> None:
        self.by_place: dict[str, list[Violation]] = {}

    def check(self, page: Page, place: str) -> None:
        violations = axe_violations(page)
        if violations:
            self.by_place[place] = violations

    def report(self) -> str:
        return "\n".join(
            f"{place}:\n" + "\n".join(v.describe() for v in violations)
            for place, violations in self.by_place.items()
        )

    def assert_none(self) -> None:
        assert not self.by_place, "WCAG 2.1 AA violations (axe-core):\n" + self.report()


# ---------------------------------------------------------------- the data


@dataclass
class Team:
    members: dict[str, int]  # role -> member id
    values: dict[str, dict[str, Any]]  # role -> URL argument -> value


def _first(model: Any, *where: Any) -> Any:
    return db.session.scalars(select(model).where(*where).order_by(model.id)).first()


def _values_for(member: Member) -> dict[str, Any]:
    """A representative record for each URL argument: the member's own where records have
    an owner (so a rep sees the page, not a refusal)."""
    deal = _first(Opportunity, Opportunity.account_manager_id == member.id)
    line = _first(ForecastLine, ForecastLine.opportunity_id == deal.id) or _first(ForecastLine)
    company = _first(Company, Company.account_manager_id == member.id)
    contact = _first(Contact, Contact.company_id == company.id) or _first(Contact)
    activity = _first(Activity, Activity.assigned_to_id == member.id, Activity.email_from == "")
    captured = _first(Activity, Activity.email_from != "")
    track = _first(Track)
    campaign = _first(Campaign)
    return {
        "opportunity_id": deal.id,
        "line_id": line.id,
        "company_id": company.id,
        "contact_id": contact.id,
        "activity_id": activity.id,
        "captured_id": captured.id,
        "member_id": member.id,
        "year": datetime.now(UTC).year,
        "campaign_id": campaign.id,
        "email_id": _first(CampaignEmail).id,
        "list_id": _first(MarketingList).id,
        "job_id": _first(ImportJob).id,
        "track_id": track.id,
        "step_id": _first(TrackStep, TrackStep.track_id == track.id).id,
        "webhook_id": _first(WebhookSubscription).id,
        "stage_id": _first(SalesStage).id,
        "place_kind": "locations",
        "kind": "pipeline",
    }


@pytest.fixture()
def team(app: Flask, make_opportunity: Any) -> Team:
    """The demo team (Nick admin, Cory manager, Manny rep) with its deals and calendar, and
    one of everything else a route names (an import, a webhook, a track step...)."""
    load_demo()
    db.session.commit()
    build_world("admin")  # one of every record a route takes (tests.test_permissions_matrix)
    ids = {
        role: db.session.scalars(select(Member.id).where(Member.email == email)).one()
        for role, email in ROLES.items()
    }
    values = {role: _values_for(db.session.get(Member, ids[role])) for role in ROLES}
    for role, member_id in ids.items():  # a deal with no next step yet, to move around
        deal = make_opportunity(name=f"Axe check {role}", account_manager_id=member_id)
        db.session.add(ForecastLine(opportunity_id=deal.id, revenue=Decimal("10.00")))
        values[role]["fresh_deal"] = deal.id
    db.session.commit()
    return Team(ids, values)


def _public_tokens(team: Team) -> dict[str, str]:
    campaign = db.session.scalars(
        select(Campaign).where(Campaign.name == "Matrix campaign 1")
    ).one()
    tracking.switch_form(campaign, is_open=True)
    contact = db.session.get(Contact, team.values["admin"]["contact_id"])
    nick = db.session.get(Member, team.members["admin"])
    manny = db.session.get(Member, team.members["rep"])
    reset = password_resets.issue_reset_token(manny, by=nick, now=datetime.now(UTC))
    db.session.commit()
    return {
        "public.form": tracking.form_token(campaign),
        "public.thanks": tracking.form_token(campaign),
        "public.unsubscribe": tracking.contact_token(contact),
        "auth.reset_password": reset,
    }


# ---------------------------------------------------------------- the pages


def _not_a_page(rule: Rule) -> str | None:
    if DOWNLOAD.search(rule.rule):
        return "a download"
    for prefix, reason in NOT_PAGES.items():
        if rule.endpoint == prefix or (prefix.endswith(".") and rule.endpoint.startswith(prefix)):
            return reason
    return None


def page_urls(app: Flask, values: dict[str, Any], tokens: dict[str, str]) -> list[tuple[str, str]]:
    """(endpoint, path) of every GET route that is a page or a listed fragment."""
    found = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
                continue
            if _not_a_page(rule):
                continue
            arguments = {}
            for argument in rule.arguments:
                if argument == "token":
                    arguments[argument] = tokens[rule.endpoint]
                elif argument == "activity_id" and rule.endpoint.startswith("capture."):
                    arguments[argument] = values["captured_id"]
                else:
                    arguments[argument] = values[argument]
            found.append((rule.endpoint, url_for(rule.endpoint, **arguments)))
    return found


@pytest.fixture()
def unwatched_page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A page without a console watch: for the test that makes the CSP refuse a script on
    purpose."""
    context = browser.new_context(base_url=live_server, viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


# Pages these tests open on purpose though they answer with an error status: a refused page
# (403), a form showing its errors (400), a closed web form (410). Chromium logs each as
# "Failed to load resource"; any other console error fails the test, as in conftest's page.
EXPECTED_STATUSES = {400, 403, 410}


@pytest.fixture()
def axe_page(unwatched_page: Page) -> Iterator[Page]:
    page = unwatched_page
    refused_documents: set[str] = set()
    problems: list[str] = []

    def on_response(response: Response) -> None:
        if response.request.resource_type == "document" and response.status in EXPECTED_STATUSES:
            refused_documents.add(response.url)

    def on_console(message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if message.type != "error" or urlsplit(url).path == "/favicon.ico":
            return
        if message.text.startswith("Failed to load resource") and url in refused_documents:
            return
        problems.append(f"console error: {message.text} ({url})")

    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    yield page
    assert problems == [], "the browser reported errors:\n" + "\n".join(problems)


def _is_full_page(html: str) -> bool:
    return "<html" in html[:2000].lower()


# Each kind of element a page shows: tag, classes, role and ARIA attributes (not its text
# or how many there are).
_ELEMENT_KINDS = """() => Array.from(new Set(Array.from(document.body.querySelectorAll("*"), (el) =>
  [el.tagName, el.className, el.getAttribute("role") || "",
   ...el.getAttributeNames().filter((name) => name.startsWith("aria-"))].join(" "))))"""


@dataclass
class Sweep:
    """Every page, as one role after the other, in one browser page."""

    findings: Findings
    kinds: dict[str, set[str]]  # endpoint -> the kinds of element already checked on it
    checked: int = 0
    same_as_before: int = 0
    refused: int = 0
    error_page_checked: bool = False

    def visit(self, page: Page, endpoint: str, url: str, who: str) -> str:
        """Check the page unless an earlier role's view of it showed every kind of element
        this one does (a rep's list of their own deals is the admin's list, shorter);
        returns "fragment" for an htmx fragment. A plain request (the page's cookies, no
        rendering) tells a refusal or a fragment before the page is opened."""
        probe = page.request.get(url)
        assert probe.status < 500, f"{url}: {probe.status}"
        answer = "page"
        if probe.status == 403:
            self.refused += 1
            if self.error_page_checked:
                return "refused"
            self.error_page_checked = True
            answer = "refused"
        elif not _is_full_page(probe.text()):
            return "fragment"
        response = page.goto(url)
        assert response is not None and response.status == probe.status, url
        kinds = set(page.evaluate(_ELEMENT_KINDS))
        if kinds <= self.kinds.get(endpoint, set()):
            self.same_as_before += 1
            return answer
        self.kinds.setdefault(endpoint, set()).update(kinds)
        self.findings.check(page, f"{url} ({who})")
        self.checked += 1
        return answer


def test_every_page(app: Flask, team: Team, live_server: str, axe_page: Page) -> None:
    """Signed out, then as admin, manager and rep: every page of the URL map."""
    page = axe_page
    tokens = _public_tokens(team)
    sweep = Sweep(Findings(), {})
    started = time.monotonic()
    sweep.visit(page, "auth.login", "/sign-in", "signed out")
    for endpoint, url in page_urls(app, team.values["admin"], tokens):
        if endpoint in tokens:
            sweep.visit(page, endpoint, url, "signed out")
    fragments: set[str] = set()
    listed_pages: set[str] = set()  # in FRAGMENTS, yet pages
    for role, email in ROLES.items():
        page.context.clear_cookies()
        sign_in_page(page, live_server, email, DEMO_PASSWORD)
        expect(page.get_by_role("heading", level=1).first).to_be_visible()
        for endpoint, url in page_urls(app, team.values[role], tokens):
            if endpoint in tokens or endpoint == "auth.login":
                continue
            what = sweep.visit(page, endpoint, url, role)
            if what == "fragment":
                fragments.add(endpoint)
            elif what == "page" and endpoint in FRAGMENTS:
                listed_pages.add(endpoint)
    print(
        f"\n{sweep.checked} pages checked, {sweep.same_as_before} as an earlier role showed "
        f"them, {sweep.refused} refused, {len(fragments)} fragments: "
        f"{time.monotonic() - started:.1f}s"
    )
    sweep.findings.assert_none()
    unlisted = fragments - set(FRAGMENTS)
    assert not unlisted, f"fragments no state here checks (add them to FRAGMENTS): {unlisted}"
    assert not listed_pages, f"listed in FRAGMENTS but pages (checked here): {listed_pages}"


# ---------------------------------------------------------------- the open states


def _board_states(page: Page, findings: Findings, role: str, deal: int) -> None:
    page.goto(f"/board/?q=Axe+check+{role}")
    card = page.locator(f"#card-{deal}")
    expect(page.locator(".board-card")).to_have_count(1)
    card.locator(".card-menu summary").click()
    expect(card.locator(".card-move button").first).to_be_focused()
    findings.check(page, "board: a card's menu open")

    def move_form_to(stage_name: str) -> None:
        if not card.locator("select").count():
            if not card.locator(".card-move").count():
                card.locator(".card-menu summary").click()
            card.get_by_role("button", name=re.compile("Move to")).click()
        card.locator("select").select_option(label=stage_name)
        card.get_by_role("button", name="Move", exact=True).click()

    card.get_by_role("button", name=re.compile("Move to")).click()
    expect(card.locator("select")).to_be_visible()
    findings.check(page, "board: the move form")
    move_form_to("Lost")
    expect(card.get_by_role("button", name="Cancel")).to_be_visible()
    findings.check(page, "board: the Lost prompt")
    card.locator("form button[type=submit]").first.click()  # no reason given
    expect(card.locator(".field-error").first).to_be_visible()
    findings.check(page, "board: the Lost prompt with its error")
    card.get_by_role("button", name="Cancel").click()
    expect(card.locator(".board-prompt")).to_have_count(0)
    move_form_to("Won")
    expect(card.get_by_role("button", name="Cancel")).to_be_visible()
    findings.check(page, "board: the Won prompt")
    card.get_by_role("button", name="Cancel").click()
    move_form_to("1st Appointment")
    dialog = page.locator("dialog.next-step-dialog")
    expect(dialog).to_be_visible()
    findings.check(page, "board: the next-step question")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    card.locator(".card-menu summary").click()
    card.get_by_role("button", name=re.compile("Activity")).click()
    panel = page.locator("#board-panel form")
    expect(panel).to_be_visible()
    findings.check(page, "board: the activity panel")
    panel.get_by_label("Subject").fill("")
    panel.get_by_role("button", name="Save").click()
    expect(page.locator("#board-panel .field-error").first).to_be_visible()
    findings.check(page, "board: the activity panel with errors")
    page.get_by_role("button", name="New opportunity").click()
    new = page.locator("#board-panel form")
    expect(new.get_by_role("button", name="Add to Prospect")).to_be_visible()
    findings.check(page, "board: the new-opportunity form")
    new.get_by_role("button", name="Add to Prospect").click()
    expect(page.locator("#board-panel .field-error").first).to_be_visible()
    findings.check(page, "board: the new-opportunity form with errors")


def _calendar_states(page: Page, findings: Findings) -> None:
    page.goto("/calendar/")
    page.locator(".cal-block").first.click()
    panel = page.locator("#calendar-panel-body form")
    expect(panel.first).to_be_visible()
    findings.check(page, "calendar week: an activity open in the panel")
    page.locator(".cal-slot.on-hour").nth(3).click()
    expect(page.locator("#calendar-panel-body").get_by_label("Subject")).to_have_value("")
    page.locator("#calendar-panel-body").get_by_role("button", name="Save").click()
    expect(page.locator("#calendar-panel-body .field-error").first).to_be_visible()
    findings.check(page, "calendar week: the new-activity panel with errors")
    page.goto("/calendar/month")
    expect(page.locator(".cal-mday").first).to_be_visible()
    findings.check(page, "calendar month")


def _other_states(page: Page, findings: Findings, deal: int) -> None:
    page.goto("/activities/")
    page.get_by_role("button", name="Log an activity").click()
    form = page.locator("#new-activity form")
    expect(form).to_be_visible()
    findings.check(page, "activities: the new-activity form")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#new-activity .field-error").first).to_be_visible()
    findings.check(page, "activities: the new-activity form with errors")
    page.goto(f"/opportunities/{deal}")
    page.locator("#opportunity-fields").get_by_role("link", name="Edit").click()
    expect(page.locator("#opportunity-fields form")).to_be_visible()
    findings.check(page, "opportunity: the details form")
    page.locator("#opportunity-lines").get_by_role("link", name="Edit").first.click()
    expect(page.locator("#opportunity-lines form").first).to_be_visible()
    findings.check(page, "opportunity: a forecast line's form")
    page.goto("/companies/new")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field-error").first).to_be_visible()
    findings.check(page, "new company with errors")


def _signed_out_states(page: Page, findings: Findings, form_token: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("E-mail").fill("nobody@example.com")
    page.get_by_label("Password", exact=True).fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    findings.check(page, "sign-in with its error")
    page.goto(f"/t/f/{form_token}")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".field-error, [role=alert]").first).to_be_visible()
    findings.check(page, "public web form with errors")


@pytest.mark.parametrize("role", list(ROLES))
def test_open_states_as(
    role: str, app: Flask, team: Team, live_server: str, axe_page: Page
) -> None:
    """The board's menu, move form and prompts, the activity panels, the calendar with a
    panel open, forms showing their errors, the public web form: each as it is open."""
    page = axe_page
    findings = Findings()
    if role == "admin":
        _signed_out_states(page, findings, _public_tokens(team)["public.form"])
    sign_in_page(page, live_server, ROLES[role], DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    deal = team.values[role]["fresh_deal"]
    _board_states(page, findings, role, deal)
    _calendar_states(page, findings)
    _other_states(page, findings, deal)
    findings.assert_none()


def test_axe_runs_under_the_csp(app: Flask, live_server: str, unwatched_page: Page) -> None:
    """The page's CSP is in force (an inline script, as ``add_script_tag`` would add, is
    refused), and axe still runs there, loaded through the DevTools protocol, tripping
    nothing."""
    page = unwatched_page
    response = page.goto("/sign-in")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
    page.evaluate(
        """() => { window.heard = [];
        document.addEventListener("securitypolicyviolation",
          (event) => window.heard.push(event.violatedDirective)); }"""
    )
    with pytest.raises(Error):
        page.add_script_tag(content="window.injected = true;")
    assert page.evaluate("() => window.injected") is None
    assert page.evaluate("() => window.heard") == ["script-src-elem"]
    assert any("Content Security Policy" in text for text in refused), refused
    assert axe_violations(page) == []
    assert page.evaluate("() => axe.version") == AXE_VERSION
    assert page.evaluate("() => window.heard") == ["script-src-elem"]  # nothing new


# The focused element's ring against what lies around it: the first opaque background of
# its ancestors (the ring is drawn 2px outside the element, over its parent).
_FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => [r, g, b].map((c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  }).reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  let around = el.parentElement;
  let background = null;
  while (around) {
    const colour = rgb(getComputedStyle(around).backgroundColor);
    if (colour.length === 3 || (colour.length === 4 && colour[3] === 1)) {
      background = colour.slice(0, 3);
      break;
    }
    around = around.parentElement;
  }
  background = background || [255, 255, 255];
  const ring = rgb(style.outlineColor).slice(0, 3);
  const [light, dark] = [luminance(ring), luminance(background)].sort((a, b) => b - a);
  return {
    what: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " " +
      (el.getAttribute("aria-label") || el.textContent || "").trim().slice(0, 40),
    width: parseFloat(style.outlineWidth) || 0,
    visible: style.outlineStyle !== "none",
    ring: style.outlineColor,
    background: "rgb(" + background.join(", ") + ")",
    ratio: (light + 0.05) / (dark + 0.05),
  };
}"""


def test_the_focus_ring_stands_out_on_every_background(
    app: Flask, team: Team, live_server: str, page: Page
) -> None:
    """WCAG 1.4.11: the keyboard focus ring is at least 3:1 against the background around
    it, on the dark header, white panels, the grey page, the calendar's tinted blocks."""
    sign_in_page(page, live_server, ROLES["admin"], DEMO_PASSWORD)
    deal = team.values["admin"]["opportunity_id"]
    weak: list[str] = []
    seen = 0
    for url in ("/board/", "/calendar/", f"/opportunities/{deal}", "/dashboard/", "/setup/"):
        page.goto(url)
        for _ in range(45):
            page.keyboard.press("Tab")
            ring = page.evaluate(_FOCUS_RING)
            if ring is None or not ring["visible"] or ring["width"] < 2:
                continue
            seen += 1
            if ring["ratio"] < 3:
                weak.append(
                    f"{url} {ring['what']}: {ring['ring']} on {ring['background']} "
                    f"= {ring['ratio']:.2f}:1"
                )
    assert seen > 100, f"only {seen} focus rings seen"
    assert weak == [], "focus ring under 3:1:\n" + "\n".join(weak)
