"""Documents on an opportunity (a proposal, an agreement, a network assessment…): what may
be uploaded, where the file is kept, and who may remove it.

- A document is accepted for what its **content** is, never for its name or the type the
  browser claims: a small allow-list recognised by the file's first bytes (PDF, Word, Excel
  and PowerPoint documents, PNG and JPEG images, plain UTF-8 text). Its name must end in an
  extension of that kind, so a program renamed ``.pdf`` is refused, and so is a picture
  named ``.docx``.
- It is at most ``DOCUMENT_MAX_BYTES`` (10 MB by default), and never empty.
- The file is kept under a random name in the documents folder (``instance/documents``) or,
  when one is configured, an S3-compatible bucket (``document_storage``); the name the
  person gave it is only shown and offered on download. The file is written before its
  row: a store that fails saves nothing.
- The uploader or a manager may delete it (``permissions.py``: ``document.delete``); the
  file goes once the deletion is committed (``discard_file``), so a rolled-back deletion
  never loses it.

The recognition is written here rather than taken from a library: seven signatures, each
checked exactly, with the Office formats told apart by the parts their zip must hold.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crmlite.extensions import db
from crmlite.models import Document, Member, Opportunity
from crmlite.models.documents import FILENAME_LENGTH
from crmlite.services import events, parsing
from crmlite.services.document_storage import Storage, StorageUnavailable

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


class DocumentRefused(ValueError):
    """The upload is refused; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class Kind:
    """A kind of file crmlite keeps: how people call it, its content type, its extensions."""

    label: str
    content_type: str
    extensions: tuple[str, ...]


PDF = Kind("a PDF document", "application/pdf", (".pdf",))
DOCX = Kind(
    "a Word document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    (".docx",),
)
XLSX = Kind(
    "an Excel workbook",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    (".xlsx",),
)
PPTX = Kind(
    "a PowerPoint presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    (".pptx",),
)
PNG = Kind("a PNG image", "image/png", (".png",))
JPEG = Kind("a JPEG image", "image/jpeg", (".jpg", ".jpeg"))
TEXT = Kind("plain text", "text/plain; charset=utf-8", (".txt", ".csv", ".md"))
KINDS = (PDF, DOCX, XLSX, PPTX, PNG, JPEG, TEXT)
ACCEPTED = "PDF, Word (.docx), Excel (.xlsx), PowerPoint (.pptx), PNG, JPEG or plain text"

# The part that makes an Office Open XML zip a document of each kind.
_OFFICE_PARTS = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX, "ppt/presentation.xml": PPTX}
# Control characters plain text may not hold (tab, line feed, form feed and carriage return
# it may).
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


def kind_of(content: bytes) -> Kind | None:
    """What the content is, by its first bytes (and, for a zip, the parts it holds); None
    when it is none of the kinds crmlite keeps."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"PK\x03\x04"):
        return _office_kind(content)
    return TEXT if _is_text(content) else None


def _office_kind(content: bytes) -> Kind | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None  # a plain zip, not an Office document
    for part, kind in _OFFICE_PARTS.items():
        if part in names:
            return kind
    return None


def _is_text(content: bytes) -> bool:
    """UTF-8 text (a byte-order mark allowed) without control characters but line breaks
    and tabs: what a text editor saves, not a program or an image."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return _NOT_TEXT.search(text) is None


def clean_filename(name: str) -> str:
    """The name as shown: the last part of a path some browsers send, control characters
    removed, cut to fit (its extension kept)."""
    name = parsing.clean_line(name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if len(name) > FILENAME_LENGTH:
        _stem, dot, extension = name.rpartition(".")
        extension = f"{dot}{extension}" if dot and len(extension) <= 10 else ""
        name = name[: FILENAME_LENGTH - len(extension)] + extension
    return name


def upload(
    opportunity: Opportunity,
    filename: str,
    content: bytes,
    *,
    by: Member,
    storage: Storage,
    max_bytes: int = DEFAULT_MAX_BYTES,
    now: datetime | None = None,
) -> Document:
    """Keep a document on the opportunity: checked (size, kind by content, a name that
    matches it), written to the store under a random name, and recorded.
    DocumentRefused, with nothing stored, when it is not acceptable or the store fails."""
    name = clean_filename(filename)
    if not name:
        raise DocumentRefused("Choose a file to upload.")
    if len(content) > max_bytes:
        raise DocumentRefused(f"The file is larger than {_megabytes(max_bytes)}.")
    if not content:
        raise DocumentRefused("The file is empty.")
    kind = kind_of(content)
    if kind is None:
        raise DocumentRefused(f"This kind of file is not accepted: upload {ACCEPTED}.")
    if not name.lower().endswith(kind.extensions):
        raise DocumentRefused(
            f"The file is {kind.label}, but its name does not say so: "
            f"rename it to end in {' or '.join(kind.extensions)}."
        )
    key = secrets.token_hex(16)
    try:
        storage.put(key, content, kind.content_type)
    except StorageUnavailable as failed:
        raise DocumentRefused(str(failed)) from failed
    document = Document(
        opportunity_id=opportunity.id,
        filename=name,
        content_type=kind.content_type,
        size=len(content),
        storage_key=key,
        uploaded_by_id=by.id,
        uploaded_at=now or datetime.now(UTC),
    )
    db.session.add(document)
    try:
        db.session.flush()
    except Exception:
        discard_file(storage, key)
        raise
    return document


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB"


def documents_of(opportunity_id: int) -> list[Document]:
    """The opportunity's documents, newest first, with who uploaded each: one query."""
    return list(
        db.session.scalars(
            select(Document)
            .options(joinedload(Document.uploaded_by))
            .where(Document.opportunity_id == opportunity_id)
            .order_by(Document.uploaded_at.desc(), Document.id.desc())
        )
    )


def find(opportunity_id: int, document_id: int) -> Document | None:
    """The document, if it belongs to that opportunity."""
    document = db.session.get(Document, document_id)
    if document is None or document.opportunity_id != opportunity_id:
        return None
    return document


def delete(document: Document, *, by: Member, now: datetime | None = None) -> str:
    """Delete the document's record (the audit log records it); returns its file's key, to
    discard once the deletion is committed."""
    key = document.storage_key
    db.session.delete(document)
    db.session.flush()
    events.publish(
        events.Deleted(kind="document", name=document.filename, by=by, at=now or datetime.now(UTC))
    )
    return key


def discard_file(storage: Storage, key: str) -> None:
    """Remove a document's file once its row is gone (already gone: nothing to do). A store
    that fails leaves the file behind, logged: the deletion itself stands."""
    with contextlib.suppress(StorageUnavailable):  # logged by the store
        storage.remove(key)
