"""Nothing anyone types can break crmlite (issue #13).

On the demo team (plus a marketing list, a sent campaign e-mail and a track enrolment), as an
admin, a manager, a rep and signed out, this sends hostile values to every route of the URL
map and to every field of every form the pages render:

- path ids that are not ids or do not fit an id column, and hostile query strings on every
  GET route (the parameter names are read from the views' source, so a new filter is fuzzed
  without being listed here);
- in each form, each field in turn replaced by hostile values of its kind (numbers with
  exponents, NaN, Infinity, out of range, unicode digits; NUL and control characters, 10 kB
  strings, script tags; impossible dates);
- the JSON API (``/api/v1``) with the role's personal access token: the same hostile paths
  and query strings, and every field of every request body the OpenAPI document describes
  replaced in turn by hostile values, as strings and as other JSON types, with a current
  If-Match so the body is really read.

It asserts that no response is a 5xx, that a refused request (4xx, or a form shown again with
errors) changed nothing in the database, that no stored amount is non-finite or out of range
and no text holds a NUL, and that Home, the Board, the dashboard and the points pages still
render for every role afterwards.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Numeric, String, Text, func, select
from werkzeug.routing import Rule

from crmlite.extensions import db, limiter
from crmlite.models import (
    Campaign,
    CampaignEmail,
    Contact,
    EmailSend,
    MarketingList,
    MarketingListMember,
    Member,
    Track,
    TrackEnrollment,
)
from crmlite.services import api_tokens, money, tracking
from tests.conftest import RequestClient, sign_in

pytestmark = pytest.mark.fuzz

WEB = Path(__file__).resolve().parent.parent / "crmlite" / "web"

NUMBERS = ["Infinity", "NaN", "sNaN", "1e20", "12e3", "-1", "0.001", "2147483648", "²"]
TEXTS = ["a\x00b\x01\x1b[31m", "<script>alert(1)</script>", "x" * 10_000]
DATES = ["2026-02-30", "99999-01-01", "2026-13-01", "25:61"]
BAD_IDS = ["0", "2147483648", "99999999999999999999", "-1", "²", "1e3", "x"]
# Query-string values: ids, numbers, months, years, dates and free text at once.
QUERY_VALUES = ["²", "2147483648", "1e309", "2026-02-30", "a\x00b", "x" * 2000]

# Never submitted: signing out (here or everywhere) ends the run's session (they are tested
# in test_auth and test_sessions).
SKIPPED_ENDPOINTS = {
    "auth.logout",
    "auth.sign_out_everywhere",
    "setup.member_sign_out_everywhere",
    "static",
}
# How many distinct forms are fuzzed per endpoint (the board renders one per card).
FORMS_PER_ENDPOINT = 1


def query_parameters() -> list[str]:
    """Every query-string parameter a view reads, found in the web layer's source."""
    names: set[str] = set()
    pattern = re.compile(
        r"""args(?:\.get|\.getlist)?\(\s*["'](\w+)["']|args\[\s*["'](\w+)["']\]|\(\s*args,\s*["'](\w+)["']"""
        r"""|_arg\(\s*["'](\w+)["']"""
    )
    for path in WEB.rglob("*.py"):
        for match in pattern.finditer(path.read_text()):
            names.update(name for name in match.groups() if name)
    return sorted(names)


# ---------------------------------------------------------------- reading forms from pages


@dataclass
class Form:
    method: str
    action: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # name, kind, value
    htmx: bool = False

    def data(self) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {}
        for name, _kind, value in self.fields:
            values.setdefault(name, []).append(value)
        return values


