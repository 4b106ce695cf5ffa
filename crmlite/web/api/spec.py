"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json. Written as Python
data, next to the endpoints it describes; the tests validate it (openapi-spec-validator)
and check every response the tests receive against its schemas (jsonschema)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from crmlite.web import public
from crmlite.web.api.base import bp, json_response
from crmlite.web.api.schemas import ID, SCHEMAS, ref

PROBLEM = {"application/problem+json": {"schema": ref("Problem")}}
ERRORS = {
    "400": "The body is not valid JSON.",
    "401": "No token, or a token that is not valid (revoked, mistyped).",
    "403": "The member may not do this, or the token may only read.",
    "404": "There is no such record.",
    "409": "The move needs an answer first (reopen, next step).",
    "412": "If-Match is not the record's current ETag: it changed meanwhile.",
    "415": "The body is not JSON.",
    "422": "Invalid input: `errors` names each field, with the pages' own messages.",
    "428": "If-Match is missing.",
    "429": "Too many requests with this token (see Retry-After).",
}
ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description": "The record's version."}}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": "The ETag read: the change is refused (412) if the record changed since.",
}


def _param(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind}, "description": description}


PAGE_PARAMS = [
    _param("limit", "How many (1 to 100, 50 by default).", "integer"),
    _param("cursor", "Where the page starts: the `next` link's, as given."),
    _param("updated_since", "Changed since this moment (ISO 8601 with its offset)."),
]


def operation(
    summary: str,
    schema: str | None,
    *,
    status: str = "200",
    errors: tuple[str, ...] = (),
    body: str | None = None,
    params: list[dict[str, Any]] | None = None,
    tagged: bool = False,
    auth: bool = True,
) -> dict[str, Any]:
    success: dict[str, Any] = {"description": summary}
    if schema is not None:
        success["content"] = {"application/json": {"schema": ref(schema)}}
    if tagged:
        success["headers"] = ETAG_HEADER
    responses: dict[str, Any] = {status: success}
    codes = (("401", "429") if auth else ()) + errors
    for code in codes:
        responses[code] = {"description": ERRORS[code], "content": PROBLEM}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(body)}},
        }
    if not auth:
        op["security"] = []
    return op


def path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": ID}


