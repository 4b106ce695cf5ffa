"""Delivery status notifications (RFC 3464), the "bounces" mail servers send back: which
addresses failed for good.

A DSN is a ``multipart/report; report-type=delivery-status`` message. Its
``message/delivery-status`` part is a block of per-message fields, then a block per
recipient (``Final-Recipient: rfc822; x@y``, ``Action: failed``, ``Status: 5.1.1``,
``Diagnostic-Code: smtp; 550 …``); Python's ``email`` package parses it into those header
blocks. Only permanent failures (Action ``failed`` with a 5.x.x status) count as bounces; a
delayed delivery (``delayed``, 4.x.x) is not one. Pure functions, no database.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import quopri
import re
from dataclasses import dataclass
from email.message import Message

MAX_REASON = 200
STATUS_RE = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}\b")


@dataclass(frozen=True)
class Bounce:
    """Mail to ``address`` (lower-cased) failed for good: ``status`` (5.x.x) and the
    server's ``diagnostic`` (e.g. "550 5.1.1 <x@y>: Recipient address rejected")."""

    address: str
    status: str
    diagnostic: str

    @property
    def reason(self) -> str:
        """What the contact's page says: the diagnostic, else the status."""
        text = (
            self.diagnostic
            if self.status in self.diagnostic
            else f"{self.status} {self.diagnostic}"
        )
        return text.strip()[:MAX_REASON]


def is_delivery_report(msg: Message) -> bool:
    """The message itself (not a message attached to it) is a delivery status notification."""
    if msg.get_content_type() != "multipart/report" or not msg.is_multipart():
        return False
    report_type = str(msg.get_param("report-type", "") or "").lower()
    return report_type == "delivery-status" or any(
        part.get_content_type() == "message/delivery-status" for part in _parts(msg)
    )


def permanent_failures(msg: Message) -> tuple[Bounce, ...]:
    """The recipients a delivery report says failed for good, each address once."""
    found: dict[str, Bounce] = {}
    for part in _parts(msg):
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _blocks(part):
            bounce = _failure(block)
            if bounce is not None:
                found.setdefault(bounce.address, bounce)
    return tuple(found.values())


def _parts(msg: Message) -> list[Message]:
    payload = msg.get_payload()
    return [part for part in payload if isinstance(part, Message)] if msg.is_multipart() else []


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status part. The parser gives them as a
    list, but reads an encoded part (base64, quoted-printable) as it is: decoded and split
    here."""
    payload = part.get_payload()
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if isinstance(payload, list):
        blocks = [block for block in payload if isinstance(block, Message)]
        if encoding not in ("base64", "quoted-printable"):
            return blocks
        payload = "\n".join(block.as_string() for block in blocks)
    text = str(payload)
    try:
        if encoding == "base64":
            text = base64.b64decode(text.encode("ascii", "ignore")).decode("utf-8", "replace")
        elif encoding == "quoted-printable":
            text = quopri.decodestring(text.encode("utf-8")).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return []
    text = text.replace("\r\n", "\n")
    return [
        email.message_from_string(chunk.strip() + "\n", policy=email.policy.compat32)
        for chunk in re.split(r"\n[ \t]*\n", text)
        if chunk.strip()
    ]


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _typed_value(value: str) -> str:
    """ "rfc822; x@y" → "x@y", "smtp; 550 …" → "550 …" (the type before the semicolon)."""
    kind, semicolon, rest = value.partition(";")
    return rest.strip() if semicolon else kind.strip()


def _failure(block: Message) -> Bounce | None:
    recipient = _field(block, "Final-Recipient") or _field(block, "Original-Recipient")
    kind = recipient.partition(";")[0].strip().lower() if ";" in recipient else "rfc822"
    address = _typed_value(recipient).strip("<>").strip().lower()
    if kind != "rfc822" or "@" not in address or " " in address:
        return None
    status = STATUS_RE.match(_field(block, "Status"))
    action = _field(block, "Action").lower()
    if status is None or status.group(1) != "5" or action != "failed":
        return None
    diagnostic = _typed_value(_field(block, "Diagnostic-Code"))
    return Bounce(address[:254], status.group(0), diagnostic)
