"""Reading an e-mail as a person would: who sent it to whom and when, its subject, every
text part in order (HTML turned into text once) and the attachments it carries.

Pure functions over bytes, no database: ``services/capture.py`` turns what they read into an
activity. A message that is not an e-mail (an Outlook .msg file, broken headers or MIME
structure, over the size limit) raises ``CaptureError`` with a message saying why.
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.policy
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from typing import IO, Any

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.element import PreformattedString

from crmlite.services.delivery_reports import Bounce, is_delivery_report, permanent_failures

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
NO_SUBJECT = "(no subject)"

# Defects after which the parsed message is not the message that was sent: broken headers,
# broken MIME structure. Lesser ones (an odd header value, a missing closing boundary) are
# common in real mail and harmless here.
BROKEN_HEADERS = (
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.FirstHeaderLineIsContinuationDefect,
)
BROKEN_PARTS = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
)
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Outlook .msg files
# Inline elements are unwrapped so their text stays on its line when HTML becomes text.
INLINE_TAGS = (
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "del", "dfn", "em", "font", "i",
    "img", "ins", "kbd", "label", "mark", "nobr", "q", "s", "small", "span", "strike",
    "strong", "sub", "sup", "time", "u", "var", "wbr",
)  # fmt: skip
DROPPED_TAGS = ("script", "style", "head", "title", "template", "noscript")
# Followed by a blank line, as paragraphs are in plain-text mail.
PARAGRAPH_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr")


class CaptureError(ValueError):
    """The input is not an e-mail that can be captured; the message says why. Nothing was
    created."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    size: int

    @property
    def label(self) -> str:
        return f"{self.filename} ({size_label(self.size)})"


@dataclass(frozen=True)
class ParsedEmail:
    """What capture keeps of a message. Addresses are lower-cased."""

    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    sent_at: datetime | None
    message_id: str | None
    text: str
    attachments: tuple[Attachment, ...]
    # A delivery status notification (a bounce report), and the addresses it says failed
    # for good (see services/delivery_reports.py).
    delivery_report: bool = False
    bounces: tuple[Bounce, ...] = ()

    @property
    def recipients(self) -> tuple[str, ...]:
        """To then Cc, each once."""
        return tuple(dict.fromkeys(self.to + self.cc))

    @property
    def note(self) -> str:
        """The activity's note: the text, then the attachments (listed, not stored)."""
        parts = [self.text] if self.text else []
        if self.attachments:
            parts.append("Attachments: " + ", ".join(a.label for a in self.attachments))
        return "\n\n".join(parts)


# ---------------------------------------------------------------- parsing


def size_label(size: int) -> str:
    if size < 1024:
        return "1 byte" if size == 1 else f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def too_large(size: int) -> str:
    """The refusal of a message of ``size`` bytes, over the limit: the limit and the size."""
    limit = f"{MAX_MESSAGE_BYTES // (1024 * 1024)} MB"
    return (
        f"The message is larger than {limit}: it is {size_label(size)} ({size:,} bytes). "
        "Capture it without its attachments."
    )


def read_message(stream: IO[bytes]) -> tuple[bytes, int]:
    """A message from a file or standard input: its first MAX_MESSAGE_BYTES + 1 bytes (one
    more than allowed, so that parse_email refuses it) and its real size, the rest counted,
    not kept."""
    raw = stream.read(MAX_MESSAGE_BYTES + 1)
    size = len(raw)
    if size > MAX_MESSAGE_BYTES:
        while chunk := stream.read(1024 * 1024):
            size += len(chunk)
    return raw, size


def parse_email(raw: bytes, *, size: int | None = None) -> ParsedEmail:
    """Read a raw message (RFC 5322, as in an .eml file) with Python's ``email`` package.
    ``size``: the message's real size when ``raw`` is its beginning only (read_message).

    Refused with a CaptureError: empty input, more than 10 MB, no headers, a badly broken
    structure (e.g. no blank line between headers and body), no readable From address."""
    size = max(len(raw), size or 0)
    if size > MAX_MESSAGE_BYTES:
        raise CaptureError(too_large(size))
    raw = raw.lstrip(b"\r\n")
    if not raw.strip():
        raise CaptureError("The message is empty.")
    if raw.startswith(OLE_SIGNATURE):
        raise CaptureError(
            "This is an Outlook .msg file, not a standard e-mail message; "
            "save or export the e-mail as .eml (its raw source) instead."
        )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(msg, EmailMessage) or not msg.keys():
        raise CaptureError("This is not an e-mail message: it has no headers.")
    _refuse_broken(msg)

    sender = _sender(msg)
    reading = _Reading()
    _read_parts(msg, reading)
    return ParsedEmail(
        sender=sender,
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        subject=_clean(_header_text(msg, "Subject"))[:200] or NO_SUBJECT,
        sent_at=_sent_at(msg),
        message_id=_clean(_header_text(msg, "Message-ID"))[:255] or None,
        text="\n\n".join(reading.texts),
        attachments=tuple(reading.attachments),
        delivery_report=is_delivery_report(msg),
        bounces=permanent_failures(msg) if is_delivery_report(msg) else (),
    )


