"""The JSON schemas of the API's records, request bodies and problems, for the OpenAPI
document (``spec.py``)."""

from __future__ import annotations

from typing import Any


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
            "checklist_confirmed": {"type": "boolean"},
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