class FormParser(HTMLParser):
    """The forms of a page (plain and htmx), with their fields' current values, and the
    CSRF token htmx sends from <body>."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.csrf = ""
        self._form: Form | None = None
        self._select: tuple[str, list[str], list[str]] | None = None
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body" and "hx-headers" in a:
            match = re.search(r'"X-CSRFToken"\s*:\s*"([^"]+)"', a["hx-headers"])
            self.csrf = match.group(1) if match else ""
        if tag == "form":
            for verb in ("hx-post", "hx-put", "hx-patch", "hx-delete"):
                if verb in a:
                    self._form = Form(verb[3:].upper(), a[verb] or self.page_url, htmx=True)
                    break
            else:
                self._form = Form(a.get("method", "get").upper(), a.get("action") or self.page_url)
            return
        form = self._form
        if form is None or "name" not in a or "disabled" in a:
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                form.fields.append((a["name"], "choice-unchecked", a.get("value", "on")))
                return
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            form.fields.append((a["name"], kind, a.get("value", "")))
        elif tag == "select":
            self._select = (a["name"], [], [])
        elif tag == "textarea":
            self._textarea = (a["name"], [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._form is not None:
            self._form.fields = [f for f in self._form.fields if f[1] != "choice-unchecked"]
            self.forms.append(self._form)
            self._form = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, options, selected = self._select
            value = (selected or options or [""])[0]
            self._form.fields.append((name, "select", value))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea[0], "textarea", "".join(self._textarea[1])))
            self._textarea = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    # <option> values of the open <select>
    def unknown_decl(self, data: str) -> None:  # pragma: no cover - not used by our pages
        pass


class OptionCollector(FormParser):
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "option" and self._select is not None:
            a = {k: v or "" for k, v in attrs}
            self._select[1].append(a.get("value", ""))
            if "selected" in a:
                self._select[2].append(a.get("value", ""))
            return
        super().handle_starttag(tag, attrs)


def forms_of(html: str, page_url: str) -> tuple[list[Form], str]:
    parser = OptionCollector(page_url)
    parser.feed(html)
    return parser.forms, parser.csrf


def hostile_values(name: str, kind: str) -> list[str]:
    lowered = name.lower()
    if name == "csrf_token":
        return []
    if kind in ("date", "time", "month", "datetime-local", "week") or re.search(
        r"(^|_)(date|on|at|day|start|end|when|month)$", lowered
    ):
        return DATES
    if kind in ("number", "select", "hidden") or re.search(
        r"(amount|revenue|cost|quota|points|count|probability|minutes|days|offset|position|"
        r"version|year|page|months|_id|^id)$",
        lowered,
    ):
        return NUMBERS
    return TEXTS


# ---------------------------------------------------------------- the database's state


def fingerprint() -> tuple[Any, ...]:
    """Row counts and a digest of every table, in one statement: equal fingerprints mean
    nothing was added, removed or edited (edits bump a version or an updated_at)."""
    db.session.rollback()
    parts: list[Any] = []
    for table in db.metadata.sorted_tables:
        aggregates: list[Any] = [func.count()]
        for column in table.columns:
            if column.name == "version":
                aggregates.append(func.coalesce(func.sum(column), 0))
            elif column.name in ("updated_at", "closed_at", "ended_at"):
                aggregates.append(func.count(column))
                aggregates.append(func.max(column))
            elif column.name == "status":
                aggregates.append(func.count(func.distinct(column)))
        parts += [select(a).select_from(table).scalar_subquery() for a in aggregates]
    row = db.session.execute(select(*parts)).one()
    db.session.rollback()
    return tuple(row)


def stored_values_are_sound() -> list[str]:
    """Amounts finite and in range, text without NUL, in every table."""
    problems: list[str] = []
    db.session.rollback()
    sqlite = db.engine.dialect.name == "sqlite"
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, Numeric):
                for (value,) in db.session.execute(select(column).where(column.is_not(None))):
                    number = Decimal(str(value))
                    if not number.is_finite() or abs(number) >= money.LIMIT:
                        problems.append(f"{table.name}.{column.name} = {value}")
            elif isinstance(column.type, String | Text) and sqlite:  # PostgreSQL refuses NULs
                found = db.session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(func.instr(column, func.char(0)) > 0)
                )
                if found:
                    problems.append(f"{table.name}.{column.name} holds a NUL")
    db.session.rollback()
    return problems


# ---------------------------------------------------------------- the fuzzer


@dataclass
class Fuzzer:
    app: Flask
    client: FlaskClient
    ids: dict[str, str]
    role: str
    sent: int = 0
    failures: list[str] = field(default_factory=list)
    csrf: str = ""
    api_secret: str | None = None  # the role's personal access token for /api/v1

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.sent += 1
        headers = kwargs.pop("headers", {})
        if self.csrf:
            headers.setdefault("X-CSRFToken", self.csrf)
        if self.api_secret and url.startswith("/api/"):
            headers.setdefault("Authorization", f"Bearer {self.api_secret}")
        try:
            response = self.client.open(url, method=method, headers=headers, **kwargs)
        except Exception as error:  # the test app re-raises what would be a 500
            self.failures.append(f"{self.role}: {method} {url[:200]} -> {error!r:.300}")
            return _Failed()
        if response.status_code >= 500:
            self.failures.append(f"{self.role}: {method} {url[:200]} -> {response.status_code}")
        return response

    def fill(self, rule: Rule, override: dict[str, str] | None = None) -> str | None:
        values: dict[str, Any] = {}
        for argument in rule.arguments:
            if override and argument in override:
                values[argument] = override[argument]
                continue
            value = value_for(self.ids, rule.rule, argument)
            if value is None:
                return None
            values[argument] = value
        try:
            with self.app.test_request_context():
                from flask import url_for

                return url_for(rule.endpoint, **values)
        except Exception:  # a value the converter refuses: the route cannot be reached with it
            return None

    def pages(self) -> Iterator[tuple[Rule, str]]:
        for rule in sorted(self.app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint in SKIPPED_ENDPOINTS or "GET" not in (rule.methods or ()):
                continue
            url = self.fill(rule)
            if url is not None:
                yield rule, url

    def fuzz_paths(self) -> None:
        for rule in self.app.url_map.iter_rules():
            if rule.endpoint in SKIPPED_ENDPOINTS:
                continue
            for argument in rule.arguments:
                for bad in BAD_IDS:
                    url = self._raw_url(rule, argument, bad)
                    if url is None:
                        continue
                    for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                        self.request(method, url)

    def _raw_url(self, rule: Rule, argument: str, bad: str) -> str | None:
        """The rule's path with ``bad`` in place of one argument, others real."""
        path = rule.rule
        for name in rule.arguments:
            value = bad if name == argument else value_for(self.ids, rule.rule, name)
            if value is None:
                return None
            path = re.sub(r"<(?:[^:<>]+:)?" + re.escape(name) + r">", value, path)
        return path

    def fuzz_queries(self, parameters: list[str], values: list[str]) -> None:
        """Every parameter at once set to each value, as a page and as an htmx fragment
        (slow documents — PDFs — get two values)."""
        for _rule, url in self.pages():
            for n, value in enumerate(values[:2] if url.endswith(".pdf") else values):
                query = urlencode({name: value for name in parameters})
                self.request("GET", f"{url}?{query}")
                if n < 2:
                    self.request("GET", f"{url}?{query}", headers={"HX-Request": "true"})

    def fuzz_forms(self, page_urls: list[str]) -> None:
        seen: dict[str, int] = {}
        for page_url in page_urls:
            response = self.client.get(page_url)
            if response.status_code != 200 or "text/html" not in response.content_type:
                continue
            forms, csrf = forms_of(response.get_data(as_text=True), page_url)
            self.csrf = csrf or self.csrf
            for form in forms:
                if form.method == "GET":
                    continue
                endpoint = self._endpoint(form)
                if endpoint is None or endpoint in SKIPPED_ENDPOINTS:
                    continue
                if seen.get(endpoint, 0) >= FORMS_PER_ENDPOINT:
                    continue
                seen[endpoint] = seen.get(endpoint, 0) + 1
                self.fuzz_form(form)

    def _endpoint(self, form: Form) -> str | None:
        adapter = self.app.url_map.bind("localhost")
        try:
            endpoint, _ = adapter.match(urlsplit(form.action).path, method=form.method)
        except Exception:
            return None
        return str(endpoint)

    def fuzz_form(self, form: Form) -> None:
        names = {name for name, _kind, _value in form.fields}
        for name, kind, _value in form.fields:
            for bad in hostile_values(name, kind):
                data = form.data()
                data[name] = [bad]
                self.submit(form, data)
        if not names - {"csrf_token"}:
            self.submit(form, form.data())

    def submit(self, form: Form, data: dict[str, list[str]]) -> None:
        before = fingerprint()
        headers = {"HX-Request": "true"} if form.htmx else {}
        response = self.request(form.method, form.action, data=data, headers=headers)
        if response.status_code >= 500:
            return
        body = response.get_data(as_text=True) if "text" in response.content_type else ""
        refused = response.status_code >= 400 or 'aria-invalid="true"' in body
        if refused and fingerprint() != before:
            self.failures.append(
                f"{self.role}: {form.method} {form.action} changed data although it refused "
                f"({response.status_code}): {_short(data)}"
            )

    def fuzz_api_bodies(self) -> None:
        """Each field of each JSON body the API takes, replaced in turn by hostile values;
        a change that is refused changes nothing."""
        from crmlite.web.api.spec import document

        spec = document()
        for rule in self.app.url_map.iter_rules():
            if not rule.rule.startswith("/api/v1/"):
                continue
            template = re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            url = self.fill(rule)
            if url is None:
                continue
            for method in sorted((rule.methods or set()) & {"POST", "PATCH"}):
                operation = spec["paths"][template][method.lower()]
                fields = _body_fields(spec, operation)
                for name in fields or [""]:
                    for bad in _json_values(name):
                        tag = self.request("GET", url.removesuffix("/move")).headers.get("ETag")
                        if url.endswith(("/close", "/reopen")):
                            tag = self.request("GET", url.rsplit("/", 1)[0]).headers.get("ETag")
                        self.send_json(method, url, {name: bad} if name else {}, tag)

    def send_json(self, method: str, url: str, body: dict[str, Any], tag: str | None) -> None:
        before = fingerprint()
        headers = {"If-Match": tag} if tag else {}
        response = self.request(method, url, json=body, headers=headers)
        if 400 <= response.status_code < 500 and fingerprint() != before:
            self.failures.append(
                f"{self.role}: {method} {url} changed data although it refused "
                f"({response.status_code}): {str(body)[:200]}"
            )


