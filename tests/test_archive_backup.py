"""The whole database out and back in: the portable archive (export-archive /
import-archive, and Setup's download) and backup / restore, each round-tripped on this
run's engine and compared table by table, row by row."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import stamp, upgrade
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url

from crmlite import create_app
from crmlite.config import TestConfig
from crmlite.demo import load_demo
from crmlite.extensions import db
from crmlite.models import Company, Member, Opportunity, Role, Track
from crmlite.services import archive, backup

TODAY = date(2026, 11, 18)


@pytest.fixture()
def other_database(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database beside the suite's (no tables): a file on SQLite, a
    database on PostgreSQL."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'other.sqlite'}"
        return
    name = f"{url.database}_restored"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def filled(app: Flask) -> Iterator[None]:
    """The demo team (members, companies, deals with forecast lines, notes, history,
    activities, campaigns, tracks) and a few awkward values; stamped at the migrations'
    head, as a migrated database is."""
    load_demo(today=TODAY)
    company = db.session.scalars(select(Company).order_by(Company.id)).first()
    assert company is not None
    company.notes = '\\N is not null; \\ starts here\nsecond line, "quoted", ünïcödé'
    company.website = ""
    tracks = list(db.session.scalars(select(Track).order_by(Track.id.desc())))
    # A reference to a row loaded later in its own table (read back in two steps).
    tracks[-1].on_complete_track_id = tracks[0].id
    db.session.commit()
    stamp()
    yield
    db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.session.commit()


@contextmanager
def other_app(url: str) -> Iterator[Flask]:
    """The app on the other database, its context pushed; its connections closed after."""
    other = create_app(TestConfig(url))
    with other.app_context():
        try:
            yield other
        finally:
            db.session.remove()
            db.engine.dispose()


def every_row(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in db.metadata.sorted_tables
        }


def assert_same_database(source: dict[str, list[Any]], target: dict[str, list[Any]]) -> None:
    assert source.keys() == target.keys()
    for name, rows in source.items():
        assert target[name] == rows, name
    assert len(source["opportunities"]) > 20 and len(source["activities"]) > 100


# ---------------------------------------------------------------- the archive


def test_archive_round_trips_every_table_row_by_row(
    app: Flask, filled: None, other_database: str, tmp_path: Path
) -> None:
    path = tmp_path / "archive.zip"
    manifest = archive.write_archive(str(path))
    source = every_row(db.engine)

    with other_app(other_database):
        upgrade()  # an empty, migrated database
        counts = archive.restore_archive(str(path))
        db.session.commit()
        assert counts["opportunities"] == len(source["opportunities"])
        assert_same_database(source, every_row(db.engine))
        # Ids continue after the highest one restored (PostgreSQL's sequences were reset).
        newest = max(row[0] for row in source["companies"])
        company = Company(name="After the restore")
        db.session.add(company)
        db.session.commit()
        assert company.id == newest + 1

    names = [entry["name"] for entry in manifest["tables"]]
    assert names.index("companies") < names.index("opportunities") < names.index("activities")
    assert manifest["format_version"] == 1 and manifest["alembic_revision"]


def test_every_table_the_triggers_write_is_rebuilt_or_counted_on_restore(app: Flask) -> None:
    """A table the database's triggers write (a roll-up, the feeds' counts) is not loaded
    from the archive like the others: the triggers fill it as its sources go in, so loading
    it too would add everything twice (or fail on its keys)."""
    if db.engine.dialect.name == "sqlite":
        bodies = db.session.scalars(text("SELECT sql FROM sqlite_master WHERE type = 'trigger'"))
    else:
        bodies = db.session.scalars(
            text("SELECT DISTINCT p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid")
        )
    written = {
        name
        for body in bodies
        for name in re.findall(r"(?:INSERT INTO|UPDATE)\s+(?!OF\b|SET\b)(\w+)", body)
    }
    assert {"board_totals", "lost_reason_rollups", "calendar_feed_stamps"} <= written
    assert written <= archive.DERIVED | archive.COUNTED


def test_the_archive_holds_a_csv_per_table_and_its_manifest(
    app: Flask, filled: None, tmp_path: Path
) -> None:
    path = tmp_path / "archive.zip"
    archive.write_archive(str(path))
    with zipfile.ZipFile(path) as zipped:
        manifest = json.loads(zipped.read("manifest.json"))
        entries = {entry["name"]: entry for entry in manifest["tables"]}
        assert set(zipped.namelist()) == {"manifest.json"} | {f"{n}.csv" for n in entries}
        opportunities = zipped.read("opportunities.csv").decode().splitlines()
        assert opportunities[0].split(",")[:3] == ["id", "name", "description"]
        assert len(opportunities) - 1 == entries["opportunities"]["rows"]
        assert entries["opportunities"]["columns"][:2] == ["id", "name"]
        assert len(entries["opportunities"]["sha256"]) == 64
        companies = zipped.read("companies.csv").decode()
        assert "\\\\N is not null" in companies  # a backslash at the start is doubled
        assert "\\N" in companies  # and NULL is \N


def test_the_archive_goes_only_into_an_empty_database_at_its_revision(
    app: Flask, filled: None, other_database: str, tmp_path: Path
) -> None:
    path = tmp_path / "archive.zip"
    archive.write_archive(str(path))
    with pytest.raises(archive.ArchiveRefused, match="not empty"):
        archive.restore_archive(str(path))  # into the very database it came from
    db.session.rollback()

    with other_app(other_database):
        db.create_all()  # tables, but never migrated: no revision
        with pytest.raises(archive.ArchiveRefused, match="revision"):
            archive.restore_archive(str(path))
        db.session.rollback()


def test_a_damaged_archive_is_refused_and_nothing_is_loaded(
    app: Flask, filled: None, other_database: str, tmp_path: Path
) -> None:
    path = tmp_path / "archive.zip"
    archive.write_archive(str(path))
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "members.csv":
                data = data.replace(b"Cory", b"Rory")
            target.writestr(name, data)
    with other_app(other_database):
        upgrade()
        with pytest.raises(archive.ArchiveRefused, match=r"members\.csv does not match"):
            archive.restore_archive(str(damaged))
        db.session.rollback()
        assert db.session.scalar(select(Member.id)) is None
        with pytest.raises(archive.ArchiveRefused, match="no crmlite archive"):
            archive.restore_archive(io.BytesIO(b"PK\x05\x06" + b"\0" * 18))
        db.session.rollback()


def test_the_commands_export_and_import_the_archive(
    app: Flask, filled: None, other_database: str, tmp_path: Path
) -> None:
    path = tmp_path / "archive.zip"
    result = app.test_cli_runner().invoke(args=["crm", "export-archive", str(path)])
    assert result.exit_code == 0, result.output
    assert "tables" in result.output and path.exists()
    source = every_row(db.engine)

    refused = app.test_cli_runner().invoke(args=["crm", "import-archive", str(path)])
    assert refused.exit_code == 1 and "not empty" in refused.output

    with other_app(other_database) as other:
        upgrade()
        result = other.test_cli_runner().invoke(args=["crm", "import-archive", str(path)])
        assert result.exit_code == 0, result.output
        assert "Loaded" in result.output
        assert_same_database(source, every_row(db.engine))


def test_only_an_admin_downloads_the_archive(
    client: FlaskClient, signed_in: Callable[..., Member], make_opportunity: Callable[..., Any]
) -> None:
    make_opportunity(name="In the archive")
    signed_in(Role.MANAGER)
    assert client.get("/setup/archive.zip").status_code == 403
    assert b"archive.zip" not in client.get("/setup/").data


def test_a_rep_may_not_download_the_archive(
    client: FlaskClient, signed_in: Callable[..., Member]
) -> None:
    signed_in(Role.REP)
    assert client.get("/setup/archive.zip").status_code == 403


def test_an_admin_downloads_the_archive_from_setup(
    client: FlaskClient, signed_in: Callable[..., Member], make_opportunity: Callable[..., Any]
) -> None:
    make_opportunity(name="In the archive")
    signed_in(Role.ADMIN)
    assert b"/setup/archive.zip" in client.get("/setup/").data
    response = client.get("/setup/archive.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as zipped:
        assert "In the archive" in zipped.read("opportunities.csv").decode()
        manifest = json.loads(zipped.read("manifest.json"))
    assert {e["name"]: e["rows"] for e in manifest["tables"]}["opportunities"] == 1
    response.close()


# ---------------------------------------------------------------- backup and restore


def test_backup_and_restore_round_trip_every_table(
    app: Flask, filled: None, other_database: str, tmp_path: Path
) -> None:
    path = tmp_path / "crmlite.backup"
    result = app.test_cli_runner().invoke(args=["crm", "backup", str(path)])
    assert result.exit_code == 0, result.output
    if db.engine.dialect.name == "postgresql":
        assert "pg_dump" in result.output
    else:
        assert "online backup API" in result.output
    source = every_row(db.engine)

    with other_app(other_database) as other:
        result = other.test_cli_runner().invoke(args=["crm", "restore", str(path)])
        assert result.exit_code == 0, result.output
        assert_same_database(source, every_row(db.engine))


def test_restore_refuses_a_database_that_is_not_empty(
    app: Flask, filled: None, other_database: str, tmp_path: Path
) -> None:
    path = tmp_path / "crmlite.backup"
    backup.backup(path)
    before = db.session.scalar(select(Opportunity.id).order_by(Opportunity.id.desc()))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["crm", "restore", str(path)])
    assert result.exit_code == 1
    assert "not empty" in result.output and "--force" in result.output
    assert db.session.scalar(select(Opportunity.id).order_by(Opportunity.id.desc())) == before

    # Told to, it replaces what the other database holds.
    with other_app(other_database) as other:
        db.create_all()
        db.session.add(Company(name="Replaced"))
        db.session.commit()
        result = other.test_cli_runner().invoke(args=["crm", "restore", "--force", str(path)])
        assert result.exit_code == 0, result.output
        names = set(db.session.scalars(select(Company.name)))
        assert "Replaced" not in names and len(names) > 5


def test_a_missing_pg_dump_is_said_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup.shutil, "which", lambda name: None)
    with pytest.raises(backup.BackupFailed, match="pg_dump is not installed"):
        backup._program("pg_dump")
