"""Configuration read from the environment.

CRMLITE_ENV selects the mode: ``development`` (``make run``), ``production`` (the default,
so a forgotten setting fails safe) or ``testing``.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

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
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # Sign-in attempts per client address.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
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
    # Messages per second at most, so a campaign never floods the mail server.
    MAIL_RATE_PER_SECOND = float(os.environ.get("MAIL_RATE_PER_SECOND", "5"))
    # Largest group a campaign e-mail is sent to within a web request; beyond it, use
    # ``flask crm send-campaign-email``.
    MAIL_REQUEST_SEND_LIMIT = int(os.environ.get("MAIL_REQUEST_SEND_LIMIT", "3000"))
    # The address people reach crmlite at, for links in e-mails sent outside a request
    # (e.g. https://crm.example.com); within a request the request's own host is used.
    PUBLIC_URL = os.environ.get("PUBLIC_URL", "")
    # Open and click tracking links stop recording after this many days.
    TRACKING_MAX_AGE_DAYS = int(os.environ.get("TRACKING_MAX_AGE_DAYS", "365"))
    # Days the audit log keeps an entry; `flask crm audit prune` deletes older ones.
    AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", "730"))
    # Public web form posts per client address.
    PUBLIC_FORM_RATE_LIMIT = os.environ.get("PUBLIC_FORM_RATE_LIMIT", "5 per minute;50 per day")

    def __init__(self) -> None:
        self.SQLALCHEMY_DATABASE_URI = _database_url()
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or self._missing_secret_key()

    def _missing_secret_key(self) -> str:
        raise RuntimeError(
            "SECRET_KEY is not set. Production needs a secret key from the environment, "
            "e.g. SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')."
        )


class DevelopmentConfig(Config):
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False

    def _missing_secret_key(self) -> str:
        return _development_secret_key()


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

    def __init__(self, database_url: str | None = None) -> None:
        super().__init__()
        if database_url:
            self.SQLALCHEMY_DATABASE_URI = database_url

    def _missing_secret_key(self) -> str:
        return "test-secret-key"


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
