"""Export → import is lossless: the companies and contacts a team exports from their list
pages (CSV or XLSX) come back through the import wizard's rules exactly as they were, with
their columns recognised without a mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from crmlite.extensions import db
from crmlite.models import Company, Contact, Member, Role
from crmlite.services.imports import jobs
from tests.test_imports import TZ

COMPANY_FIELDS = ("name", "phone", "email", "website", "industry", "street", "city", "region")
CONTACT_FIELDS = ("first_name", "last_name", "title", "email", "phone", "mobile", "city")


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """What the lists hold, by name, without ids or timestamps (new on import)."""
    db.session.expire_all()
    companies = db.session.scalars(select(Company).order_by(Company.name)).all()
    managers = {m.id: m.email for m in db.session.scalars(select(Member))}
    contacts = db.session.scalars(select(Contact).order_by(Contact.email)).all()
    names = {c.id: c.name for c in companies}
    return {
        "companies": [
            (*(getattr(c, f) for f in COMPANY_FIELDS), managers.get(c.account_manager_id))
            for c in companies
        ],
        "contacts": [
            (*(getattr(c, f) for f in CONTACT_FIELDS), names.get(c.company_id)) for c in contacts
        ],
    }


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_companies_and_contacts_come_back_as_they_were(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_member: Callable[..., Member],
    fmt: str,
) -> None:
    me = signed_in(Role.MANAGER)
    rep = make_member(name="Manny Ortiz", email="manny@example.com")
    tows = Company(
        name="Tows R Us",
        phone="(559) 555-0142",
        email="office@towsrus.example",
        website="towsrus.example",
        industry="Towing",
        street="12 Main St",
        city="Fresno",
        region="CA",
        account_manager_id=rep.id,
    )
    # Awkward text: an apostrophe, accents, a leading "=" that the export must not turn
    # into a formula (nor the import into something else).
    odd = Company(name="Crème d'Or = Café", city="Modesto", industry="=1+1")
    db.session.add_all([tows, odd])
    db.session.flush()
    db.session.add_all(
        [
            Contact(
                company_id=tows.id,
                first_name="Shane",
                last_name="Swanson",
                title="Owner",
                email="shane@towsrus.example",
                phone="(559) 555-0100",
                mobile="(559) 555-0199",
                city="Fresno",
            ),
            Contact(
                company_id=odd.id,
                first_name="Zoë",
                last_name="O'Brien",
                title="",
                email="zoe@creme.example",
                phone="+1 209 555 0123",
            ),
        ]
    )
    db.session.commit()
    before = snapshot()

    # Read as a browser would, at once (a CSV is streamed: its rows are read as it is sent).
    files = {
        kind: client.get(f"/{kind}/export.{fmt}").get_data() for kind in ("companies", "contacts")
    }
    assert all(len(content.splitlines()) > 1 or fmt == "xlsx" for content in files.values())
    db.session.execute(delete(Contact))
    db.session.execute(delete(Company))
    db.session.commit()
    assert snapshot() == {"companies": [], "contacts": []}

    for kind, content in files.items():
        job = jobs.start(content, f"{kind}.{fmt}", kind, by=me)
        columns = jobs.columns_of(job)  # guessed from the export's own headers
        jobs.set_columns(job, columns, "create")
        jobs.queue(job)
        db.session.commit()
        assert jobs.run_queued(TZ) == 1
        db.session.expire_all()
        assert (job.error_count, job.created_count) == (0, 2), jobs.problems(job.id, limit=5)
    assert snapshot() == before
