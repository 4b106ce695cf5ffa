"""The import rules (services/imports/): reading real-world files (Pipedrive and HubSpot
exports, Windows-1252, UTF-8 with BOM, semicolons, XLSX with Excel dates, empty and
duplicated rows), column guessing, per-cell problems, duplicates, points of imported closed
activities, the worker's run, and undo restoring exactly."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from openpyxl import Workbook
from sqlalchemy import select, text

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityStatus,
    Company,
    Contact,
    ImportChange,
    ImportJob,
    ImportKind,
    ImportStatus,
    Member,
    Opportunity,
    Role,
    StageChange,
)
from crmlite.services.imports import jobs, mapping
from crmlite.services.imports.reading import UnreadableFile, inspect_file
from crmlite.services.next_steps import is_stalled
from tests.conftest import stage

DATA = Path(__file__).parent / "data" / "imports"
TZ = ZoneInfo("America/Los_Angeles")


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture()
def manager(make_member: Callable[..., Member]) -> Member:
    return make_member(name="Cory Ferguson", email="cory@example.com", role=Role.MANAGER)


@pytest.fixture()
def run_import(app: Flask, manager: Member) -> Callable[..., ImportJob]:
    """``run_import(content, kind, duplicates=…, columns=…)``: upload, map (guessed unless
    given), queue, and let the worker run it; the job as it ended."""

    def run(
        content: bytes,
        kind: str,
        *,
        filename: str = "file.csv",
        duplicates: str = "skip",
        columns: dict[str, str] | None = None,
    ) -> ImportJob:
        job = jobs.start(content, filename, kind, by=manager)
        jobs.set_columns(job, columns or jobs.columns_of(job), duplicates)
        jobs.queue(job)
        db.session.commit()
        assert jobs.run_queued(TZ) == 1
        db.session.expire_all()
        found = db.session.get(ImportJob, job.id)
        assert found is not None
        return found

    return run


def table(model: type, *columns: str) -> list[tuple[Any, ...]]:
    db.session.expire_all()
    rows = db.session.execute(select(model.__table__).order_by(model.__table__.c.id)).all()
    return [tuple(row) for row in rows]


# ------------------------------------------------------------------ reading the file


def test_encodings_and_delimiters_are_detected() -> None:
    windows = inspect_file(data("companies_windows1252_semicolon.csv"))
    assert (windows.file_format, windows.encoding, windows.delimiter) == ("csv", "cp1252", ";")
    assert windows.headers == ["Name", "Website", "City", "Notes"]
    bom = inspect_file(data("hubspot_contacts.csv"))
    assert bom.encoding == "utf-8-sig"
    assert bom.headers[0] == "First Name"  # no BOM glued to the first header
    assert inspect_file(data("pipedrive_deals.csv")).delimiter == ","


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"  \r\n\r\n", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a CSV or Excel"),
        (b"PK\x03\x04garbage-zip", "not a CSV or Excel"),
        (b",,,\r\n", "The file has no rows."),
        (b"\r\n\r\n,,,\r\n", "The file has no rows."),
    ],
)
def test_unreadable_files_say_why(content: bytes, message: str) -> None:
    with pytest.raises(UnreadableFile, match=message):
        inspect_file(content)


def test_pipedrive_and_hubspot_columns_are_guessed() -> None:
    deals = inspect_file(data("pipedrive_deals.csv")).headers
    assert mapping.guess("opportunities", deals) == {
        "name": "Deal - Title",
        "stage": "Deal - Stage",
        "status": "Deal - Status",
        "amount": "Deal - Value",
        "close_date": "Deal - Expected close date",
        "owner": "Deal - Owner",
        "company": "Organization - Name",
        "contact_email": "Person - Email",
        "lost_reason": "Deal - Lost reason",
    }
    hubspot = inspect_file(data("hubspot_deals.csv")).headers
    assert mapping.guess("opportunities", hubspot) == {
        "name": "Deal Name",
        "stage": "Deal Stage",
        "amount": "Amount",
        "close_date": "Close Date",
        "owner": "Deal owner",
        "company": "Company name",
    }
    persons = inspect_file(data("pipedrive_persons.csv")).headers
    guessed = mapping.guess("contacts", persons)
    assert guessed["full_name"] == "Person - Name"
    assert guessed["email"] == "Person - Email"
    assert guessed["company"] == "Person - Organization"


def test_mappings_are_saved_by_name_and_reused(app: Flask, manager: Member) -> None:
    mapping.save_mapping("contacts", " Pipedrive persons ", {"email": "Person - Email"}, by=manager)
    mapping.save_mapping("contacts", "Pipedrive persons", {"email": "E"}, by=manager)
    db.session.commit()
    saved = mapping.saved_mappings("contacts")
    assert [m.name for m in saved] == ["Pipedrive persons"]
    assert mapping.columns_of(saved[0]) == {"email": "E"}
    with pytest.raises(mapping.MappingRefused):
        mapping.save_mapping("contacts", "  ", {}, by=manager)


# ------------------------------------------------------------------ preview


def test_preview_shows_rows_as_stored_with_problems_per_cell(
    app: Flask, manager: Member, make_member: Callable[..., Member]
) -> None:
    make_member(name="Nick Points", email="nick@example.com")
    job = jobs.start(data("pipedrive_deals.csv"), "deals.csv", "opportunities", by=manager)
    shown = jobs.preview(job)
    first, second, won, lost, bad = shown.rows
    # Shane is not a contact yet: the only problem of the first row
    assert set(first.problems) == {"contact_email"}
    assert "import the contacts first" in first.problems["contact_email"]
    assert first.shown["amount"] == "6,200.00"
    assert first.shown["stage"] == "Discovery" and first.shown["close_date"] == "2013-11-30"
    assert second.ok and second.shown["close_date"] == "2026-01-15"  # the time is dropped
    assert won.ok and won.shown["stage"] == "Won"
    assert lost.ok and lost.values["lost_reason"] == "Went with a cheaper shop"
    assert set(bad.problems) == {"amount", "stage", "owner", "close_date", "contact_email"}
    assert "at most two decimals" in bad.problems["amount"] or "1,234.50" in bad.problems["amount"]
    assert "Qualified" in bad.problems["stage"]
    assert "nobody@example.com" in bad.problems["owner"]
    assert "YYYY-MM-DD" in bad.problems["close_date"]


def test_missing_required_column_is_refused(app: Flask, manager: Member) -> None:
    job = jobs.start(data("activities.csv"), "a.csv", "activities", by=manager)
    columns = jobs.columns_of(job)
    del columns["type"]
    with pytest.raises(jobs.ImportRefused, match="type"):
        jobs.set_columns(job, columns, "skip")


# ------------------------------------------------------------------ importing


def test_hubspot_contacts_with_bom_then_deals(
    run_import: Callable[..., ImportJob], make_member: Callable[..., Member]
) -> None:
    make_member(name="Nick Points", email="nick@example.com")
    job = run_import(data("hubspot_contacts.csv"), "contacts")
    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.error_count) == (2, 0)
    zoe = db.session.scalars(select(Contact).where(Contact.email == "zoe@nordic.example.com")).one()
    assert (zoe.first_name, zoe.last_name, zoe.country) == ("Zoë", "Ångström", "Sweden")
    jason = db.session.scalars(select(Contact).where(Contact.first_name == "Jason")).one()
    assert jason.email == "jason@chartec.net"  # lower-cased as every contact's
    assert {c.name for c in db.session.scalars(select(Company))} == {"Nordic Läget AB", "CharTec"}
    deals = run_import(data("hubspot_deals.csv"), "opportunities")
    assert (deals.created_count, deals.error_count) == (2, 0)
    nordic = db.session.scalars(select(Opportunity).where(Opportunity.name.like("Nordic%"))).one()
    assert nordic.stage_id == stage("1st Appointment").id
    assert nordic.revenue == Decimal("9900.00") and nordic.expected_close_on == date(2026, 3, 31)
    cabling = db.session.scalars(select(Opportunity).where(Opportunity.name.like("%Cabling"))).one()
    assert cabling.stage_id == stage("Won").id and cabling.won_amount == Decimal("2500.00")
    assert cabling.closed_at is not None
    assert cabling.closed_at.astimezone(TZ).date() == date(2026, 2, 28)
    # one history row each, as for any new opportunity
    assert db.session.query(StageChange).count() == 2


def test_open_imported_opportunities_without_next_step_are_stalled(
    run_import: Callable[..., ImportJob], make_member: Callable[..., Member]
) -> None:
    make_member(name="Nick Points", email="nick@example.com")
    run_import(data("pipedrive_persons.csv"), "contacts")
    job = run_import(data("pipedrive_deals.csv"), "opportunities")
    assert (job.created_count, job.error_count) == (4, 1)
    tows = db.session.scalars(
        select(Opportunity).where(Opportunity.name == "Tows R Us - Managed Services - Complete")
    ).one()
    db.session.refresh(tows)
    assert tows.revenue == Decimal("6200.00")
    assert tows.contact_id is not None and tows.account_manager_id is not None
    from sqlalchemy.orm import joinedload

    tows = db.session.scalars(
        select(Opportunity).options(joinedload(Opportunity.status)).where(Opportunity.id == tows.id)
    ).one()
    assert is_stalled(tows, date(2026, 12, 4))
    lost = db.session.scalars(select(Opportunity).where(Opportunity.name == "Old Deal Lost")).one()
    assert lost.lost_reason == "Went with a cheaper shop" and lost.stage_id == stage("Lost").id
    report = jobs.problems_csv(job.id).splitlines(keepends=True)
    assert report[0] == "row,field,value,problem\r\n"
    assert any(line.startswith('6,amount,"12,34"') for line in report)


def test_windows_1252_semicolon_companies(run_import: Callable[..., ImportJob]) -> None:
    job = run_import(data("companies_windows1252_semicolon.csv"), "companies")
    assert job.status == ImportStatus.DONE, job.message
    assert job.created_count == 2
    cafe = db.session.scalars(select(Company).where(Company.city == "Köln")).one()
    assert cafe.name == "Café Müller" and cafe.notes == "“Best” espresso – 5 €"


def test_empty_and_duplicated_rows(run_import: Callable[..., ImportJob]) -> None:
    job = run_import(data("contacts_empty_and_duplicated.csv"), "contacts")
    # Ann (once: the repeated row is a duplicate, skipped), Cid; Bob's address and the row
    # without a first name are refused; the empty rows are no rows at all.
    assert (job.created_count, job.skipped_count, job.error_count) == (2, 1, 2)
    problems = {(p.row_number, p.field) for p in jobs.problems(job.id)}
    assert problems == {(6, "email"), (7, "first_name")}
    assert db.session.query(Contact).filter(Contact.email == "ann@example.com").count() == 1
    assert db.session.query(Contact).filter(Contact.email == "cid@example.com").count() == 1


def test_duplicates_across_batches(
    run_import: Callable[..., ImportJob], monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmlite.services.imports import writing

    monkeypatch.setattr(writing, "BATCH", 2)  # rows 2-3, 4-5, 6-7 are looked up together
    content = b"First name,Email\nA,a@example.com\nB,b@example.com\nC,c@example.com\n"
    content += b"A again,A@example.com\nD,d@example.com\nB again,b@example.com\n"
    job = run_import(content, "contacts", duplicates="update")
    assert (job.created_count, job.updated_count) == (4, 2)
    names = {e: n for e, n in db.session.execute(select(Contact.email, Contact.first_name))}
    assert names == {
        "a@example.com": "A again",
        "b@example.com": "B again",
        "c@example.com": "C",
        "d@example.com": "D",
    }


def test_xlsx_with_excel_dates(
    run_import: Callable[..., ImportJob], make_member: Callable[..., Member]
) -> None:
    content = xlsx(
        [
            ["Deal Name", "Amount", "Close Date", "Deal Stage"],
            ["Excel deal", 1234.5, datetime(2026, 5, 31, 0, 0), "Discovery"],
            [None, None, None, None],
            ["Text date", "99", "2026-06-30", "Prospect"],
        ]
    )
    job = run_import(content, "opportunities", filename="deals.xlsx")
    assert job.file_format == "xlsx" and job.created_count == 2
    excel = db.session.scalars(select(Opportunity).where(Opportunity.name == "Excel deal")).one()
    assert excel.expected_close_on == date(2026, 5, 31) and excel.revenue == Decimal("1234.50")


def test_duplicate_modes(
    run_import: Callable[..., ImportJob], make_company: Callable[..., Company],
    make_contact: Callable[..., Contact],
) -> None:  # fmt: skip
    make_company("CharTec", website="https://chartec.net")
    make_contact("J", "R", email="jason@chartec.net", title="Old title")
    skip = run_import(data("pipedrive_persons.csv"), "contacts", duplicates="skip")
    assert (skip.created_count, skip.updated_count, skip.skipped_count) == (1, 0, 1)
    update = run_import(data("pipedrive_persons.csv"), "contacts", duplicates="update")
    # Shane, created by the first import, has nothing new: skipped; Jason is updated
    assert (update.created_count, update.updated_count, update.skipped_count) == (0, 1, 1)
    jason = db.session.scalars(select(Contact).where(Contact.email == "jason@chartec.net")).all()
    assert [(c.first_name, c.last_name, c.title) for c in jason] == [
        ("Jason", "Rivas", "IT Director")
    ]
    create = run_import(data("pipedrive_persons.csv"), "contacts", duplicates="create")
    assert create.created_count == 2
    assert db.session.query(Contact).filter(Contact.email == "jason@chartec.net").count() == 2
    # companies match by domain too: "www.chartec.net" is CharTec
    content = b"Company name,Website\nCharTec Inc.,http://www.chartec.net/about\n"
    by_domain = run_import(content, "companies", duplicates="skip")
    assert (by_domain.created_count, by_domain.skipped_count) == (0, 1)


def test_closed_activities_earn_their_type_points_at_their_done_date(
    run_import: Callable[..., ImportJob], manager: Member
) -> None:
    job = run_import(data("activities.csv"), "activities")
    assert (job.created_count, job.error_count) == (3, 1)
    done = db.session.scalars(
        select(Activity).where(Activity.subject == "1st Appointment with Jason")
    ).one()
    assert done.status == ActivityStatus.CLOSED and done.points_earned == 10
    assert done.closed_at is not None and done.closed_at.astimezone(TZ).date() == date(2026, 11, 9)
    assert done.assigned_to_id == manager.id and done.closed_by_id == manager.id
    card = db.session.scalars(select(Activity).where(Activity.subject == "Thank you card")).one()
    assert card.points_earned == 1 and card.closed_at is not None
    assert card.closed_at.astimezone(TZ).date() == date(2026, 11, 10)  # no done date: its due day
    call = db.session.scalars(select(Activity).where(Activity.subject == "Follow up call")).one()
    assert call.status == ActivityStatus.OPEN and call.points_earned is None
    assert call.place == "Phone"
    bad = {p.field for p in jobs.problems(job.id)}
    assert bad == {"type", "due_on", "done", "assigned_to", "place"}


# ------------------------------------------------------------------ undo


def test_undo_restores_exactly(
    run_import: Callable[..., ImportJob], make_company: Callable[..., Company],
    make_contact: Callable[..., Contact],
) -> None:  # fmt: skip
    chartec = make_company("CharTec")
    make_contact("J", "R", email="jason@chartec.net", title="Old title", company_id=chartec.id)
    before = {m: table(m) for m in (Company, Contact, Opportunity, Activity, StageChange)}
    contacts = run_import(data("pipedrive_persons.csv"), "contacts", duplicates="update")
    deals = run_import(data("pipedrive_deals.csv"), "opportunities")
    activities = run_import(data("activities.csv"), "activities")
    assert table(Contact) != before[Contact] and table(Opportunity) != before[Opportunity]
    for job in (activities, deals, contacts):
        jobs.ask_undo(job)
        db.session.commit()
        assert jobs.run_queued(TZ) == 1
        db.session.expire_all()
        assert db.session.get(ImportJob, job.id).status == ImportStatus.UNDONE  # type: ignore[union-attr]
    after = {m: table(m) for m in before}
    assert after == before
    assert db.session.query(ImportChange).count() == 0


def test_undo_only_for_a_week(run_import: Callable[..., ImportJob]) -> None:
    job = run_import(data("pipedrive_persons.csv"), "contacts")
    assert job.finished_at is not None
    assert jobs.can_undo(job, job.finished_at + timedelta(days=6, hours=23))
    with pytest.raises(jobs.ImportRefused):
        jobs.ask_undo(job, job.finished_at + timedelta(days=7, seconds=1))


def test_a_failing_import_changes_nothing(
    run_import: Callable[..., ImportJob], manager: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmlite.services.imports import writing

    def broken(self: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(writing.Writer, "_flush_problems", broken)
    job = run_import(data("contacts_empty_and_duplicated.csv"), "contacts")
    assert job.status == ImportStatus.FAILED and "disk full" in job.message
    assert db.session.query(Contact).count() == 0
    assert db.session.query(Company).count() == 0


def test_large_import_refreshes_statistics_and_keeps_queries_constant(
    app: Flask, manager: Member, queries: Callable[[], Any]
) -> None:
    lines = ["First name,Last name,Email,Company"] + [
        f"P{n},L{n},p{n}@example.com,Company {n % 50}" for n in range(2500)
    ]
    job = jobs.start("\n".join(lines).encode(), "big.csv", "contacts", by=manager)
    jobs.set_columns(job, jobs.columns_of(job), "skip")
    jobs.queue(job)
    db.session.commit()
    with queries() as counted:
        jobs.run_queued(TZ)
    # Batches of a thousand rows, 50 companies made once each: far fewer than a query a row.
    assert counted.count < 120
    assert db.session.query(Contact).count() == 2500
    if db.engine.dialect.name == "sqlite":
        assert db.session.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar()
    else:  # analysed and vacuumed (pages all-visible for index-only scans)
        db.session.execute(text("SELECT pg_stat_clear_snapshot()"))
        done = db.session.execute(
            text(
                "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL "
                "FROM pg_stat_user_tables WHERE relname = 'contacts'"
            )
        ).one()
        assert tuple(done) == (True, True)


def test_import_on_a_job_already_started_is_refused(run_import: Callable[..., ImportJob]) -> None:
    job = run_import(data("pipedrive_persons.csv"), "contacts")
    with pytest.raises(jobs.ImportRefused):
        jobs.queue(job)


def test_kind_labels() -> None:
    assert ImportKind.CONTACTS.label == "Contacts"
    assert datetime.now(UTC)  # keeps the UTC import honest in this module


def test_the_problem_report_guards_refused_values_against_formulas(
    run_import: Callable[..., ImportJob],
) -> None:
    content = (
        b'"Deal - Title","Deal - Value","Deal - Stage","Deal - Status"\r\n'
        b'"Formula deal","=1+1","Discovery","open"\r\n'
        b'"Tab deal","\t=2","Discovery","open"\r\n'
    )
    job = run_import(content, "opportunities")
    assert job.error_count == 2
    values = [row[2] for row in csv.reader(io.StringIO(jobs.problems_csv(job.id)))][1:]
    assert values == ["'=1+1", "'\t=2"]
