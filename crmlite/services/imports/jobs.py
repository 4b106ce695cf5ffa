"""An import from upload to undo: the file is kept with the job; its columns are mapped
and its first rows previewed; the worker runs it (nothing slow runs inside a request) in one
transaction — every valid row or none; rows with problems are reported, never half
stored — and afterwards the planner's statistics are refreshed (``ANALYZE``) so pages stay
as fast as before. For a week an import can be undone: what it created is deleted, what it
updated gets its previous values back.

Progress: the worker counts the rows first and commits the total; on PostgreSQL it then
reports the rows written every thousand through a second connection (the import's own
transaction is not visible until it commits). SQLite has one writer at a time, so there the
page shows the import running until it is done.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.orm import defer, joinedload

from crmlite.database import analyze
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    Company,
    Contact,
    DuplicateMode,
    ImportChange,
    ImportJob,
    ImportKind,
    ImportProblem,
    ImportStatus,
    Member,
    Opportunity,
)
from crmlite.services import next_steps
from crmlite.services.imports.checking import Checked, Lookups, check_row
from crmlite.services.imports.mapping import FIELDS, guess, missing_required, only_known
from crmlite.services.imports.reading import Cell, FileShape, inspect_file, iter_rows
from crmlite.services.imports.writing import Writer
from crmlite.services.parsing import clean_line, guarded

UNDO_DAYS = 7
PREVIEW_ROWS = 20
# After this many rows, refresh the planner's statistics.
ANALYZE_FROM = 1000
PROGRESS_EVERY = 1000
DELETE_BATCH = 500

Log = Callable[[str], None]


class ImportRefused(ValueError):
    """What the import cannot do; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


def start(content: bytes, filename: str, kind: str, *, by: Member) -> ImportJob:
    """A new import of this file (UnreadableFile when it cannot be read), its columns
    guessed from their names."""
    if kind not in FIELDS:
        raise ImportRefused("Choose what the file holds.", "kind")
    shape = inspect_file(content)
    job = ImportJob(
        kind=kind,
        filename=clean_line(filename)[:255] or "upload",
        file_format=shape.file_format,
        content=content,
        size=len(content),
        encoding=shape.encoding,
        delimiter=shape.delimiter,
        headers=json.dumps(shape.headers),
        columns=json.dumps(guess(kind, shape.headers)),
        created_by_id=by.id,
    )
    db.session.add(job)
    db.session.flush()
    return job


def headers_of(job: ImportJob) -> list[str]:
    return list(json.loads(job.headers or "[]"))


def columns_of(job: ImportJob) -> dict[str, str]:
    return dict(json.loads(job.columns or "{}"))


def set_columns(job: ImportJob, columns: dict[str, str], duplicates: str) -> None:
    """The job's mapping (unknown fields and headers dropped) and duplicate rule;
    ImportRefused naming a required field no column feeds."""
    columns = only_known(job.kind, columns, headers_of(job))
    missing = missing_required(job.kind, columns)
    if missing:
        raise ImportRefused(
            f"Choose the column that holds the {missing[0].label.lower()}.", missing[0].key
        )
    if duplicates not in {m.value for m in DuplicateMode}:
        raise ImportRefused("Choose what to do with duplicates.", "duplicates")
    job.columns = json.dumps(columns)
    job.duplicates = duplicates
    db.session.flush()


def _shape(job: ImportJob) -> FileShape:
    return FileShape(job.file_format, job.encoding, job.delimiter, headers_of(job))


def mapped_rows(job: ImportJob) -> Iterator[tuple[int, dict[str, Cell]]]:
    """(row number, cells by field) of each row, as the mapping says."""
    positions = {h: i for i, h in enumerate(headers_of(job))}
    wanted = [(field, positions[h]) for field, h in columns_of(job).items() if h in positions]
    for number, row in iter_rows(job.content, _shape(job)):
        yield number, {f: row[i] if i < len(row) else None for f, i in wanted}


def checked_rows(job: ImportJob, lookups: Lookups) -> Iterator[Checked]:
    for number, cells in mapped_rows(job):
        yield check_row(job.kind, number, cells, lookups)


@dataclass(frozen=True)
class Preview:
    rows: list[Checked]
    fields: list[tuple[str, str]]  # (key, label) of the mapped fields


def preview(job: ImportJob, limit: int = PREVIEW_ROWS) -> Preview:
    """The first rows as they would be stored, with their problems per field."""
    columns = columns_of(job)
    fields = [(f.key, f.label) for f in FIELDS[job.kind] if f.key in columns]
    lookups = Lookups.load(job.kind)
    return Preview(list(islice(checked_rows(job, lookups), limit)), fields)


