"""Sending e-mail: the one small service campaign e-mails and track e-mails both go through.

A message is a standard-library ``EmailMessage`` (a text part, and an HTML alternative when
there is one). It goes to ``MAIL_SERVER`` through ``smtplib`` (STARTTLS, or TLS from the
start, and login when configured) or, when no server is set (development, tests), into
``MAIL_OUTBOX`` as an .eml file a person can open in a mail program. A ``Mailer`` keeps one
connection for a batch and hands over at most ``MAIL_RATE_PER_SECOND`` messages a second.

Nobody who unsubscribed, and nobody without an address, is ever sent anything:
``skip_reason`` is that rule, and every sender asks it. What goes in a message (tracked
links, unsubscribe links) is the business of the senders above this module
(``campaign_sending``, ``delivery``), not of this one. Nothing calls it inside a web request:
messages are queued in the outbox (``outbox``) and the worker sends them (``delivery``).

    with open_mailer() as mailer:
        mailer.send(compose(to=recipient("al@example.com", "Al"), subject=..., text=...))
"""

from __future__ import annotations

import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import errors, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import ColumnElement, case, func, null

# Lines up to RFC 5322's limit: a long header (a List-Unsubscribe URL) stays one plain line
# instead of being folded into encoded words that mail programs would not read as a URL.
POLICY = policy.default.clone(max_line_length=998)


class MailError(Exception):
    """The mail server cannot take messages now (connection, login, temporary refusal):
    stop the batch; what was not sent can be sent later."""


class MessageRefused(MailError):
    """The server refused this one message for good (e.g. an unknown recipient): the next
    messages may still go."""


class SkipReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    NO_ADDRESS = "no_address"
    BOUNCED = "bounced"


# How a skip reads in a step's outcome or an outbox row.
SKIPPED = {
    SkipReason.UNSUBSCRIBED: "unsubscribed",
    SkipReason.NO_ADDRESS: "no e-mail address",
    SkipReason.BOUNCED: "the address bounces",
}


class Addressee(Protocol):
    """A contact, or a row with a contact's address, unsubscribe and bounce stamps."""

    @property
    def email(self) -> str: ...

    @property
    def unsubscribed_at(self) -> datetime | None: ...

    @property
    def bounced_at(self) -> datetime | None: ...


def skip_reason(contact: Addressee) -> SkipReason | None:
    """Why this contact must not be sent e-mail, or None: unsubscribed contacts never get
    any, wherever it comes from, a contact without an address cannot, and mail to an
    address that bounces for good is not sent again (until someone chooses "Mail again")."""
    if contact.unsubscribed_at is not None:
        return SkipReason.UNSUBSCRIBED
    if not (contact.email or "").strip():
        return SkipReason.NO_ADDRESS
    if contact.bounced_at is not None:
        return SkipReason.BOUNCED
    return None


def skip_reason_sql(contact: Any) -> ColumnElement[str | None]:
    """``skip_reason`` in SQL, for a contacts table (or alias): the reason's value or NULL,
    in the same order. (Addresses are stored trimmed, so a blank one is empty here.)"""
    return case(
        (contact.unsubscribed_at.is_not(None), SkipReason.UNSUBSCRIBED.value),
        (func.trim(func.coalesce(contact.email, "")) == "", SkipReason.NO_ADDRESS.value),
        (contact.bounced_at.is_not(None), SkipReason.BOUNCED.value),
        else_=null(),
    )


@dataclass(frozen=True)
class MailSettings:
    server: str = ""
    port: int = 587
    username: str = ""
    password: str = ""
    use_tls: bool = True
    use_ssl: bool = False
    sender: str = "crmlite <crmlite@localhost>"
    outbox: Path = Path("outbox")
    rate_per_second: float = 5.0
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        return cls(
            server=config.get("MAIL_SERVER", ""),
            port=int(config.get("MAIL_PORT", 587)),
            username=config.get("MAIL_USERNAME", ""),
            password=config.get("MAIL_PASSWORD", ""),
            use_tls=bool(config.get("MAIL_USE_TLS", True)),
            use_ssl=bool(config.get("MAIL_USE_SSL", False)),
            sender=config.get("MAIL_FROM", cls.sender),
            outbox=Path(config.get("MAIL_OUTBOX", "outbox")),
            rate_per_second=float(config.get("MAIL_RATE_PER_SECOND", 5.0)),
            timeout=float(config.get("MAIL_TIMEOUT", 30.0)),
        )


