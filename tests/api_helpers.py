"""Calling the JSON API in tests: tokens, requests, and every response checked against the
OpenAPI document's schema for its path, method and status."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import Member, Role
from crmlite.services import api_tokens
from crmlite.web.api.spec import document

SPEC = document()


def token_for(member: Member, scope: str = "read-write") -> str:
    """A new token's secret for this member."""
    _row, secret = api_tokens.create_token(member, name="tests", scope=scope, now=utcnow())
    db.session.commit()
    return secret


def _template(path: str) -> str:
    """The document's path template a concrete URL matches."""
    bare = path.split("?")[0].removeprefix("/api/v1")
    for template in SPEC["paths"]:
        pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$"
        if re.match(pattern, bare):
            return str(template)
    raise AssertionError(f"{bare} is not in the OpenAPI document")


def check_against_spec(method: str, url: str, response: Any) -> None:
    """The response is one the document describes, for this path, method and status, and
    its body matches that response's schema."""
    operation = SPEC["paths"][_template(url)][method.lower()]
    described = operation["responses"].get(str(response.status_code))
    assert described is not None, (
        f"{method} {url}: {response.status_code} is not documented: {response.get_data(True)}"
    )
    content = described.get("content")
    if content is None:
        return
    media_type = response.mimetype
    assert media_type in content, f"{method} {url}: {media_type} not documented"
    schema = {"components": SPEC["components"], **content[media_type]["schema"]}
    errors = list(Draft202012Validator(schema).iter_errors(response.get_json()))
    assert not errors, f"{method} {url}: {[e.message for e in errors[:3]]}"


class Api:
    """``api.get(url)``, ``api.post(url, json=…, if_match=…)`` with a bearer token; each
    response is checked against the OpenAPI document."""

    def __init__(self, client: FlaskClient, secret: str | None) -> None:
        self.client = client
        self.secret = secret

    def call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        if_match: str | None = None,
        headers: dict[str, str] | None = None,
        check: bool = True,
    ) -> Any:
        sent = dict(headers or {})
        if self.secret is not None:
            sent.setdefault("Authorization", f"Bearer {self.secret}")
        if if_match is not None:
            sent["If-Match"] = if_match
        kwargs: dict[str, Any] = {"headers": sent}
        if json is not None:
            kwargs["json"] = json
        response = self.client.open(url, method=method, **kwargs)
        if check:
            check_against_spec(method, url, response)
        return response

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.call("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.call("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Any:
        return self.call("PATCH", url, **kwargs)


@pytest.fixture()
def api_as(
    client: FlaskClient, make_member: Callable[..., Member]
) -> Callable[..., tuple[Member, Api]]:
    """``member, api = api_as(Role.REP)``: a new member and the API with their token."""

    def make(role: Role = Role.REP, scope: str = "read-write", **fields: Any) -> tuple[Member, Api]:
        member = make_member(role=role, **fields)
        return member, Api(client, token_for(member, scope))

    return make


def problem_of(response: Any) -> dict[str, Any]:
    assert response.mimetype == "application/problem+json", response.get_data(True)
    body: dict[str, Any] = response.get_json()
    assert body["status"] == response.status_code
    return body
