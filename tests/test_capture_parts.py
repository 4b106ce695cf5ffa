"""E-mail capture keeps every part (issue #15): every text part in order, one rendering of a
multipart/alternative, inline images and attachments listed; checked over CPython's whole
e-mail test corpus (tests/data/cpython_email, PSF License) and on Apple Mail's layout (text,
inline picture, text). And the size refusal says the limit and the real size."""

from __future__ import annotations

import base64
import io
from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from crmlite.models import Role
from crmlite.services.email_reading import (
    MAX_MESSAGE_BYTES,
    CaptureError,
    ParsedEmail,
    html_to_text,
    parse_email,
    read_message,
)
from tests.test_capture import counts, message, post_capture, run_capture

CORPUS = Path(__file__).parent / "data" / "cpython_email"
# The corpus's messages that capture refuses, and why: no or no readable From (they test
# other things), or a MIME structure that is broken on purpose.
REFUSED = {
    "msg_05.txt": "The From address “foo” could not be read.",
    "msg_11.txt": "The message has no From address.",
    "msg_15.txt": "a MIME boundary is missing",
    "msg_17.txt": "a MIME boundary is missing",
    "msg_18.txt": "The message has no From address.",
    "msg_19.txt": "it has no headers",
    "msg_25.txt": "a MIME boundary is missing",
    "msg_31.txt": "a MIME boundary is missing",
    "msg_35.txt": "the blank line between the headers and the body is missing",
    "msg_37.txt": "The message has no From address.",
    "msg_38.txt": "The message has no From address.",
    "msg_39.txt": "a MIME boundary is missing",
    "msg_40.txt": "The message has no From address.",
    "msg_41.txt": "a MIME boundary is missing",
    "msg_42.txt": "a MIME boundary is missing",
    "msg_43.txt": "The From address “MAILER DAEMON <>” could not be read.",
}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def corpus() -> list[Path]:
    return sorted(CORPUS.glob("msg_*.txt"))


