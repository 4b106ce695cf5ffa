"""The whole database as a portable archive, and reading one back.

The archive is a ZIP: one CSV per table (a header row of column names, then every row by
primary key) and ``manifest.json`` — the format version, the app's version, the database's
Alembic revision, and the tables in dependency order (a table after those it refers to),
each with its row count, its columns and the SHA-256 of its file.

Lossless by construction: values are written as the database returns them — whole
numbers, decimals as stored ("1234.50"), days and moments in ISO 8601 (moments in UTC with
their offset), booleans as ``true``/``false`` — and an empty text is told apart from a
missing value: ``\\N`` is NULL (PostgreSQL's COPY convention), and a text that begins with
a backslash gets a second one in front.

Reading it back (``restore_archive``) loads an empty database migrated to the archive's
revision: it refuses a database with any row in it, a manifest it does not know, a table
or column the database does not have and a file whose checksum differs; it keeps every
id, and on PostgreSQL moves each id sequence past the highest id restored, so new records
do not collide. The export reads in one transaction of its own (a snapshot on both
engines), so the archive is consistent while the app runs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import metadata as package_metadata
from typing import IO, Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    Numeric,
    Table,
    delete,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

from crmlite.database import holds_rows
from crmlite.extensions import db
from crmlite.models import (
    SEARCHED,
    BoardClosedMonth,
    CalendarFeedStamp,
    ClosedMemberMonth,
    ClosedMonth,
    HygieneCount,
    LostReasonMonth,
    MemberStageMonth,
    PipelineMonth,
    StageMonth,
    board_totals,
)
from crmlite.services import board, rollups

FORMAT = "crmlite-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
NULL = "\\N"
BATCH = 1000


class ArchiveRefused(ValueError):
    """The archive cannot be loaded here; the message says why."""


@dataclass(frozen=True)
class TableEntry:
    name: str
    file: str
    rows: int
    columns: list[str]
    sha256: str


# ---------------------------------------------------------------- values


def encode(value: Any) -> str:
    """A database value as archive text (see the module's docstring)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, str):
        return "\\" + value if value.startswith("\\") else value
    return str(value)


def _kind(column: Column[Any]) -> Any:
    column_type = column.type
    impl = getattr(column_type, "impl", None)  # a TypeDecorator: what it stores
    return impl if impl is not None and not isinstance(impl, type) else column_type


def decode(raw: str, column: Column[Any]) -> Any:
    """Archive text as the value for this column."""
    if raw == NULL:
        return None
    kind = _kind(column)
    if isinstance(kind, Boolean):
        if raw not in ("true", "false"):
            raise ArchiveRefused(f"{column.table.name}.{column.name}: “{raw[:20]}” is no boolean.")
        return raw == "true"
    try:
        if isinstance(kind, Integer):
            return int(raw)
        if isinstance(kind, Numeric):
            return Decimal(raw)
        if isinstance(kind, DateTime):
            return datetime.fromisoformat(raw)
        if isinstance(kind, Date):
            return date.fromisoformat(raw)
    except (ValueError, ArithmeticError):
        raise ArchiveRefused(
            f"{column.table.name}.{column.name}: “{raw[:30]}” cannot be read."
        ) from None
    return raw[1:] if raw.startswith("\\\\") else raw


# ---------------------------------------------------------------- writing


def app_version() -> str:
    try:
        return package_metadata.version("crmlite")
    except package_metadata.PackageNotFoundError:
        return "unknown"


def current_revision(connection: Connection) -> str | None:
    """The Alembic revision the database is migrated to (None: never migrated)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


class _Digesting(io.RawIOBase):
    """Passes bytes on to ``target`` and hashes them on the way."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.digest.update(data)
        self.target.write(data)
        return len(data)


def _ordered(table: Table) -> Any:
    return select(table).order_by(*table.primary_key.columns)


def _write_table(connection: Connection, table: Table, archive: zipfile.ZipFile) -> TableEntry:
    name = f"{table.name}.csv"
    columns = [c.name for c in table.columns]
    count = 0
    with archive.open(name, "w") as member:
        digesting = _Digesting(member)
        buffered = io.BufferedWriter(digesting, buffer_size=1 << 16)
        wrapper = io.TextIOWrapper(buffered, encoding="utf-8", newline="")
        writer = csv.writer(wrapper)
        writer.writerow(columns)
        result = connection.execution_options(yield_per=BATCH).execute(_ordered(table))
        for row in result:
            writer.writerow([encode(value) for value in row])
            count += 1
        wrapper.flush()
        buffered.flush()
        wrapper.detach()
    return TableEntry(table.name, name, count, columns, digesting.digest.hexdigest())


def write_archive(target: IO[bytes] | str) -> dict[str, Any]:
    """Write every table of the database into ``target`` (a path or a binary file) as the
    archive; returns its manifest. Reads in one transaction of its own, on its own
    connection: a consistent snapshot, whatever the session is doing."""
    engine = db.engine
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin(), zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            entries = [
                _write_table(connection, table, archive) for table in db.metadata.sorted_tables
            ]
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "app_version": app_version(),
                "alembic_revision": current_revision(connection),
                "database": engine.dialect.name,
                "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                "tables": [vars(entry) for entry in entries],
            }
            archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
    return manifest


