"""Configuration read from the environment.

CRMLITE_ENV selects the mode: ``development`` (``make run``), ``production`` (the default,
so a forgotten setting fails safe) or ``testing``.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from datetime import time, timedelta
from pathlib import Path
from typing import NamedTuple

INSTANCE_DIR = Path(os.environ.get("CRMLITE_INSTANCE", Path(__file__).parent.parent / "instance"))


def normalise_database_url(url: str) -> str:
    """Heroku-style URLs and plain postgresql:// both mean psycopg 3 here."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return f"sqlite:///{INSTANCE_DIR / 'crmlite.sqlite'}"
    return normalise_database_url(url)


def _development_secret_key() -> str:
    """A key generated once and kept under instance/, so sessions survive restarts."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


MAKE_A_KEY = "$(python -c 'import secrets; print(secrets.token_hex(32))')"
PROXY_HEADERS = ("for", "proto", "host", "port", "prefix")
PUBLIC_URL_RE = re.compile(r"https?://[^/?#\s]+(/[^?#\s]*)?", re.IGNORECASE)


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _trusted_proxies(value: str) -> int:
    if not value.strip().isdigit() or not value.strip().isascii():
        raise RuntimeError(
            f"TRUSTED_PROXIES must be the number of reverse proxies in front of crmlite that "
            f"set X-Forwarded-For (0 when clients connect directly), not {value!r}."
        )
    return int(value)


def _proxy_headers(value: str) -> tuple[str, ...]:
    names = tuple(name.lower() for name in _names(value))
    unknown = [name for name in names if name not in PROXY_HEADERS]
    if unknown:
        raise RuntimeError(
            f"TRUSTED_PROXY_HEADERS must name X-Forwarded-* headers among "
            f"{', '.join(PROXY_HEADERS)}, not {', '.join(unknown)}."
        )
    return names


def _public_url(value: str) -> str:
    value = value.strip()
    if value and not PUBLIC_URL_RE.fullmatch(value):
        raise RuntimeError(
            f"PUBLIC_URL must be the address people reach crmlite at, with its scheme and no "
            f"query, e.g. https://crm.example.com, not {value!r}."
        )
    return value.rstrip("/")


class SendWindow(NamedTuple):
    """The team-local hours track e-mails go out in, on business days."""

    opens: time
    closes: time


SEND_WINDOW_RE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", re.ASCII)


def parse_send_window(value: str) -> SendWindow:
    """Read "08:00-18:00" as SendWindow(08:00, 18:00); a clear error for anything else."""
    match = SEND_WINDOW_RE.fullmatch(value)
    problem = f"TRACK_SEND_WINDOW must be two times of day, e.g. 08:00-18:00, not {value!r}."
    if match is None:
        raise RuntimeError(problem)
    hours_1, minutes_1, hours_2, minutes_2 = (int(part) for part in match.groups())
    if max(hours_1, hours_2) > 23 or max(minutes_1, minutes_2) > 59:
        raise RuntimeError(problem)
    window = SendWindow(time(hours_1, minutes_1), time(hours_2, minutes_2))
    if window.opens >= window.closes:
        raise RuntimeError(
            f"TRACK_SEND_WINDOW must open before it closes on the same day (e.g. 08:00-18:00), "
            f"not {value!r}."
        )
    return window


class Config:
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True
    WTF_CSRF_HEADERS = ["X-CSRFToken"]
    WTF_CSRF_TIME_LIMIT = None  # a tab left open all day must still save
    # Largest request body (forms; uploads that need more raise it for their own route).
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(4 * 1024 * 1024)))
    # Documents on opportunities: the largest file (10 MB by default; its upload alone may
    # exceed MAX_CONTENT_LENGTH) and the folder the files are kept in.
    DOCUMENT_MAX_BYTES = int(os.environ.get("DOCUMENT_MAX_BYTES", str(10 * 1024 * 1024)))
    DOCUMENT_DIR = os.environ.get("DOCUMENT_DIR", str(INSTANCE_DIR / "documents"))
    # Or an S3-compatible bucket, when named (services/document_storage.py): its endpoint for
    # MinIO, Ceph, R2… (empty: AWS), region and key prefix; the keys are boto3's own
    # (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a profile or an instance role).
    DOCUMENT_S3_BUCKET = os.environ.get("DOCUMENT_S3_BUCKET", "")
    DOCUMENT_S3_ENDPOINT_URL = os.environ.get("DOCUMENT_S3_ENDPOINT_URL", "")
    DOCUMENT_S3_REGION = os.environ.get("DOCUMENT_S3_REGION", "")
    DOCUMENT_S3_PREFIX = os.environ.get("DOCUMENT_S3_PREFIX", "")
    # Where the rate limits count: ``memory://`` counts in each process, so with several
    # gunicorn workers use a store they share, e.g. redis://127.0.0.1:6379/0.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # Sign-in attempts per client address (the proxy's client with TRUSTED_PROXIES).
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
    # Requests to the JSON API per token (per client address without a token).
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "300 per minute;5000 per hour")
    # Outgoing e-mail (campaign e-mails, track e-mails). Without MAIL_SERVER every message
    # is written as an .eml file into MAIL_OUTBOX instead, to open in a mail program.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "587"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    # STARTTLS on MAIL_PORT (587); MAIL_USE_SSL instead for TLS from the start (465).
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "true").lower() in ("1", "true", "yes", "on")
    MAIL_USE_SSL = os.environ.get("MAIL_USE_SSL", "false").lower() in ("1", "true", "yes", "on")
    MAIL_FROM = os.environ.get("MAIL_FROM", "crmlite <crmlite@localhost>")
    MAIL_OUTBOX = os.environ.get("MAIL_OUTBOX", str(INSTANCE_DIR / "outbox"))
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "30"))
    # Seconds a webhook receiver has to answer one delivery (connect, send, answer).
    WEBHOOK_TIMEOUT = float(os.environ.get("WEBHOOK_TIMEOUT", "10"))
    # Messages per second at most, so a campaign never floods the mail server.
    MAIL_RATE_PER_SECOND = float(os.environ.get("MAIL_RATE_PER_SECOND", "5"))
    # How often an open board asks what changed, in seconds (the live board).
    BOARD_POLL_SECONDS = float(os.environ.get("BOARD_POLL_SECONDS", "10"))
    # The address people reach crmlite at (e.g. https://crm.example.com), for every absolute
    # link (crmlite/links.py): required for links made outside a request (the track runner,
    # commands); without it a request's links use the request's own address.
    PUBLIC_URL = os.environ.get("PUBLIC_URL", "")
    # Open and click tracking links stop recording after this many days.
    TRACKING_MAX_AGE_DAYS = int(os.environ.get("TRACKING_MAX_AGE_DAYS", "365"))
    # Days the audit log keeps an entry; `flask crm audit prune` deletes older ones.
    AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", "730"))
    # Track e-mails are queued to go out on business days within this window, team-local
    # ("08:00-18:00"; parsed in __init__ into a SendWindow, a bad value a clear error).
    TRACK_SEND_WINDOW = SendWindow(time(8), time(18))
    # Public web form posts per client address.
    PUBLIC_FORM_RATE_LIMIT = os.environ.get("PUBLIC_FORM_RATE_LIMIT", "5 per minute;50 per day")

    # -- Sign-in sessions and passwords (issue #14) ------------------------------------------
    # A sign-in without "Keep me signed in" ends after SESSION_IDLE_MINUTES without a request
    # (the page's own once-a-minute refresh does not count) or SESSION_MAX_HOURS after signing
    # in, whichever comes first, and when the browser closes.
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "120"))
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", "12"))
    # "Keep me signed in" lasts this many days from signing in (REMEMBER_COOKIE_DURATION in
    # days; Flask-Login reads the timedelta), revoked by signing out or any rotation.
    REMEMBER_COOKIE_DURATION = timedelta(days=int(os.environ.get("REMEMBER_COOKIE_DURATION", "30")))
    # Changes in Setup (roles, members, reset links, the points table, team settings) need
    # the password typed within this many minutes; older, the person confirms it first.
    FRESH_PASSWORD_MINUTES = int(os.environ.get("FRESH_PASSWORD_MINUTES", "10"))
    # Failed sign-ins per account (the e-mail typed, whoever types it, from any address):
    # past it, that account's sign-in is refused until the window ends, except in a browser
    # that signed in to it before. LOGIN_RATE_LIMIT above stays per client address.
    LOGIN_ACCOUNT_RATE_LIMIT = os.environ.get("LOGIN_ACCOUNT_RATE_LIMIT", "5 per 5 minutes")
    # -- Behind a proxy, and production hardening (issue #14; the README's "Production") --
    # TRUSTED_PROXIES: how many reverse proxies in front of crmlite set X-Forwarded-* (0: none,
    # the headers are ignored); TRUSTED_PROXY_HEADERS: which of them they set. Both are read
    # in __init__ (a bad value is a clear error at start).
    TRUSTED_PROXIES = 0
    TRUSTED_PROXY_HEADERS: tuple[str, ...] = ("for", "proto", "host")
    # Host names requests may be addressed to (a leading dot allows subdomains); any other
    # Host is a 400. None: any (Flask's TRUSTED_HOSTS; comma-separated in the environment).
    TRUSTED_HOSTS: list[str] | None = None
    # "https" when crmlite is only reached over TLS: links made without a request use it, and
    # every response carries STRICT_TRANSPORT_SECURITY (also sent for requests that came
    # over https). Empty STRICT_TRANSPORT_SECURITY sends no HSTS.
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
    STRICT_TRANSPORT_SECURITY = os.environ.get(
        "STRICT_TRANSPORT_SECURITY", "max-age=31536000; includeSubDomains"
    )
    # Production refuses a shorter SECRET_KEY: it signs sessions and every tracking token.
    MIN_SECRET_KEY_LENGTH = 32

    def __init__(self) -> None:
        self.SQLALCHEMY_DATABASE_URI = _database_url()
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or self._missing_secret_key()
        self._check_secret_key(self.SECRET_KEY)
        self.TRUSTED_PROXIES = _trusted_proxies(os.environ.get("TRUSTED_PROXIES", "0"))
        if "TRUSTED_PROXY_HEADERS" in os.environ:
            self.TRUSTED_PROXY_HEADERS = _proxy_headers(os.environ["TRUSTED_PROXY_HEADERS"])
        self.TRUSTED_HOSTS = _names(os.environ.get("TRUSTED_HOSTS", "")) or None
        self.PUBLIC_URL = _public_url(os.environ.get("PUBLIC_URL", ""))
        self.TRACK_SEND_WINDOW = parse_send_window(
            os.environ.get("TRACK_SEND_WINDOW", "08:00-18:00")
        )

    def _missing_secret_key(self) -> str:
        raise RuntimeError(
            "SECRET_KEY is not set. Production needs a secret key from the environment, "
            f"e.g. SECRET_KEY={MAKE_A_KEY}."
        )

    def _check_secret_key(self, key: str) -> None:
        if len(key) < self.MIN_SECRET_KEY_LENGTH:
            raise RuntimeError(
                f"SECRET_KEY is {len(key)} characters long; production needs at least "
                f"{self.MIN_SECRET_KEY_LENGTH} random ones (it signs sessions and links). "
                f"Make one with SECRET_KEY={MAKE_A_KEY}."
            )


class DevelopmentConfig(Config):
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False

    def _missing_secret_key(self) -> str:
        return _development_secret_key()

    def _check_secret_key(self, key: str) -> None:
        pass  # a short key set by hand on a developer's machine is their choice


class TestConfig(Config):
    __test__ = False  # not a pytest test class
    TESTING = True
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    RATELIMIT_ENABLED = True
    # Never a real mail server from the environment: a test starts its own when it needs one.
    MAIL_SERVER = ""
    MAIL_RATE_PER_SECOND = 1000.0
    MAIL_OUTBOX = str(Path(tempfile.gettempdir()) / "crmlite-test-outbox")
    DOCUMENT_DIR = str(Path(tempfile.gettempdir()) / "crmlite-test-documents")
    DOCUMENT_S3_BUCKET = ""  # never a bucket from the environment: a test configures moto's

    def __init__(self, database_url: str | None = None) -> None:
        super().__init__()
        if database_url:
            self.SQLALCHEMY_DATABASE_URI = database_url

    def _missing_secret_key(self) -> str:
        return "test-secret-key"

    def _check_secret_key(self, key: str) -> None:
        pass


CONFIGS: dict[str, type[Config]] = {
    "production": Config,
    "development": DevelopmentConfig,
    "testing": TestConfig,
}


def config_from_environment() -> Config:
    name = os.environ.get("CRMLITE_ENV", "production")
    if name not in CONFIGS:
        raise RuntimeError(f"CRMLITE_ENV must be one of {', '.join(CONFIGS)}, not {name!r}")
    return CONFIGS[name]()