def queue(job: ImportJob) -> None:
    """Hand the import to the worker."""
    if job.status != ImportStatus.UPLOADED:
        raise ImportRefused("This import has already started.", "status")
    job.status = ImportStatus.QUEUED.value
    db.session.flush()


# ---------------------------------------------------------------- running


def run(
    job: ImportJob, *, by: Member, tz: ZoneInfo, progress: Callable[[int], None] | None = None
) -> None:
    """Import every row in the caller's transaction (nothing committed here); the job's
    counts say what happened. Rows with problems are stored as ``ImportProblem`` rows."""
    columns = columns_of(job)
    writer = Writer(
        job_id=job.id,
        kind=job.kind,
        duplicates=job.duplicates,
        mapped=set(columns) | ({"first_name", "last_name"} if "full_name" in columns else set()),
        lookups=Lookups.load(job.kind),
        by=by,
        tz=tz,
    )
    done = 0
    for row in checked_rows(job, writer.lookups):
        writer.write(row)
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done)
    tally = writer.finish()
    job.checked_rows = done
    job.total_rows = max(job.total_rows, done)
    job.created_count = tally.created
    job.updated_count = tally.updated
    job.skipped_count = tally.skipped
    job.error_count = tally.errors
    db.session.flush()


def finish(job: ImportJob) -> None:
    """The import ran: done, and its file no longer kept (its report and changes are)."""
    job.status = ImportStatus.DONE.value
    job.content = b""
    job.finished_at = datetime.now(UTC)
    db.session.flush()


def is_large(job: ImportJob) -> bool:
    """Large enough to change what the query planner should know."""
    return job.created_count + job.updated_count >= ANALYZE_FROM


def _progress_writer(job_id: int) -> Callable[[int], None] | None:
    if db.engine.dialect.name != "postgresql":
        return None

    def report(done: int) -> None:
        with db.engine.connect() as connection:
            connection.execute(
                update(ImportJob).where(ImportJob.id == job_id).values(checked_rows=done)
            )
            connection.commit()

    return report


def _claim(status: ImportStatus, to: ImportStatus) -> ImportJob | None:
    job_id = db.session.scalar(
        select(ImportJob.id).where(ImportJob.status == status.value).order_by(ImportJob.id)
    )
    if job_id is None:
        return None
    claimed = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == status.value)
        .values(status=to.value, started_at=datetime.now(UTC))
    )
    db.session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None  # another worker took it
    return db.session.get(ImportJob, job_id)


def run_queued(tz: ZoneInfo, log: Log | None = None) -> int:
    """The worker's part: run the imports waiting (and the undos asked for), one
    transaction each, committing each; how many were handled."""
    handled = 0
    while (job := _claim(ImportStatus.QUEUED, ImportStatus.RUNNING)) is not None:
        handled += 1
        job.total_rows = sum(1 for _ in iter_rows(job.content, _shape(job)))
        db.session.commit()
        by = db.session.get(Member, job.created_by_id) if job.created_by_id else None
        try:
            if by is None:
                raise ImportRefused("The member who started the import is gone.")
            run(job, by=by, tz=tz, progress=_progress_writer(job.id))
            finish(job)
            db.session.commit()
        except Exception as error:  # reported on the job's page; the loop goes on
            db.session.rollback()
            _failed(job.id, f"{type(error).__name__}: {error}")
            if log:
                log(f"import {job.id} failed: {error}")
            continue
        if log:
            log(f"import {job.id}: {report_line(job)}")
        if is_large(job):
            analyze(db.session)
    while (job := _claim(ImportStatus.UNDO_QUEUED, ImportStatus.UNDO_QUEUED)) is not None:
        handled += 1
        undo(job)
        db.session.commit()
        if log:
            log(f"import {job.id} undone")
    return handled


def _failed(job_id: int, message: str) -> None:
    db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(
            status=ImportStatus.FAILED.value, message=message[:500], finished_at=datetime.now(UTC)
        )
    )
    db.session.commit()


def report_line(job: ImportJob) -> str:
    return (
        f"{job.created_count:,} created, {job.updated_count:,} updated, "
        f"{job.skipped_count:,} skipped, {job.error_count:,} with errors"
    )


# ---------------------------------------------------------------- undo


