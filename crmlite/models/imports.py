"""Imports: a file a manager brought in (companies, contacts, opportunities or activities),
how its columns map to crmlite's fields, what it created or changed (so it can be undone),
and the rows it refused (services/imports/)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.database import UTCDateTime
from crmlite.models.base import Model, created_at_column, fk, rel
from crmlite.models.people import Member


class ImportKind(StrEnum):
    COMPANIES = "companies"
    CONTACTS = "contacts"
    OPPORTUNITIES = "opportunities"
    ACTIVITIES = "activities"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ImportStatus(StrEnum):
    UPLOADED = "uploaded"  # being mapped and previewed
    QUEUED = "queued"  # waiting for the worker
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # nothing was imported (the transaction was rolled back)
    UNDO_QUEUED = "undo_queued"
    UNDONE = "undone"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class DuplicateMode(StrEnum):
    """What an import does with a row matching a company (name or domain) or a contact
    (e-mail) already there."""

    SKIP = "skip"
    UPDATE = "update"
    CREATE = "create"


class ImportMapping(Model):
    """A named, reusable mapping of a file's column headers to crmlite's fields, per kind."""

    __tablename__ = "import_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    # JSON object: field key → column header.
    columns: Mapped[str] = mapped_column(Text, default="{}")
    created_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (UniqueConstraint("kind", "name"),)


class ImportJob(Model):
    """One uploaded file and its import: mapped, previewed, queued, run by the worker in one
    transaction, reported, and undoable for a week."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(8))  # csv or xlsx
    # The file itself, kept until the import is done (then emptied).
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer, default=0)
    encoding: Mapped[str] = mapped_column(String(40), default="")
    delimiter: Mapped[str] = mapped_column(String(1), default="")
    headers: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    columns: Mapped[str] = mapped_column(Text, default="{}")  # JSON: field key → header
    duplicates: Mapped[str] = mapped_column(String(8), default=DuplicateMode.SKIP.value)
    status: Mapped[str] = mapped_column(String(12), default=ImportStatus.UPLOADED.value)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    checked_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = fk("members.id", ondelete="SET NULL")
    created_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "status IN ('uploaded', 'queued', 'running', 'done', 'failed', 'undo_queued', "
            "'undone')",
            name="status_values",
        ),
        CheckConstraint("duplicates IN ('skip', 'update', 'create')", name="duplicates_values"),
        Index("ix_import_jobs_status", "status", "id"),
    )

    created_by: Mapped[Member | None] = rel(Member)


class ImportChange(Model):
    """One record an import created or updated; ``previous`` (JSON) holds the values an
    update replaced, which undoing puts back."""

    __tablename__ = "import_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = fk("import_jobs.id", ondelete="CASCADE", nullable=False)
    record_kind: Mapped[str] = mapped_column(String(16))  # an ImportKind
    record_id: Mapped[int] = mapped_column(Integer)
    created: Mapped[bool] = mapped_column(default=True)
    previous: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_import_changes_job", "job_id", "record_kind", "created"),)


class ImportProblem(Model):
    """A row an import refused, with the field at fault and why (the downloadable errors)."""

    __tablename__ = "import_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = fk("import_jobs.id", ondelete="CASCADE", nullable=False)
    row_number: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(String(300))

    __table_args__ = (Index("ix_import_problems_job", "job_id", "row_number"),)
