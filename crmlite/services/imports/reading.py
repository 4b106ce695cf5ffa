"""Reading an uploaded file: CSV or XLSX, told by its content (not its name); a CSV's
encoding (charset-normalizer, a byte-order mark first) and delimiter (the csv module's
Sniffer); then its rows, one at a time, so memory stays flat however long the file is.

The first non-empty row is the header. Rows that are empty (every cell blank) are left out
but counted in the row numbers, which are the spreadsheet's: the header is row 1.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, cast

from charset_normalizer import from_bytes

from crmlite.services.parsing import FORMULA_STARTS, clean_line

# What a person may upload: a 50,000-row export with a dozen columns is 5 to 10 MB as CSV.
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_COLUMNS = 200
MAX_ROWS = 200_000
SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t|"

Cell = str | date | datetime | time | int | float | bool | None


class UnreadableFile(ValueError):
    """The file is not a CSV or XLSX file crmlite can read; the message says why."""


@dataclass(frozen=True)
class FileShape:
    file_format: str  # csv or xlsx
    encoding: str  # CSV only
    delimiter: str  # CSV only
    headers: list[str]


def _is_xlsx(content: bytes) -> bool:
    if not content.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def detect_encoding(content: bytes) -> str:
    """UTF-8 (with or without a byte-order mark) when the bytes are valid UTF-8, else what
    charset-normalizer finds most likely (Windows-1252 for Excel's "CSV" on Windows)."""
    if content.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    best = from_bytes(content[: SNIFF_BYTES * 4]).best()
    if best is None:
        return "cp1252"
    # Several code pages often read the same bytes the same way (a short sample of Western
    # text is as good Windows-1250 as Windows-1252): prefer Excel's usual Windows-1252 then.
    if "cp1252" in best.could_be_from_charset or best.encoding in ("latin_1", "ascii"):
        return "cp1252"
    return best.encoding


def detect_delimiter(sample: str) -> str:
    """The delimiter of a CSV's first lines: comma, semicolon (Excel in much of Europe),
    tab or bar; a comma when the Sniffer cannot tell (a one-column file)."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def inspect_file(content: bytes) -> FileShape:
    """What the file is and its header row; UnreadableFile when it is empty, not a CSV or
    XLSX file, or has no header."""
    if not content.strip():
        raise UnreadableFile("The file is empty.")
    if len(content) > MAX_FILE_BYTES:
        raise UnreadableFile(
            f"The file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB. Split it in parts."
        )
    if _is_xlsx(content):
        shape = FileShape("xlsx", "", "", [])
    else:
        binary = content.startswith(b"PK\x03\x04") or b"\x00" in content[:SNIFF_BYTES]
        # UTF-16 text has NULs too; its byte-order mark tells it apart.
        if binary and not content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise UnreadableFile(
                "This is not a CSV or Excel (.xlsx) file. Export the spreadsheet as CSV "
                "or .xlsx and upload that."
            )
        encoding = detect_encoding(content)
        sample = content[:SNIFF_BYTES].decode(encoding, errors="replace")
        shape = FileShape("csv", encoding, detect_delimiter(sample), [])
    header = next(iter_rows(content, shape, with_header=True), None)
    if header is None:
        raise UnreadableFile("The file has no rows.")
    headers = [clean_line(h)[:120] for h in header[1]]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise UnreadableFile("The file's first row holds no column names.")
    if len(headers) > MAX_COLUMNS:
        raise UnreadableFile(f"The file has more than {MAX_COLUMNS} columns.")
    seen: dict[str, int] = {}
    named: list[str] = []
    for position, header_text in enumerate(headers, start=1):
        name = header_text or f"Column {position}"
        if name in seen:  # two columns with one name: tell them apart
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        named.append(name)
    return FileShape(shape.file_format, shape.encoding, shape.delimiter, named)


def _is_blank(row: list[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


def iter_rows(
    content: bytes, shape: FileShape, *, with_header: bool = False
) -> Iterator[tuple[int, list[Cell]]]:
    """(row number, cells) of each non-empty row after the header (the header itself only
    with ``with_header``), streamed: a CSV is decoded as it is read, an XLSX read by
    openpyxl in read-only mode."""
    rows: Iterator[list[Cell]]
    if shape.file_format == "xlsx":
        rows = _xlsx_rows(content)
    else:
        text = io.TextIOWrapper(io.BytesIO(content), encoding=shape.encoding, errors="replace")
        rows = cast(Iterator[list[Cell]], csv.reader(text, delimiter=shape.delimiter))
    header_seen = False
    for number, row in enumerate(rows, start=1):
        if _is_blank(row):
            continue
        if not header_seen:
            header_seen = True
            if with_header:
                yield number, row
                return
            continue
        if number > MAX_ROWS + 1:
            raise UnreadableFile(f"The file has more than {MAX_ROWS:,} rows. Split it in parts.")
        yield number, row


def _xlsx_rows(content: bytes) -> Iterator[list[Cell]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged workbook
        raise UnreadableFile(f"The Excel file cannot be read ({type(error).__name__}).") from None
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        book.close()


def cell_text(cell: Cell) -> str:
    """A cell as the text a person would read in it: numbers without a trailing ".0", and
    a text guarded against formulas without its guard ("'=1+1" is "=1+1")."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ")
    text = str(cell)
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text