READ = ("403", "404")
WRITE = ("400", "403", "404", "412", "415", "422", "428")
CREATE = ("400", "403", "415", "422")


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
    opportunity, company, contact, activity = (
        [path_id("opportunity_id")],
        [path_id("company_id")],
        [path_id("contact_id")],
        [path_id("activity_id")],
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "crmlite API",
            "version": "1",
            "description": "Opportunities, companies, contacts and activities, with the rules "
            'and rights of crmlite\'s pages. Amounts are strings of decimals ("1234.50"), '
            "dates ISO 8601. Sign in with a personal access token (your account page): "
            "`Authorization: Bearer crm_…`. Changes need `If-Match` with the ETag read.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"token": []}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": {
            "/opportunities": {
                "get": operation(
                    "List opportunities",
                    "OpportunityList",
                    errors=("422",),
                    params=[
                        *PAGE_PARAMS,
                        _param("stage", "A stage's id.", "integer"),
                        _param("owner", "The account manager's member id.", "integer"),
                        _param("status", "open, won or lost."),
                        _param("company_id", "A company's id.", "integer"),
                        _param("q", "Part of the name."),
                    ],
                ),
                "post": operation(
                    "Add an opportunity (in Prospect)",
                    "Opportunity",
                    status="201",
                    errors=CREATE,
                    body="NewOpportunity",
                    tagged=True,
                ),
            },
            "/opportunities/{opportunity_id}": {
                "parameters": opportunity,
                "get": operation("An opportunity", "Opportunity", errors=READ, tagged=True),
                "patch": operation(
                    "Change an opportunity's fields",
                    "Opportunity",
                    errors=WRITE,
                    body="OpportunityChanges",
                    params=[IF_MATCH],
                    tagged=True,
                ),
            },
            "/opportunities/{opportunity_id}/move": {
                "parameters": opportunity,
                "post": operation(
                    "Move to a stage (Lost needs lost_reason, Won won_amount)",
                    "Opportunity",
                    errors=(*WRITE, "409"),
                    body="Move",
                    params=[IF_MATCH],
                    tagged=True,
                ),
            },
            "/stages": {"get": operation("The funnel's stages", "StageList", errors=("403",))},
            "/companies": {
                "get": operation(
                    "List companies",
                    "CompanyList",
                    errors=("422",),
                    params=[
                        *PAGE_PARAMS,
                        _param("owner", "The account manager's member id.", "integer"),
                        _param("q", "Part of the name."),
                    ],
                ),
                "post": operation(
                    "Add a company",
                    "Company",
                    status="201",
                    errors=CREATE,
                    body="CompanyInput",
                    tagged=True,
                ),
            },
            "/companies/{company_id}": {
                "parameters": company,
                "get": operation("A company", "Company", errors=READ, tagged=True),
                "patch": operation(
                    "Change a company",
                    "Company",
                    errors=WRITE,
                    body="CompanyInput",
                    params=[IF_MATCH],
                    tagged=True,
                ),
            },
            "/contacts": {
                "get": operation(
                    "List contacts",
                    "ContactList",
                    errors=("422",),
                    params=[
                        *PAGE_PARAMS,
                        _param("company_id", "A company's id.", "integer"),
                        _param("q", "Part of the name or e-mail."),
                    ],
                ),
                "post": operation(
                    "Add a contact",
                    "Contact",
                    status="201",
                    errors=CREATE,
                    body="ContactInput",
                    tagged=True,
                ),
            },
            "/contacts/{contact_id}": {
                "parameters": contact,
                "get": operation("A contact", "Contact", errors=READ, tagged=True),
                "patch": operation(
                    "Change a contact",
                    "Contact",
                    errors=WRITE,
                    body="ContactInput",
                    params=[IF_MATCH],
                    tagged=True,
                ),
            },
            "/activities": {
                "get": operation(
                    "List the activities you may see",
                    "ActivityList",
                    errors=("422",),
                    params=[
                        *PAGE_PARAMS,
                        _param("status", "Open, Closed or Cancelled."),
                        _param("assigned_to", "The assignee's member id.", "integer"),
                        _param("opportunity_id", "An opportunity's id.", "integer"),
                        _param("company_id", "A company's id.", "integer"),
                    ],
                ),
                "post": operation(
                    "Log or schedule an activity",
                    "Activity",
                    status="201",
                    errors=CREATE,
                    body="ActivityInput",
                    tagged=True,
                ),
            },
            "/activities/{activity_id}": {
                "parameters": activity,
                "get": operation("An activity", "Activity", errors=READ, tagged=True),
                "patch": operation(
                    "Change an activity's details",
                    "Activity",
                    errors=WRITE,
                    body="ActivityInput",
                    params=[IF_MATCH],
                    tagged=True,
                ),
            },
            "/activities/{activity_id}/close": {
                "parameters": activity,
                "post": operation(
                    "Mark it done (earns its points)",
                    "Activity",
                    errors=("403", "404", "412", "428"),
                    params=[IF_MATCH],
                    tagged=True,
                ),
            },
            "/activities/{activity_id}/reopen": {
                "parameters": activity,
                "post": operation(
                    "Open a done activity again",
                    "Activity",
                    errors=("403", "404", "412", "428"),
                    params=[IF_MATCH],
                    tagged=True,
                ),
            },
            "/members/{member_id}/points": {
                "parameters": [path_id("member_id")],
                "get": operation(
                    "A member's points month",
                    "Points",
                    errors=(*READ, "422"),
                    params=[_param("month", "YYYY-MM; this month by default.")],
                ),
            },
            "/dashboard": {
                "get": operation(
                    "Quota attainment of a quarter",
                    "Dashboard",
                    errors=("403", "422"),
                    params=[
                        _param("year", "The year; this year by default.", "integer"),
                        _param("quarter", "1 to 4; this quarter by default.", "integer"),
                        _param("basis", "revenue (default) or margin."),
                    ],
                ),
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "The OpenAPI document."}},
                }
            },
        },
    }


@bp.get("/openapi.json")
@public
def openapi() -> Response:
    """The API's description; public, like any API's documentation (it holds no data)."""
    return json_response(document())