def _refuse_broken(msg: EmailMessage) -> None:
    if any(isinstance(d, BROKEN_HEADERS) for d in msg.defects):
        raise CaptureError(
            "The message is malformed: a line among its headers is not a header, or the "
            "blank line between the headers and the body is missing."
        )
    for part in msg.walk():
        if any(isinstance(d, BROKEN_PARTS) for d in part.defects):
            raise CaptureError(
                "The message is malformed: its parts (body and attachments) are broken "
                "(a MIME boundary is missing)."
            )


def _repair(text: str) -> str:
    """Text with the raw 8-bit bytes the parser kept (as surrogates) decoded: as UTF-8 when
    valid, else as Windows-1252. The standard leaves such bytes undefined in headers, but a
    pasted message has UTF-8 ones and old mailers send Latin-1."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _clean(text: str) -> str:
    """One line: folded whitespace collapsed, NUL characters (refused by PostgreSQL) gone."""
    return " ".join(_repair(text).replace("\x00", "").split())


def _header_values(msg: EmailMessage, name: str) -> list[Any]:
    """Every value of a header, parsed and decoded (RFC 2047 encoded words included; raw
    8-bit bytes too, see _repair)."""
    values = []
    for key, value in msg.raw_items():
        if key.lower() != name.lower():
            continue
        try:
            values.append(email.policy.default.header_factory(name, _repair(value)))
        except (ValueError, IndexError, TypeError):  # a header too broken to read
            continue
    return values


def _header_text(msg: EmailMessage, name: str) -> str:
    values = _header_values(msg, name)
    return str(values[0]) if values else ""


def _valid(address: Address) -> bool:
    return bool(address.username and address.domain and " " not in address.addr_spec)


def _addresses(msg: EmailMessage, name: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for header in _header_values(msg, name):
        for address in getattr(header, "addresses", ()):
            if _valid(address):
                found[_clean(address.addr_spec).lower()] = None
    return tuple(found)


def _sender(msg: EmailMessage) -> str:
    if "From" not in msg:
        raise CaptureError("The message has no From address.")
    senders = _addresses(msg, "From")
    if not senders:
        raw_value = next((v for k, v in msg.raw_items() if k.lower() == "from"), "")
        shown = _clean(raw_value)[:100] or "(empty)"
        raise CaptureError(f"The From address “{shown}” could not be read.")
    return senders[0][:254]


def _sent_at(msg: EmailMessage) -> datetime | None:
    for header in _header_values(msg, "Date"):
        moment = getattr(header, "datetime", None)
        if moment is not None:
            # "-0000" means UTC with the sender's zone unknown: Python gives a naive time.
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes in the declared charset, read as mail programs do: Latin-1 and ASCII labels as
    Windows-1252 (their superset: “smart quotes” and € come out right), and no or an unknown
    charset as UTF-8 when valid, else Windows-1252.

    Non-ASCII bytes that are valid UTF-8 are read as UTF-8 whatever the label: a message
    pasted into the form arrives as UTF-8 text, and text really written in a single-byte
    charset is practically never valid UTF-8."""
    try:
        codec = codecs.lookup(charset).name if charset else None
    except LookupError:
        codec = None
    if codec is None or not (codec.startswith(("utf-16", "utf-32")) or data.isascii()):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if codec in (None, "ascii", "iso8859-1"):
        codec = "cp1252"
    return data.decode(codec, "replace")


def _payload_text(part: MIMEPart) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    text = decode_text(data, part.get_content_charset())
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _body_text(part: MIMEPart) -> str:
    text = _payload_text(part)
    if part.get_content_subtype() == "html":
        return html_to_text(text)
    lines = [line.rstrip() for line in text.split("\n")]
    return _collapse_blank_runs(lines)


