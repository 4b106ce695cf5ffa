"""The JSON API's access (issue #17): the OpenAPI document, personal access tokens (scope,
revocation, the account page, no session cookie) and the rate limits."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import ApiToken, Company, Member, Role
from tests.api_helpers import SPEC, Api, api_as, problem_of, token_for
from tests.conftest import page_token

BASE = "/api/v1"
__all__ = ["api_as"]  # the fixture


# ---------------------------------------------------------------- the document


def test_the_openapi_document_is_valid_and_public(client: FlaskClient) -> None:
    validate(SPEC)
    response = client.get(f"{BASE}/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"] == "3.1.0"
    assert set(response.get_json()["paths"]) == set(SPEC["paths"])


def test_every_api_route_is_in_the_document(app: Flask) -> None:
    documented = {
        (f"{BASE}{path}", method.upper())
        for path, item in SPEC["paths"].items()
        for method in item
        if method != "parameters"
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(BASE):
            continue
        path = rule.rule.replace("<int:", "{").replace(">", "}")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)


# ---------------------------------------------------------------- tokens


def test_without_a_valid_token_401(client: FlaskClient, api_as) -> None:
    for headers in ({}, {"Authorization": "Bearer crm_nope"}, {"Authorization": "Basic eDp5"}):
        response = Api(client, None).get(f"{BASE}/opportunities", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "token" in problem_of(response)["detail"]


def test_a_revoked_token_or_a_deactivated_member_is_refused(client: FlaskClient, api_as) -> None:
    member, api = api_as(Role.REP)
    assert api.get(f"{BASE}/opportunities").status_code == 200
    token = db.session.scalars(select(ApiToken).where(ApiToken.member_id == member.id)).one()
    token.revoked_at = datetime.now(UTC)
    db.session.commit()
    assert api.get(f"{BASE}/opportunities").status_code == 401

    other, api = api_as(Role.REP)
    db.session.get(Member, other.id).active = False
    db.session.commit()
    assert api.get(f"{BASE}/opportunities").status_code == 401


def test_a_read_token_reads_but_never_writes(api_as) -> None:
    _member, api = api_as(Role.ADMIN, scope="read")
    assert api.get(f"{BASE}/companies").status_code == 200
    response = api.post(f"{BASE}/companies", json={"name": "Acme"})
    assert response.status_code == 403
    assert "only read" in problem_of(response)["detail"]
    assert db.session.scalar(select(func.count()).select_from(Company)) == 0


def test_a_session_cookie_does_not_sign_in_to_the_api(client: FlaskClient, signed_in) -> None:
    """A signed-in browser cannot be made to call the API by another site: no token, 401 —
    and with a token, no CSRF token is needed."""
    member = signed_in(Role.ADMIN)
    assert client.get("/").status_code == 200
    response = client.post(f"{BASE}/companies", json={"name": "Forged"})
    assert response.status_code == 401
    assert client.get(f"{BASE}/opportunities").status_code == 401
    api = Api(client, token_for(member))
    assert api.post(f"{BASE}/companies", json={"name": "Real"}).status_code == 201


def test_tokens_on_the_account_page(client: FlaskClient, signed_in) -> None:
    member = signed_in(Role.REP)
    csrf = page_token(client, "/account")
    page = client.post(
        "/account/tokens", data={"name": "Accounting sync", "scope": "read", "csrf_token": csrf}
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "it will not be shown again" in html
    secret = html.split('<code class="token-secret">')[1].split("</code>")[0]
    assert secret.startswith("crm_") and len(secret) > 40
    token = db.session.scalars(select(ApiToken).where(ApiToken.member_id == member.id)).one()
    assert token.scope == "read" and token.name == "Accounting sync"
    assert secret not in (token.token_digest, token.prefix) and secret.startswith(token.prefix)
    # Shown once: the account page lists it by its first characters only.
    again = client.get("/account").get_data(as_text=True)
    assert secret not in again and f"{token.prefix}…" in again

    assert Api(client, secret).get(f"{BASE}/stages").status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).last_used_at is not None
    refused = client.post("/account/tokens", data={"name": "", "csrf_token": csrf})
    assert "Name the token" in refused.get_data(as_text=True)

    revoked = client.post(f"/account/tokens/{token.id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 302
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is not None
    assert Api(client, secret).get(f"{BASE}/stages").status_code == 401


def test_nobody_revokes_someone_elses_token(client: FlaskClient, signed_in, make_member) -> None:
    other = make_member()
    token_for(other)
    theirs = db.session.scalars(select(ApiToken)).one()
    signed_in(Role.ADMIN)
    csrf = page_token(client, "/account")
    response = client.post(f"/account/tokens/{theirs.id}/revoke", data={"csrf_token": csrf})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, theirs.id).revoked_at is None


# ---------------------------------------------------------------- rate limits


def test_rate_limited_per_token(make_app, make_member) -> None:
    limited = make_app(API_RATE_LIMIT="3 per minute")
    client = limited.test_client()
    first = Api(client, token_for(make_member()))
    second = Api(client, token_for(make_member()))
    for _ in range(3):
        assert first.get(f"{BASE}/stages").status_code == 200
    refused = first.get(f"{BASE}/stages")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert problem_of(refused)["title"] == "Too many requests"
    assert second.get(f"{BASE}/stages").status_code == 200  # per token, not for everyone


def test_made_up_tokens_are_limited_per_address(make_app) -> None:
    """Made-up tokens would each get the API's limit of their own: they are counted per
    client address instead, with the sign-in page's limit."""
    limited = make_app(LOGIN_RATE_LIMIT="2 per minute")
    client = limited.test_client()
    answers = [Api(client, f"crm_made-up-{n}").get(f"{BASE}/stages").status_code for n in range(3)]
    assert answers == [401, 401, 429]


def test_an_unexpected_error_is_a_problem_too(make_app, make_member, monkeypatch) -> None:
    """Outside the tests (which re-raise), a bug answers 500 as a problem document."""
    production_like = make_app(TESTING=False)
    client = production_like.test_client()
    api = Api(client, token_for(make_member()))

    def broken() -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("crmlite.web.api.opportunities.stages_json", broken)
    response = api.get(f"{BASE}/stages", check=False)
    assert response.status_code == 500
    assert problem_of(response)["detail"] == "Nothing was saved."