def undo_until(job: ImportJob) -> datetime | None:
    return job.finished_at + timedelta(days=UNDO_DAYS) if job.finished_at else None


def can_undo(job: ImportJob, now: datetime | None = None) -> bool:
    """A finished import may be undone for a week."""
    until = undo_until(job)
    return (
        job.status == ImportStatus.DONE and until is not None and (now or datetime.now(UTC)) < until
    )


def ask_undo(job: ImportJob, now: datetime | None = None) -> None:
    """Hand the undo to the worker; ImportRefused once the week has passed."""
    if not can_undo(job, now):
        raise ImportRefused("This import can no longer be undone.", "undo")
    job.status = ImportStatus.UNDO_QUEUED.value
    db.session.flush()


def _ids(job_id: int, kind: ImportKind, created: bool) -> list[int]:
    return list(
        db.session.scalars(
            select(ImportChange.record_id).where(
                ImportChange.job_id == job_id,
                ImportChange.record_kind == kind.value,
                ImportChange.created == created,
            )
        )
    )


def _batches(ids: list[int]) -> Iterator[list[int]]:
    for start_at in range(0, len(ids), DELETE_BATCH):
        yield ids[start_at : start_at + DELETE_BATCH]


def undo(job: ImportJob) -> None:
    """Delete what the import created, newest kinds first, and put back the previous
    values of what it updated (in the caller's transaction)."""
    touched: set[int] = set()
    for batch in _batches(_ids(job.id, ImportKind.ACTIVITIES, True)):
        touched.update(
            i
            for i in db.session.scalars(
                select(Activity.opportunity_id).where(Activity.id.in_(batch))
            )
            if i
        )
        db.session.execute(delete(ActivityNote).where(ActivityNote.activity_id.in_(batch)))
        db.session.execute(delete(Activity).where(Activity.id.in_(batch)))
    models: list[tuple[ImportKind, type[Opportunity] | type[Contact] | type[Company]]] = [
        (ImportKind.OPPORTUNITIES, Opportunity),
        (ImportKind.CONTACTS, Contact),
        (ImportKind.COMPANIES, Company),
    ]
    for kind, model in models:
        for batch in _batches(_ids(job.id, kind, True)):
            db.session.execute(
                delete(model).where(model.id.in_(batch)),
                execution_options={"synchronize_session": False},
            )
    for change in db.session.scalars(
        select(ImportChange).where(ImportChange.job_id == job.id, ~ImportChange.created)
    ):
        model = Contact if change.record_kind == ImportKind.CONTACTS else Company
        previous = json.loads(change.previous or "{}")
        previous["updated_at"] = datetime.fromisoformat(previous["updated_at"])
        db.session.execute(
            update(model).where(model.id == change.record_id).values(**previous),
            execution_options={"synchronize_session": False},
        )
    next_steps.refresh(db.session(), touched)
    db.session.execute(delete(ImportChange).where(ImportChange.job_id == job.id))
    job.status = ImportStatus.UNDONE.value
    job.undone_at = datetime.now(UTC)
    db.session.flush()


# ---------------------------------------------------------------- report


def problems(job_id: int, limit: int | None = None) -> list[ImportProblem]:
    query = (
        select(ImportProblem)
        .where(ImportProblem.job_id == job_id)
        .order_by(ImportProblem.row_number, ImportProblem.id)
    )
    return list(db.session.scalars(query.limit(limit) if limit else query))


def problems_csv(job_id: int) -> str:
    """The refused rows as CSV: row, field, value, problem."""
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(["row", "field", "value", "problem"])
    query = (
        select(
            ImportProblem.row_number,
            ImportProblem.field,
            ImportProblem.value,
            ImportProblem.message,
        )
        .where(ImportProblem.job_id == job_id)
        .order_by(ImportProblem.row_number, ImportProblem.id)
    )
    for row in db.session.execute(query):
        out.writerow([row.row_number, row.field, guarded(row.value), row.message])
    return buffer.getvalue()


def load_job(job_id: int) -> ImportJob | None:
    """An import with who started it."""
    return db.session.scalars(
        select(ImportJob).options(joinedload(ImportJob.created_by)).where(ImportJob.id == job_id)
    ).first()


def recent_jobs(limit: int = 30) -> list[ImportJob]:
    """The latest imports, newest first, without their files."""
    return list(
        db.session.scalars(
            select(ImportJob)
            .options(defer(ImportJob.content), joinedload(ImportJob.created_by))
            .order_by(ImportJob.id.desc())
            .limit(limit)
        )
    )