# ---------------------------------------------------------------- reading


def read_manifest(archive: zipfile.ZipFile) -> tuple[dict[str, Any], list[TableEntry]]:
    """The manifest, checked: our format and version, and tables with their columns."""
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError):
        raise ArchiveRefused(
            "This is no crmlite archive: it has no readable manifest.json."
        ) from None
    if manifest.get("format") != FORMAT:
        raise ArchiveRefused("This is no crmlite archive (manifest.json names another format).")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArchiveRefused(
            f"The archive's format version is {manifest.get('format_version')!r}; this "
            f"crmlite reads version {FORMAT_VERSION}."
        )
    try:
        entries = [TableEntry(**entry) for entry in manifest["tables"]]
    except (KeyError, TypeError):
        raise ArchiveRefused("The archive's manifest lists its tables wrongly.") from None
    return manifest, entries


def _check_target(manifest: dict[str, Any], entries: list[TableEntry]) -> None:
    connection = db.session.connection()
    revision = current_revision(connection)
    if manifest.get("alembic_revision") != revision:
        raise ArchiveRefused(
            f"The archive was made at database revision {manifest.get('alembic_revision')}; "
            f"this database is at {revision}. Migrate it to the archive's revision "
            "(flask db upgrade REVISION) first."
        )
    tables = db.metadata.tables
    for entry in entries:
        table = tables.get(entry.name)
        if table is None:
            raise ArchiveRefused(f"The archive has a table this database has not: {entry.name}.")
        if entry.columns != [c.name for c in table.columns]:
            raise ArchiveRefused(f"The columns of {entry.name} differ from this database's.")
    filled = [t.name for t in tables.values() if holds_rows(db.session, t)]
    if filled:
        raise ArchiveRefused(
            "The database is not empty (rows in " + ", ".join(sorted(filled)[:5]) + "): an "
            "archive is loaded only into an empty, migrated database."
        )


def _verify(archive: zipfile.ZipFile, entry: TableEntry) -> None:
    digest = hashlib.sha256()
    try:
        with archive.open(entry.file) as member:
            while chunk := member.read(1 << 16):
                digest.update(chunk)
    except KeyError:
        raise ArchiveRefused(f"The archive has no {entry.file}.") from None
    if digest.hexdigest() != entry.sha256:
        raise ArchiveRefused(f"{entry.file} does not match its checksum: the archive is damaged.")


def _rows(archive: zipfile.ZipFile, entry: TableEntry) -> Iterator[list[str]]:
    with archive.open(entry.file) as member:
        reader = csv.reader(io.TextIOWrapper(member, encoding="utf-8", newline=""))
        if next(reader, None) != entry.columns:
            raise ArchiveRefused(f"{entry.file}'s header differs from the manifest's columns.")
        yield from reader


