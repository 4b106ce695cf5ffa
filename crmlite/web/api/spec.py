"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json. Written as Python
data, next to the endpoints it describes; the tests validate it (openapi-spec-validator)
and check every response the tests receive against its schemas (jsonschema)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from crmlite.web import public
from crmlite.web.api.base import bp, json_response


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


ID = {"type": "integer", "minimum": 1}
ID_OR_NULL = nullable("integer", minimum=1)
AMOUNT = {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "examples": ["1234.50"]}
AMOUNT_OR_NULL = {"type": ["string", "null"], "pattern": r"^[0-9]+\.[0-9]{2}$"}
DAY = {"type": "string", "format": "date"}
DAY_OR_NULL = nullable("string", format="date")
MOMENT = {"type": "string", "format": "date-time"}
MOMENT_OR_NULL = nullable("string", format="date-time")
TEXT = {"type": "string"}
# An amount sent in: a string of decimals (a whole number is read the same way).
AMOUNT_IN = {"type": ["string", "integer", "null"], "examples": ["1234.50"]}
ID_IN = {"type": ["integer", "string", "null"]}


def obj(properties: dict[str, Any], required: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(properties)
    return schema


def listing(item: str) -> dict[str, Any]:
    return obj({"data": {"type": "array", "items": ref(item)}, "next": nullable("string")})


SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "An error (RFC 9457); `errors` names each field at fault. `type` is "
        "about:blank for plain HTTP errors, else urn:crmlite:problem: followed by validation, "
        "if-match-required, changed-meanwhile, next-step-needed or reopen-not-confirmed.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": TEXT,
            "title": TEXT,
            "status": {"type": "integer"},
            "detail": TEXT,
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": TEXT},
            },
        },
    },
    "Stage": obj(
        {
            "id": ID,
            "name": TEXT,
            "position": {"type": "integer"},
            "default_probability": {"type": "integer"},
            "is_won": {"type": "boolean"},
            "is_lost": {"type": "boolean"},
        }
    ),
    "Opportunity": obj(
        {
            "id": ID,
            "name": TEXT,
            "description": TEXT,
            "type_id": ID_OR_NULL,
            "stage": obj({"id": ID, "name": TEXT}),
            "status": TEXT,
            "revenue": AMOUNT,
            "cost": AMOUNT,
            "margin": {"type": "string"},
            "won_amount": AMOUNT_OR_NULL,
            "lost_amount": AMOUNT_OR_NULL,
            "lost_reason": TEXT,
            "expected_close_on": DAY_OR_NULL,
            "rating": {"enum": ["Hot", "Medium", "Cold"]},
            "probability": {"type": "integer", "minimum": 0, "maximum": 100},
            "source": TEXT,
            "campaign_id": ID_OR_NULL,
            "account_manager_id": ID_OR_NULL,
            "sales_associate_id": ID_OR_NULL,
            "company_id": ID_OR_NULL,
            "contact_id": ID_OR_NULL,
            "location_id": ID_OR_NULL,
            "business_unit_id": ID_OR_NULL,
            "stalled": {"type": "boolean", "description": "Open without a next step."},
            "closed_at": MOMENT_OR_NULL,
            "created_at": MOMENT,
            "updated_at": MOMENT,
            "version": {"type": "integer", "minimum": 1},
        }
    ),
    "NewOpportunity": obj(
        {
            "name": TEXT,
            "company_name": TEXT,
            "contact_name": TEXT,
            "type_id": ID_IN,
            "revenue": AMOUNT_IN,
            "expected_close_on": DAY_OR_NULL,
            "rating": {"enum": ["Hot", "Medium", "Cold"]},
            "account_manager_id": ID_IN,
            "campaign_id": ID_IN,
        },
        required=False,
    )
    | {"required": ["name"]},
    "OpportunityChanges": obj(
        {
            "name": TEXT,
            "type_id": ID_IN,
            "rating": {"enum": ["Hot", "Medium", "Cold"]},
            "revenue": AMOUNT_IN,
            "cost": AMOUNT_IN,
            "expected_close_on": DAY_OR_NULL,
            "probability": {"type": ["integer", "string", "null"]},
            "use_stage_default": {"type": "boolean"},
            "source": TEXT,
            "campaign_id": ID_IN,
            "account_manager_id": ID_IN,
            "sales_associate_id": ID_IN,
            "company_id": ID_IN,
            "contact_id": ID_IN,
            "location_id": ID_IN,
            "business_unit_id": ID_IN,
            "description": TEXT,
        },
        required=False,
    ),
    "Move": obj(
        {
            "stage_id": ID_IN,
            "lost_reason": TEXT,
            "won_amount": AMOUNT_IN,
            "won_on": DAY_OR_NULL,
            "open_activities": {"enum": ["cancel", "keep"]},
            "reopen": {"type": "boolean"},
            "skip_next_step": {"type": "boolean"},
            "next_step": obj(
                {
                    "type_id": ID_IN,
                    "subject": TEXT,
                    "due_on": DAY,
                    "start": {"type": "string", "examples": ["10:00"]},
                    "end": {"type": "string", "examples": ["10:30"]},
                },
                required=False,
            ),
        },
        required=False,
    )
    | {"required": ["stage_id"]},
    "Company": obj(
        {
            "id": ID,
            "name": TEXT,
            "phone": TEXT,
            "email": TEXT,
            "website": TEXT,
            "industry": TEXT,
            "street": TEXT,
            "city": TEXT,
            "region": TEXT,
            "postal_code": TEXT,
            "country": TEXT,
            "account_manager_id": ID_OR_NULL,
            "notes": TEXT,
            "created_at": MOMENT,
            "updated_at": MOMENT,
        }
    ),
    "CompanyInput": obj(
        {
            **{name: TEXT for name in ("name", "phone", "email", "website", "industry")},
            **{name: TEXT for name in ("street", "city", "region", "postal_code", "country")},
            "account_manager_id": ID_IN,
            "notes": TEXT,
        },
        required=False,
    ),
    "Contact": obj(
        {
            "id": ID,
            "first_name": TEXT,
            "last_name": TEXT,
            "title": TEXT,
            "company_id": ID_OR_NULL,
            "email": TEXT,
            "phone": TEXT,
            "mobile": TEXT,
            "unsubscribed": {"type": "boolean"},
            "bounced": {"type": "boolean"},
            "created_at": MOMENT,
            "updated_at": MOMENT,
        }
    ),
    "ContactInput": obj(
        {
            **{name: TEXT for name in ("first_name", "last_name", "title", "email")},
            **{name: TEXT for name in ("phone", "mobile")},
            "company_id": ID_IN,
        },
        required=False,
    ),
    "Activity": obj(
        {
            "id": ID,
            "subject": TEXT,
            "type_id": ID,
            "status": {"enum": ["Open", "Closed", "Cancelled"]},
            "due_on": DAY,
            "start": nullable("string"),
            "end": nullable("string"),
            "starts_at": MOMENT_OR_NULL,
            "ends_at": MOMENT_OR_NULL,
            "assigned_to_id": ID,
            "assigned_by_id": ID_OR_NULL,
            "place": TEXT,
            "reminder_minutes": nullable("integer"),
            "opportunity_id": ID_OR_NULL,
            "company_id": ID_OR_NULL,
            "contact_id": ID_OR_NULL,
            "campaign_id": ID_OR_NULL,
            "closed_at": MOMENT_OR_NULL,
            "closed_by_id": ID_OR_NULL,
            "points_earned": nullable("integer"),
            "created_at": MOMENT,
            "updated_at": MOMENT,
            "version": {"type": "integer", "minimum": 1},
        }
    ),
    "ActivityInput": obj(
        {
            "subject": TEXT,
            "type_id": ID_IN,
            "due_on": DAY,
            "start": {"type": ["string", "null"], "description": "HH:MM, the team's time zone"},
            "end": {"type": ["string", "null"], "description": "HH:MM, the team's time zone"},
            "assigned_to_id": ID_IN,
            "place": TEXT,
            "reminder_minutes": {"type": ["integer", "string", "null"]},
            "note": {"type": "string", "description": "A stamped note added to it."},
            "status": {"enum": ["Open", "Closed"], "description": "On creation only."},
            **{name: ID_IN for name in ("opportunity_id", "company_id", "contact_id")},
            "campaign_id": {**ID_IN, "description": "On creation only."},
        },
        required=False,
    ),
    "Points": obj(
        {
            "member_id": ID,
            "member_name": TEXT,
            "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
            "points": {"type": "integer"},
            "quota": {"type": "integer"},
            "attained_percent": {"type": "integer"},
            "expected_by_today": {"type": "integer"},
            "pace": TEXT,
            "activities": {"type": "integer"},
            "types": {
                "type": "array",
                "items": obj(
                    {
                        "type_id": ID,
                        "code": TEXT,
                        "name": TEXT,
                        "group": TEXT,
                        "count": {"type": "integer"},
                        "points": {"type": "integer"},
                        "recommended": {"type": "integer"},
                    }
                ),
            },
        }
    ),
    "Attainment": obj({"total": AMOUNT, "quota": AMOUNT_OR_NULL, "percent": nullable("integer")}),
    "Dashboard": obj(
        {
            "year": {"type": "integer"},
            "quarter": {"type": "integer", "minimum": 1, "maximum": 4},
            "basis": {"enum": ["revenue", "margin"]},
            "months": {"type": "array", "items": {"type": "integer"}},
            "members": {
                "type": "array",
                "items": obj(
                    {
                        "member_id": ID_OR_NULL,
                        "name": TEXT,
                        "months": {"type": "array", "items": ref("Attainment")},
                        "quarter": ref("Attainment"),
                        "year_to_date": {"type": "array", "items": ref("Attainment")},
                    }
                ),
            },
            "monthly_totals": {"type": "array", "items": ref("Attainment")},
            "quarter_total": ref("Attainment"),
            "year_to_date_totals": {"type": "array", "items": ref("Attainment")},
        }
    ),
}
for _name in ("Opportunity", "Company", "Contact", "Activity", "Stage"):
    SCHEMAS[f"{_name}List"] = listing(_name)

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