def _collapse_blank_runs(lines: list[str]) -> str:
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML e-mail: scripts, styles and the head dropped, a line per
    block (paragraph, row, line break), runs of blank lines collapsed to one."""
    with warnings.catch_warnings():
        # Short HTML can look like a file name or URL to BeautifulSoup; it is mail, not those.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(DROPPED_TAGS):
        tag.decompose()
    # Comments (Outlook's conditional ones included), the doctype and the like are not text.
    for string in soup.find_all(string=lambda s: isinstance(s, PreformattedString)):
        string.extract()
    for tag in soup.find_all(INLINE_TAGS):
        tag.unwrap()
    soup.smooth()
    # Whitespace in HTML source is not layout (except in <pre>): one space per run.
    for string in soup.find_all(string=True):
        if string.find_parent("pre") is None:
            text = " ".join(str(string).split())
            if text:
                string.replace_with(text)
            else:
                string.extract()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(PARAGRAPH_TAGS):
        tag.insert_after("\n")
    soup.smooth()
    text = soup.get_text("\n")
    return _collapse_blank_runs([line.rstrip() for line in text.split("\n")])


@dataclass
class _Reading:
    """What the walk over a message's parts found, in order."""

    texts: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


def _is_body_text(part: MIMEPart) -> bool:
    """A text/plain or text/html part meant to be read, not a file."""
    return (
        part.get_content_type() in ("text/plain", "text/html")
        and not part.is_attachment()
        and not part.get_filename()
    )


def _has_body_text(part: MIMEPart, subtype: str) -> bool:
    return any(
        _is_body_text(leaf) and leaf.get_content_subtype() == subtype for leaf in _leaves(part)
    )


def _leaves(part: MIMEPart) -> list[MIMEPart]:
    """The parts of a multipart (not descending into attached messages), or the part."""
    if part.get_content_maintype() != "multipart" or not part.is_multipart():
        return [part]
    return [leaf for sub in part.iter_parts() for leaf in _leaves(sub)]


def _chosen_alternative(alternatives: list[MIMEPart]) -> MIMEPart | None:
    """The one rendering of a multipart/alternative that is read: plain text, else HTML (a
    part of that type, else a multipart holding one), else the last (the sender's
    favourite, RFC 2046)."""
    for subtype in ("plain", "html"):
        for part in alternatives:
            if _is_body_text(part) and part.get_content_subtype() == subtype:
                return part
        for part in alternatives:
            if part.get_content_maintype() == "multipart" and _has_body_text(part, subtype):
                return part
    return alternatives[-1] if alternatives else None


def _read_parts(part: MIMEPart, reading: _Reading, *, read_text: bool = True) -> None:
    """Every part in order: text/plain and text/html parts give their text (HTML turned
    into text), anything else (files, inline images, attached messages, other text types)
    is listed. Of a multipart/alternative one rendering is read (``read_text`` is False
    in the others, whose text is the same message again; their files are still listed)."""
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        subparts = list(part.iter_parts())
        chosen = None
        if part.get_content_subtype() == "alternative":
            chosen = _chosen_alternative(subparts)
        for sub in subparts:
            wanted = read_text and (chosen is None or sub is chosen)
            _read_parts(sub, reading, read_text=wanted)
        return
    # A multipart without parts (its boundary never found) is read as the text it is.
    if _is_body_text(part) or part.get_content_maintype() == "multipart":
        if read_text and (text := _body_text(part)):
            reading.texts.append(text)
        return
    is_file = part.is_attachment() or bool(part.get_filename())
    if not read_text and part.get_content_maintype() == "text" and not is_file:
        return  # another rendering of the text read (text/enriched, text/calendar…)
    reading.attachments.append(Attachment(_file_name(part), _part_size(part)))


def _file_name(part: MIMEPart) -> str:
    name = _clean(part.get_filename() or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # some mailers send the whole path
    if name:
        return name
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload(0) if part.is_multipart() else None
        subject = _clean(str(inner["Subject"] or "")) if isinstance(inner, EmailMessage) else ""
        return f"forwarded message “{subject}”" if subject else "forwarded message"
    return f"unnamed {part.get_content_type()}"


def _part_size(part: MIMEPart) -> int:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return len(data)
    try:
        return len(part.as_bytes())
    except (ValueError, LookupError, UnicodeError):
        return 0