def _later_references(table: Table, loaded: set[str]) -> list[Column[Any]]:
    """Columns referring to rows not loaded yet (the table itself, or a table later in the
    order): loaded empty first, filled in once every table is there."""
    return [
        fk.parent
        for fk in table.foreign_keys
        if fk.column.table.name == table.name or fk.column.table.name not in loaded
    ]


# Tables the database keeps from others (triggers): in the archive, but not loaded from it.
DERIVED = {
    model.__tablename__
    for model in (
        board_totals.BoardTotal,
        BoardClosedMonth,
        ClosedMemberMonth,
        ClosedMonth,
        HygieneCount,
        LostReasonMonth,
        MemberStageMonth,
        PipelineMonth,
        StageMonth,
    )
} | set(SEARCHED)  # the search's tables (SQLite) are not models either


# Counts the triggers raise and nothing can recompute (each member's feed's count of changes):
# loaded last, as archived, over what the triggers counted while the rows went in, so each
# count goes on from where it was (a calendar's ETag never meets an earlier count again).
COUNTED = {CalendarFeedStamp.__tablename__}


def restore_archive(source: IO[bytes] | str) -> dict[str, int]:
    """Load the archive into this (empty, migrated) database, keeping every id; returns the
    rows loaded per table. Flushes, never commits: the caller commits, and nothing is kept
    when anything is refused."""
    with zipfile.ZipFile(source) as archive:
        manifest, entries = read_manifest(archive)
        _check_target(manifest, entries)
        for entry in entries:
            _verify(archive, entry)
        tables = db.metadata.tables
        loaded: set[str] = set()
        pending: list[tuple[Table, dict[str, Any], list[Column[Any]]]] = []
        counts: dict[str, int] = {}

        def load(entry: TableEntry) -> None:
            table = tables[entry.name]
            later = _later_references(table, loaded)
            later_names = {c.name for c in later}
            columns = list(table.columns)
            batch: list[dict[str, Any]] = []
            count = 0
            for raw in _rows(archive, entry):
                if len(raw) != len(columns):
                    raise ArchiveRefused(f"{entry.file}: a row has {len(raw)} values.")
                values = {c.name: decode(v, c) for c, v in zip(columns, raw, strict=True)}
                if later_names:
                    deferred = {n: values[n] for n in later_names if values[n] is not None}
                    if deferred:
                        keys = {c.name: values[c.name] for c in table.primary_key.columns}
                        pending.append((table, {**keys, **deferred}, later))
                        values.update(dict.fromkeys(deferred))
                batch.append(values)
                count += 1
                if len(batch) == BATCH:
                    db.session.execute(insert(table), batch)
                    batch = []
            if batch:
                db.session.execute(insert(table), batch)
            if count != entry.rows:
                raise ArchiveRefused(
                    f"{entry.file} holds {count} rows; the manifest says {entry.rows}."
                )
            counts[entry.name] = count
            loaded.add(entry.name)

        for entry in entries:
            if entry.name in DERIVED:
                # The triggers fill it as the opportunities go in; rebuilt below to be sure.
                counts[entry.name] = entry.rows
                loaded.add(entry.name)
            elif entry.name not in COUNTED:
                load(entry)
        for table, values, later in pending:
            db.session.execute(
                update(table)
                .where(*(c == values[c.name] for c in table.primary_key.columns))
                .values({c.name: values[c.name] for c in later if c.name in values})
            )
        board.rebuild_totals()
        rollups.rebuild()
        for entry in entries:
            if entry.name in COUNTED:
                db.session.execute(delete(tables[entry.name]))
                load(entry)
        _reset_sequences()
        db.session.flush()
    return counts


def _reset_sequences() -> None:
    """PostgreSQL: each table's id sequence continues after the highest id restored."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        sequence = db.session.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": keys[0].name},
        )
        if sequence:
            db.session.execute(
                text(
                    f'SELECT setval(:sequence, COALESCE(MAX("{keys[0].name}"), 1), '
                    f'MAX("{keys[0].name}") IS NOT NULL) FROM "{table.name}"'
                ),
                {"sequence": sequence},
            )