def _header(value: str) -> str:
    """A header value on one line: a name or subject with a line break cannot add headers."""
    return " ".join(value.split())


def recipient(address: str, name: str = "") -> Address:
    """A recipient built from its parts by the ``email`` package: a name with commas,
    angle brackets or accents stays one display name (quoted or encoded as RFC 5322 and
    RFC 2047 want). ValueError when the address itself cannot be one."""
    name = _header(name)
    try:
        return Address(display_name=name, addr_spec=address.strip())
    except (ValueError, IndexError, errors.HeaderParseError) as error:
        raise ValueError(f"not an e-mail address: {address!r}") from error


def compose(
    *,
    to: Address,
    subject: str,
    text: str,
    html: str | None = None,
    sender: str,
    headers: Mapping[str, str] | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """A message with a text part and, when given, an HTML alternative. Addresses are
    structured ``Address`` values, never text put together by hand."""
    message = EmailMessage(policy=POLICY)
    message["From"] = _header(sender)
    message["To"] = to
    message["Subject"] = _header(subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = sender_domain(sender)
    message["Message-ID"] = message_id or make_msgid(domain=domain)
    for name, value in (headers or {}).items():
        message[name] = _header(value)
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def sender_domain(sender: str) -> str:
    """The domain of the From address (Message-IDs are made in it)."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


class RateBound:
    """At most ``per_second`` calls of ``wait`` a second: each waits until its slot."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next: float | None = None

    def wait(self) -> None:
        now = self.clock()
        if self._next is not None and now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


class Mailer:
    """Hands messages over, one connection per batch, at a bounded rate."""

    def __init__(self, settings: MailSettings, *, rate: RateBound | None = None) -> None:
        self.settings = settings
        self.rate = rate or RateBound(settings.rate_per_second)
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def to_outbox(self) -> bool:
        return not self.settings.server

    def send(self, message: EmailMessage) -> None:
        """Hand one message over; raises MessageRefused (this one only) or MailError."""
        self.rate.wait()
        if self.to_outbox:
            self._write(message)
            return
        try:
            try:
                self._connection().send_message(message)
            except smtplib.SMTPServerDisconnected:
                # The server closed an idle connection: once more on a fresh one.
                self._smtp = None
                self._connection().send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            if all(code >= 500 for code in codes):
                raise MessageRefused(_describe(error)) from error
            raise MailError(_describe(error)) from error
        except smtplib.SMTPResponseException as error:
            if error.smtp_code >= 500 and isinstance(error, smtplib.SMTPDataError):
                raise MessageRefused(_describe(error)) from error
            self.close()
            raise MailError(_describe(error)) from error
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise MailError(_describe(error)) from error

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            s = self.settings
            tls = ssl.create_default_context()
            smtp = (
                smtplib.SMTP_SSL(s.server, s.port, timeout=s.timeout, context=tls)
                if s.use_ssl
                else smtplib.SMTP(s.server, s.port, timeout=s.timeout)
            )
            try:
                smtp.ehlo()
                if s.use_tls and not s.use_ssl:
                    smtp.starttls(context=tls)
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, s.password)
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def _write(self, message: EmailMessage) -> None:
        outbox = self.settings.outbox
        try:
            outbox.mkdir(parents=True, exist_ok=True)
            path = outbox / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.eml"
            path.write_bytes(message.as_bytes())
        except OSError as error:
            raise MailError(f"cannot write to the outbox {outbox}: {error}") from error

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {_text(text)}" for address, (code, text) in error.recipients.items()
        )
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return str(error) or type(error).__name__


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def open_mailer(config: Mapping[str, Any] | None = None) -> Mailer:
    """A mailer with the app's settings (MAIL_* from the environment)."""
    return Mailer(MailSettings.from_config(config if config is not None else current_app.config))
