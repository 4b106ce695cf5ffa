"""An export as a download: CSV streamed row by row, XLSX written by openpyxl's write-only
workbook to a temporary file and then sent. Every list page's "Export CSV" / "Export XLSX"
goes through ``send``; the rows come from ``services/exports.py``.

- Amounts: plain decimals in CSV ("1234.50"), numbers with two places in XLSX.
- Days ISO ("2026-11-30"); moments ISO in the team's time zone with its offset in CSV
  ("2026-11-30T14:05:00-08:00"), the local date and time in XLSX (Excel has no zones).
- Formula injection: a CSV text cell starting with = + - @ (or a tab or carriage return)
  gets a leading apostrophe, so a spreadsheet shows it as text instead of running it. XLSX
  cells are typed: text is stored as text (never as a formula), as typed, no apostrophe.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from flask import Response, abort, g
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from crmlite.services.exports import Kind, Table
from crmlite.services.parsing import guarded
from crmlite.services.team import local_today

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AMOUNT_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
MOMENT_FORMAT = "yyyy-mm-dd hh:mm"
NUMBER_FORMATS = {Kind.AMOUNT: AMOUNT_FORMAT, Kind.DATE: DATE_FORMAT, Kind.MOMENT: MOMENT_FORMAT}


def csv_value(value: Any, kind: Kind, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    if kind is Kind.TEXT:
        return guarded(str(value))
    if kind is Kind.MOMENT and isinstance(value, datetime):
        return value.astimezone(tz).isoformat(timespec="seconds")
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_lines(table: Table, tz: ZoneInfo) -> Iterator[str]:
    """The table as CSV text, a line at a time (a byte-order mark first, so Excel reads
    the file as UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    kinds = [column.kind for column in table.columns]
    writer.writerow([guarded(column.title) for column in table.columns])
    yield "\ufeff" + buffer.getvalue()
    for row in table.rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_value(v, k, tz) for v, k in zip(row, kinds, strict=True)])
        yield buffer.getvalue()


def _xlsx_value(sheet: Any, value: Any, kind: Kind, tz: ZoneInfo) -> Any:
    """A cell's value, wrapped in a cell of its own only when it needs a number format or
    must be kept from reading as a formula (openpyxl writes the rest faster as they are)."""
    if value is None:
        return None
    if kind is Kind.TEXT:
        value = str(value)
        if not value.startswith("="):
            return value
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # "=1+1" stays text, never a formula
        return cell
    if kind is Kind.MOMENT and isinstance(value, datetime):
        value = value.astimezone(tz).replace(tzinfo=None)
    style = NUMBER_FORMATS.get(kind)
    if style is None:
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = style
    return cell


def write_xlsx(table: Table, tz: ZoneInfo, target: Any) -> None:
    """The table as one worksheet (bold header row, frozen), written row by row."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(table.name[:31])
    sheet.freeze_panes = "A2"
    header = []
    for column in table.columns:
        cell = WriteOnlyCell(sheet, value=column.title)
        cell.data_type = "s"
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    kinds = [column.kind for column in table.columns]
    for row in table.rows:
        sheet.append([_xlsx_value(sheet, v, k, tz) for v, k in zip(row, kinds, strict=True)])
    workbook.save(target)


def file_name(table: Table, extension: str) -> str:
    return f"{table.name}-{local_today(g.tz):%Y-%m-%d}.{extension}"


def send(table: Table, fmt: str) -> Response:
    """The table as a download in ``fmt`` ("csv" or "xlsx"; anything else is a 404)."""
    tz: ZoneInfo = g.tz
    if fmt == "csv":
        # The rows are read as the response is sent, on a connection of their own (see
        # services.exports): no request context is kept open meanwhile.
        response = Response(csv_lines(table, tz), content_type="text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{file_name(table, "csv")}"'
        )
        return response
    if fmt == "xlsx":
        # openpyxl cannot write to a socket: its write-only workbook streams the rows to a
        # temporary file, sent once complete (and deleted once sent).
        with temporary_file() as (handle, path):
            write_xlsx(table, tz, handle)
        return send_temporary(path, XLSX_TYPE, file_name(table, "xlsx"))
    abort(404)


@contextmanager
def temporary_file() -> Iterator[tuple[IO[bytes], Path]]:
    """A new temporary file to write, closed after the block (deleted if it fails)."""
    descriptor, name = tempfile.mkstemp(prefix="crmlite-export-")
    path = Path(name)
    try:
        with os.fdopen(descriptor, "w+b") as handle:
            yield handle, path
    except BaseException:
        path.unlink(missing_ok=True)
        raise


class _SentOnce:
    """A temporary file's bytes as a response body; the file is deleted when the response
    is closed (or forgotten). Nothing is open until the body is read."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            while chunk := handle.read(1 << 16):
                yield chunk

    def close(self) -> None:
        self.path.unlink(missing_ok=True)

    def __del__(self) -> None:
        self.close()


def send_temporary(path: Path, mimetype: str, download_name: str) -> Response:
    """A finished temporary file as a download, deleted once sent."""
    response = Response(_SentOnce(path), mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Length"] = str(path.stat().st_size)
    response.headers["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return response
