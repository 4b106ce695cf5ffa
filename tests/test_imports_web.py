"""The import wizard's pages and ``flask crm import``: upload, map, preview with problems per
cell, start (the worker imports), progress, report and errors CSV, undo; who may; bad
uploads say why and change nothing."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from crmlite.extensions import db
from crmlite.models import (
    Company,
    Contact,
    ImportJob,
    ImportMapping,
    ImportStatus,
    Member,
    Opportunity,
    Role,
)
from crmlite.services.imports import jobs
from crmlite.services.worker import WorkerSettings, run_round
from crmlite.web import imports as import_pages
from tests.conftest import page_token

DATA = Path(__file__).parent / "data" / "imports"
TZ = ZoneInfo("America/Los_Angeles")


def upload(client: FlaskClient, content: bytes, kind: str, filename: str = "f.csv") -> Any:
    token = page_token(client, "/imports/")
    data = {
        "data_file": FileStorage(io.BytesIO(content), filename),
        "kind": kind,
        "csrf_token": token,
    }
    boundary, body = encode_multipart(data)
    return client.post(
        "/imports/", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture()
def manager(signed_in: Callable[..., Member]) -> Member:
    return signed_in(Role.MANAGER, name="Cory Ferguson", email="cory@example.com")


def test_the_wizard_from_upload_to_undo(
    app: Flask, client: FlaskClient, manager: Member, make_member: Callable[..., Member]
) -> None:
    make_member(name="Nick Points", email="nick@example.com")
    # 1 upload: the columns page, its selects preset from the Pipedrive names
    response = upload(client, (DATA / "pipedrive_deals.csv").read_bytes(), "opportunities")
    assert response.status_code == 302
    job = db.session.scalars(select(ImportJob)).one()
    columns_url = f"/imports/{job.id}/columns"
    assert response.headers["Location"].endswith(columns_url)
    page = client.get(columns_url).get_data(as_text=True)
    assert re.search(r'<option selected value="Deal - Value">', page) or re.search(
        r'<option value="Deal - Value" selected>', page
    )
    assert "utf-8" in page
    # 2 map (the guess, plus a name to keep it under)
    token = page_token(client, columns_url)
    form = {f"column_{k}": v for k, v in jobs.columns_of(job).items()}
    form.update(duplicates="skip", mapping_name="Pipedrive deals", csrf_token=token)
    response = client.post(columns_url, data=form)
    assert response.status_code == 302
    saved = db.session.scalars(select(ImportMapping)).one()
    assert saved.name == "Pipedrive deals" and saved.kind == "opportunities"
    # 3 preview: the rows as stored, the bad row's problems next to each cell
    preview = client.get(f"/imports/{job.id}/preview").get_data(as_text=True)
    assert "6,200.00" in preview and "Discovery" in preview
    bad_row = preview.split('id="preview-row-6"')[1].split("</tr>")[0]
    assert bad_row.count('class="has-error"') == 5
    assert "No stage is called “Qualified”" in bad_row
    assert "earn the points" not in preview  # that note is for activities
    assert "show as\n    stalled" in preview or "stalled" in preview
    assert count(Opportunity) == 0  # nothing stored yet
    # 5 start: queued for the worker, the page polls its progress
    token = page_token(client, f"/imports/{job.id}/preview")
    response = client.post(f"/imports/{job.id}/start", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get(f"/imports/{job.id}").get_data(as_text=True)
    assert "Waiting for the worker" in page and 'hx-trigger="every 1s"' in page
    assert count(Opportunity) == 0
    run_round(WorkerSettings(once=True), run_tracks=False)
    progress = client.get(f"/imports/{job.id}/progress", headers={"HX-Request": "true"})
    assert progress.headers.get("HX-Refresh") == "true"  # done: the page reloads the report
    # 6 the report: counts, the refused row, its CSV
    page = client.get(f"/imports/{job.id}").get_data(as_text=True)
    # Shane is no contact here yet: his deal waits for the contacts' import, as the bad row
    assert re.search(r'id="count-created">3<', page) and re.search(r'id="count-errors">2<', page)
    assert "import the contacts first" in page
    assert "Undo this import" in page and "every 1s" not in page
    errors = client.get(f"/imports/{job.id}/errors.csv")
    assert errors.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in errors.headers["Content-Disposition"]
    assert errors.get_data(as_text=True).startswith("row,field,value,problem\r\n2,")
    assert count(Opportunity) == 3
    # a started import cannot be started again, nor remapped
    token = page_token(client, f"/imports/{job.id}")
    again = client.post(f"/imports/{job.id}/start", data={"csrf_token": token})
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/imports/{job.id}")
    assert client.get(columns_url).status_code == 302
    # 7 undo
    response = client.post(f"/imports/{job.id}/undo", data={"csrf_token": token})
    assert response.status_code == 302
    run_round(WorkerSettings(once=True), run_tracks=False)
    assert count(Opportunity) == 0
    assert count(Company) == 0  # the companies the deals named went with them
    page = client.get(f"/imports/{job.id}").get_data(as_text=True)
    assert "Undone" in page and "Undo this import" not in page


def test_a_saved_mapping_is_offered_for_the_next_file(client: FlaskClient, manager: Member) -> None:
    mapping = ImportMapping(
        name="Odd export", kind="contacts", columns='{"first_name": "Vorname", "email": "Mail"}'
    )
    db.session.add(mapping)
    db.session.commit()
    upload(client, b"Vorname,Mail\nAnn,ann@example.com\n", "contacts")
    job = db.session.scalars(select(ImportJob)).one()
    page = client.get(f"/imports/{job.id}/columns?mapping={mapping.id}").get_data(as_text=True)
    assert "Odd export" in page
    assert re.search(r'<option selected value="Vorname">|<option value="Vorname" selected>', page)


def test_a_required_field_left_out_is_said_next_to_it(client: FlaskClient, manager: Member) -> None:
    upload(client, (DATA / "activities.csv").read_bytes(), "activities")
    job = db.session.scalars(select(ImportJob)).one()
    url = f"/imports/{job.id}/columns"
    form = {f"column_{k}": v for k, v in jobs.columns_of(job).items()}
    form.update(column_type="", duplicates="skip", csrf_token=page_token(client, url))
    page = client.post(url, data=form).get_data(as_text=True)
    assert 'id="column_type-error"' in page and "type (code or name)" in page
    # an unknown header is not a choice
    form.update(column_type="No such column")
    page = client.post(url, data=form).get_data(as_text=True)
    assert 'id="column_type-error"' in page


def test_activity_preview_says_how_points_are_earned(client: FlaskClient, manager: Member) -> None:
    upload(client, (DATA / "activities.csv").read_bytes(), "activities")
    job = db.session.scalars(select(ImportJob)).one()
    page = client.get(f"/imports/{job.id}/preview").get_data(as_text=True)
    assert "earn the points their type is worth" in page and "frozen" in page
    assert "SA - 1st Appointment" in page


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"", "empty.csv", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "not a CSV or Excel"),
        (b"PK\x03\x04 a zip that is no workbook", "book.xlsx", "not a CSV or Excel"),
        (b"\r\n,,,\r\n", "blank.csv", "The file has no rows."),
    ],
)
def test_bad_uploads_say_why_and_change_nothing(
    client: FlaskClient, manager: Member, content: bytes, filename: str, message: str
) -> None:
    response = upload(client, content, "contacts", filename)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert count(ImportJob) == 0


def test_no_file_and_too_large_a_file(
    client: FlaskClient, manager: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = page_token(client, "/imports/")
    page = client.post("/imports/", data={"kind": "contacts", "csrf_token": token})
    assert "Choose a CSV or Excel file." in page.get_data(as_text=True)
    monkeypatch.setattr(import_pages, "UPLOAD_REQUEST_LIMIT", 4096)
    response = upload(client, b"Email\n" + b"someone@example.com\n" * 400, "contacts")
    assert response.status_code == 413
    assert "larger than 32 MB" in response.get_data(as_text=True)
    assert count(ImportJob) == 0


def test_the_upload_limit_is_raised_for_imports_only(
    client: FlaskClient, manager: Member, app: Flask
) -> None:
    # A 6 MB file: above the app's 4 MB request limit, which the upload endpoint raises.
    assert app.config["MAX_CONTENT_LENGTH"] < 6 * 1024 * 1024
    rows = b"".join(b"Person %d,p%d@example.com\n" % (n, n) for n in range(230_000))
    assert len(rows) > 6 * 1024 * 1024
    response = upload(client, b"Name,Email\n" + rows[: 6 * 1024 * 1024 // 30 * 30], "contacts")
    assert response.status_code == 302


def test_reps_may_not_import(
    client: FlaskClient, signed_in: Callable[..., Member], make_member: Callable[..., Member]
) -> None:
    signed_in(Role.REP)
    boss = make_member(role=Role.MANAGER)
    job = jobs.start(b"Email\nann@example.com\n", "x.csv", "contacts", by=boss)
    db.session.commit()
    assert client.get("/imports/").status_code == 403
    assert client.get(f"/imports/{job.id}/preview").status_code == 403
    token = page_token(client, "/")
    assert client.post("/imports/", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/imports/{job.id}/start", data={"csrf_token": token}).status_code == 403
    assert db.session.get(ImportJob, job.id).status == ImportStatus.UPLOADED  # type: ignore[union-attr]
    assert client.get("/setup/").status_code == 200
    assert "/imports/" not in client.get("/setup/").get_data(as_text=True)


def test_another_manager_sees_an_import_and_its_author(
    client: FlaskClient, manager: Member, make_member: Callable[..., Member]
) -> None:
    other = make_member(name="Manny Martinez", role=Role.ADMIN)
    job = jobs.start(b"Email\nann@example.com\n", "x.csv", "contacts", by=other)
    jobs.queue(job)
    db.session.commit()
    page = client.get(f"/imports/{job.id}").get_data(as_text=True)
    assert "started by Manny Martinez" in page
    assert "Manny Martinez" in client.get("/imports/").get_data(as_text=True)


def test_unknown_import_is_404(client: FlaskClient, manager: Member) -> None:
    assert client.get("/imports/999").status_code == 404
    assert client.get("/imports/999/errors.csv").status_code == 404


def test_cli_import_with_a_saved_mapping_and_dry_run(
    app: Flask, make_member: Callable[..., Member], tmp_path: Path
) -> None:
    make_member(name="Nick Points", email="nick@example.com", role=Role.ADMIN)
    path = tmp_path / "persons.csv"
    path.write_bytes((DATA / "pipedrive_persons.csv").read_bytes())
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["crm", "import", str(path), "--kind", "contacts", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Dry run, nothing stored: 2 created" in dry.output
    assert count(Contact) == 0 and count(ImportJob) == 0
    db.session.add(
        ImportMapping(name="Persons", kind="contacts", columns='{"full_name": "Person - Name"}')
    )
    db.session.commit()
    done = runner.invoke(
        args=["crm", "import", str(path), "--kind", "contacts", "--mapping", "Persons"]
    )
    assert done.exit_code == 0, done.output
    assert "2 created, 0 updated, 0 skipped, 0 with errors" in done.output
    db.session.expire_all()
    assert sorted(c.email for c in db.session.scalars(select(Contact))) == ["", ""]
    job = db.session.scalars(select(ImportJob)).one()
    assert job.status == ImportStatus.DONE and job.content == b""
    unknown = runner.invoke(
        args=["crm", "import", str(path), "--kind", "contacts", "--mapping", "Nope"]
    )
    assert unknown.exit_code != 0 and "No contacts mapping is called Nope" in unknown.output