def _body_fields(spec: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    body = operation.get("requestBody")
    if body is None:
        return []
    name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    return sorted(spec["components"]["schemas"][name].get("properties", {}))


def _json_values(name: str) -> list[Any]:
    """Hostile values of a JSON field: the form fuzzer's strings of its kind, and JSON's
    other types (huge and negative numbers, booleans, null, objects and lists)."""
    return [*hostile_values(name, "text"), 1e308, -1, 2**63, True, None, {"a": 1}, [1]]


# Arguments whose real value depends on the route.
PER_ROUTE = {
    ("/setup/activity-types/", "type_id"): "activity_type_id",
    ("/t/c/", "token"): "click_token",
    ("/t/f/", "token"): "form_token",
    ("/t/u/", "token"): "unsubscribe_token",
    ("/calendar/feed/", "token"): "feed_token",
    ("/dashboard/open/", "kind"): "open_kind",
}


def value_for(ids: dict[str, str], path: str, argument: str) -> str | None:
    for (prefix, name), key in PER_ROUTE.items():
        if argument == name and path.startswith(prefix):
            return ids.get(key)
    return ids.get(argument)


class _Failed:
    status_code = 500
    content_type = ""
    headers: dict[str, str] = {}

    def get_data(self, as_text: bool = False) -> str:
        return ""


def kinds(failures: list[str]) -> list[str]:
    """One failure of each kind: the same route (numbers in the path blurred) and error."""
    seen: dict[str, str] = {}
    for failure in failures:
        _role, rest = failure.split(": ", 1)
        request, _, error = rest.partition(" -> ")
        method, _, url = request.partition(" ")
        path = re.sub(r"/[^/?]*[0-9][^/?]*", "/N", url.split("?")[0])
        key = f"{method} {path} {error.split('(')[0]}"
        seen.setdefault(key, failure[:400])
    return list(seen.values())


def _short(data: dict[str, list[str]]) -> str:
    return ", ".join(f"{k}={v[0][:20]!r}" for k, v in data.items() if k != "csrf_token")[:300]


# ---------------------------------------------------------------- the run


def seed() -> dict[str, str]:
    """The demo team plus what the demo leaves out (a list, a sent e-mail, an enrolment);
    returns a real value for each URL argument name."""
    from crmlite.demo import load_demo

    load_demo()
    db.session.flush()
    campaign = db.session.scalars(select(Campaign).order_by(Campaign.id)).first()
    contact = db.session.scalars(
        select(Contact).where(Contact.email != "").order_by(Contact.id)
    ).first()
    assert campaign is not None and contact is not None
    group = MarketingList(name="Fuzz list")
    db.session.add(group)
    db.session.flush()
    db.session.add(MarketingListMember(list_id=group.id, contact_id=contact.id))
    email = CampaignEmail(
        campaign_id=campaign.id,
        subject="Hello {first_name}",
        body_text="See https://example.com/offer",
    )
    db.session.add(email)
    db.session.flush()
    send = EmailSend(
        email_id=email.id,
        contact_id=contact.id,
        to_address=contact.email,
        token="fuzz0000000000000000000000000001",
        status="sent",
        sent_at=datetime.now(UTC),
    )
    db.session.add(send)
    track = db.session.scalars(select(Track).order_by(Track.id)).first()
    assert track is not None
    enrollment = TrackEnrollment(
        track_id=track.id, contact_id=contact.id, starts_on=datetime.now(UTC).date()
    )
    db.session.add(enrollment)
    db.session.commit()

    def first(model: Any) -> str:
        return str(db.session.scalar(select(func.min(model.id))))

    from crmlite.models import (
        Activity,
        ActivityType,
        CampaignSubType,
        CampaignType,
        Company,
        ForecastLine,
        Opportunity,
        SalesStage,
        TrackStep,
    )

    opportunity = db.session.get(Opportunity, int(first(Opportunity)))
    line = db.session.scalars(select(ForecastLine).order_by(ForecastLine.id)).first()
    return {
        "id": first(Opportunity),
        "opportunity_id": str(line.opportunity_id if line else opportunity.id),  # type: ignore[union-attr]
        "line_id": first(ForecastLine),
        "activity_id": first(Activity),
        "company_id": first(Company),
        "contact_id": str(contact.id),
        "member_id": first(Member),
        "campaign_id": str(campaign.id),
        "type_id": first(CampaignType),
        "sub_type_id": first(CampaignSubType),
        "activity_type_id": first(ActivityType),
        "list_id": str(group.id),
        "email_id": str(email.id),
        "track_id": str(track.id),
        "step_id": first(TrackStep),
        "enrollment_id": str(enrollment.id),
        "stage_id": first(SalesStage),
        "token": tracking.send_token(send, "open"),
        "click_token": tracking.send_token(send, "click"),
        "unsubscribe_token": tracking.send_token(send, "unsubscribe"),
        "form_token": tracking.form_token(campaign),
        "open_kind": "pipeline",
        "position": "0",
        "month": "2026-11",
        "year": "2026",
        "feed_token": "x" * 43,
        "filename": "app.css",
    }


ROLES = ["admin", "manager", "rep", "anonymous"]


@pytest.fixture()
def fuzz_app(app: Flask) -> Flask:
    return app


def test_hostile_input_never_breaks_a_page(
    fuzz_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = fuzz_app
    ids = seed()
    parameters = query_parameters()
    assert {"member_id", "campaign_id", "q"} <= set(parameters)
    emails = {
        "admin": "nick@example.com",
        "manager": "cory@example.com",
        "rep": "manny@example.com",
    }
    from crmlite.demo import DEMO_PASSWORD

    members_by_email = {m.email: m.id for m in db.session.scalars(select(Member))}
    # Thousands of API requests per token: the API's rate limit is not what is tested here.
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "1000000 per minute")
    failures: list[str] = []
    sent = 0
    for role in ROLES:
        app.test_client_class = RequestClient
        client = app.test_client()
        if role != "anonymous":
            assert sign_in(client, emails[role], DEMO_PASSWORD).status_code == 302
        fuzzer = Fuzzer(app, client, ids, role)
        if role != "anonymous":
            fuzzer.api_secret = api_tokens.create_token(
                db.session.get(Member, members_by_email[emails[role]]),
                name="fuzz",
                scope="read-write",
                now=datetime.now(UTC),
            )[1]
            db.session.commit()
        page_urls = [url for _rule, url in fuzzer.pages()]
        started = time.perf_counter()
        fuzzer.fuzz_paths()
        if role == "anonymous":  # refused before any parameter is read
            fuzzer.fuzz_queries(parameters, QUERY_VALUES[:1])
        else:
            fuzzer.fuzz_queries(parameters, QUERY_VALUES)
        if role in ("admin", "rep"):  # a manager's forms are an admin's, with fewer rights
            fuzzer.fuzz_forms(page_urls)
            fuzzer.fuzz_api_bodies()
        failures += fuzzer.failures
        sent += fuzzer.sent
        print(f"fuzz as {role}: {fuzzer.sent} requests in {time.perf_counter() - started:.0f} s")
    print(f"fuzz: {sent} requests")

    limiter.reset()  # the fuzzed sign-in form used up the sign-in rate limit
    problems = stored_values_are_sound()
    for role in ("admin", "manager", "rep"):
        client = app.test_client()
        assert sign_in(client, emails[role], DEMO_PASSWORD).status_code == 302
        for url in ("/", "/board/", "/dashboard/", "/points/"):
            response = client.get(url)
            if response.status_code != 200:
                problems.append(f"{role}: {url} answers {response.status_code} after the fuzzing")
    assert not failures, (
        f"{len(failures)} failures, of {len(kinds(failures))} kinds:\n"
        + "\n".join(kinds(failures)[:80])
    )
    assert not problems, "\n".join(problems[:40])
    assert sent > 5_000