def sample(text: str) -> list[str]:
    """Some of the text's non-blank lines, stripped: the first, the last and every fifth."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return sorted(set(lines[::5] + lines[-1:]), key=lines.index)


def is_file(part: MIMEPart) -> bool:
    return part.is_attachment() or bool(part.get_filename())


def part_text(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        payload = part.get_payload(decode=True)
        content = payload.decode("latin-1") if isinstance(payload, bytes) else ""
    return content.replace("\x00", "") if isinstance(content, str) else ""


def lost(part: MIMEPart, parsed: ParsedEmail, listed: list[str]) -> list[str]:
    """What of this part is neither in the note nor among the attachments (each attachment
    answers for one part: ``listed`` loses the names found)."""
    kind = part.get_content_type()
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        found = [lost(sub, parsed, listed) for sub in part.iter_parts()]
        if part.get_content_subtype() == "alternative":
            # One rendering is enough: the others say the same.
            return [] if not found or any(not f for f in found) else [m for f in found for m in f]
        return [m for f in found for m in f]
    if kind in ("text/plain", "text/html") and not is_file(part):
        text = part_text(part)
        if kind == "text/html":
            text = html_to_text(text)
        return [f"{kind}: {line!r}" for line in sample(text) if line not in parsed.note]
    name = (part.get_filename() or "").strip().replace("\\", "/").rsplit("/", 1)[-1]
    for label in listed:
        expected = (
            label == name
            if name
            else label.startswith("forwarded message")
            if kind == "message/rfc822"
            else label == f"unnamed {kind}"
        )
        if expected:
            listed.remove(label)
            return []
    return [f"{kind} {name or '(no name)'} neither in the note nor listed"]


def test_no_text_part_of_the_cpython_corpus_is_lost() -> None:
    refused: dict[str, str] = {}
    captured = 0
    for path in corpus():
        raw = path.read_bytes()
        try:
            parsed = parse_email(raw)
        except CaptureError as error:
            refused[path.name] = str(error)
            continue
        captured += 1
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        listed = [a.filename for a in parsed.attachments]
        assert lost(msg, parsed, listed) == [], path.name
        assert listed == [], f"{path.name}: listed twice or for no part"
    assert sorted(refused) == sorted(REFUSED)
    for name, reason in REFUSED.items():
        assert reason in refused[name], name
    assert captured == len(corpus()) - len(REFUSED) == 32


@pytest.mark.parametrize(
    ("name", "texts"),
    [
        ("msg_21.txt", ["One", "Two"]),
        ("msg_33.txt", ["part 1", "part 2"]),
        ("msg_47.txt", ["bar", "baz"]),
        ("msg_13.txt", ["A text/plain part", "This is the dingus fish."]),
    ],
)
def test_every_text_part_is_kept_in_order(name: str, texts: list[str]) -> None:
    parsed = parse_email((CORPUS / name).read_bytes())
    positions = [parsed.text.find(text) for text in texts]
    assert -1 not in positions and positions == sorted(positions), parsed.text


def test_attached_messages_are_listed_by_their_subject() -> None:
    parsed = parse_email((CORPUS / "msg_02.txt").read_bytes())
    names = [a.filename for a in parsed.attachments]
    assert names[0] == "forwarded message “[Ppp] testing #1”"
    assert len(names) == 5
    assert "Send Ppp mailing list submissions to" in parsed.text


def mime(headers: str, *parts: tuple[str, bytes | str]) -> bytes:
    """A multipart message: ``parts`` are (their headers, their body)."""
    lines = [headers, "", "This is a multi-part message in MIME format."]
    for part_headers, body in parts:
        text = body if isinstance(body, str) else base64.encodebytes(body).decode()
        lines += ["--B1", part_headers, "", text]
    lines.append("--B1--")
    return "\r\n".join(lines).encode()


HEADERS = (
    "From: Shane Swanson <shane@towsrus.com>\r\nTo: nick@example.com\r\n"
    "Subject: The new truck\r\nDate: Tue, 3 Mar 2026 10:15:00 -0800\r\n"
    "Message-Id: <apple@towsrus.com>\r\nMime-Version: 1.0 (Mac OS X Mail 16.0)\r\n"
)
IMAGE = (
    'Content-Type: image/png; name="truck.png"\r\n'
    'Content-Disposition: inline; filename="truck.png"\r\n'
    "Content-Transfer-Encoding: base64\r\nContent-Id: <5F1C@towsrus.com>",
    PNG,
)


def test_apple_mail_text_picture_text_keeps_both_sentences_and_the_picture() -> None:
    raw = mime(
        HEADERS + 'Content-Type: multipart/mixed; boundary="B1"',
        ("Content-Type: text/plain; charset=us-ascii", "Here is the truck we delivered:"),
        IMAGE,
        (
            "Content-Type: text/plain; charset=us-ascii",
            "\r\nIt tows up to 12 tons. Shall we book a demo on Friday?\r\n\r\nShane",
        ),
    )
    parsed = parse_email(raw)
    assert parsed.text == (
        "Here is the truck we delivered:\n\n"
        "It tows up to 12 tons. Shall we book a demo on Friday?\n\nShane"
    )
    assert [a.label for a in parsed.attachments] == [f"truck.png ({len(PNG)} bytes)"]
    assert parsed.note.endswith(f"Attachments: truck.png ({len(PNG)} bytes)")


def test_alternative_gives_one_rendering_with_the_html_converted_once() -> None:
    html = (
        "Content-Type: text/html; charset=utf-8",
        "<p>Here is the <b>truck</b>:</p><img src=3D'cid:5F1C@towsrus.com'>",
    )
    # Apple Mail with formatting: the plain rendering beside the HTML with its picture.
    raw = mime(
        HEADERS + 'Content-Type: multipart/alternative; boundary="B1"',
        ("Content-Type: text/plain; charset=us-ascii", "Here is the truck:\r\n\r\nShane"),
        (
            'Content-Type: multipart/related; boundary="B2"',
            "--B2\r\n" + html[0] + "\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            f"{html[1]}\r\n--B2\r\n{IMAGE[0]}\r\n\r\n"
            f"{base64.encodebytes(PNG).decode()}\r\n--B2--",
        ),
    )
    parsed = parse_email(raw)
    assert parsed.text == "Here is the truck:\n\nShane"
    assert [a.filename for a in parsed.attachments] == ["truck.png"]

    # No plain rendering: the HTML one, converted (once: its text appears once).
    html_only = raw.replace(
        b"Content-Type: text/plain; charset=us-ascii", b"Content-Type: text/x-other"
    )
    parsed = parse_email(html_only)
    assert parsed.text == "Here is the truck:"
    assert [a.filename for a in parsed.attachments] == ["truck.png"]


def test_text_parts_that_are_files_are_listed_not_read() -> None:
    raw = mime(
        HEADERS + 'Content-Type: multipart/mixed; boundary="B1"',
        ("Content-Type: text/plain", "See the price list."),
        (
            'Content-Type: text/plain; name="prices.txt"\r\nContent-Disposition: inline; '
            'filename="prices.txt"',
            "Truck 12t: 95,000",
        ),
        ("Content-Type: text/csv\r\nContent-Disposition: attachment", "a,b\r\n1,2"),
        ("Content-Type: text/calendar", "BEGIN:VCALENDAR\r\nEND:VCALENDAR"),
    )
    parsed = parse_email(raw)
    assert parsed.text == "See the price list."
    assert [a.filename for a in parsed.attachments] == [
        "prices.txt",
        "unnamed text/csv",
        "unnamed text/calendar",
    ]


# ---------------------------------------------------------------- the size refusal


def test_the_size_refusal_says_the_limit_and_the_real_size() -> None:
    big = message(body="x" * (12 * 1024 * 1024))
    with pytest.raises(CaptureError) as refused:
        parse_email(big)
    assert str(refused.value).startswith(
        f"The message is larger than 10 MB: it is 12.0 MB ({len(big):,} bytes)."
    )
    # Read from a file or standard input: the beginning is kept, the rest counted.
    raw, size = read_message(io.BytesIO(big))
    assert len(raw) == MAX_MESSAGE_BYTES + 1 and size == len(big)
    with pytest.raises(CaptureError, match=f"12.0 MB \\({len(big):,} bytes\\)"):
        parse_email(raw, size=size)
    small = message()
    assert read_message(io.BytesIO(small)) == (small, len(small))


def test_the_command_and_the_form_report_the_real_size(app, client: FlaskClient, signed_in) -> None:
    big = message(body="x" * (15 * 1024 * 1024))
    result = run_capture(app, big)
    assert result.exit_code != 0
    assert f"larger than 10 MB: it is 15.0 MB ({len(big):,} bytes)" in result.output

    signed_in(Role.REP)
    just_over = message(body="x" * (MAX_MESSAGE_BYTES + 100_000))
    text = post_capture(client, file=just_over).get_data(as_text=True)
    assert f"it is 10.1 MB ({len(just_over):,} bytes)" in text
    far_over = message(body="x" * (13 * 1024 * 1024))  # beyond the request's own limit
    text = post_capture(client, file=far_over).get_data(as_text=True)
    assert "larger than 10 MB: it is 13.0 MB" in text
    assert counts() == (0, 0)
