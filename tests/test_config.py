"""Configuration from the environment: secure by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmlite import config


def test_production_refuses_to_start_without_a_secret_key(monkeypatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("CRMLITE_ENV", "production")
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        config.config_from_environment()


def test_production_takes_the_key_from_the_environment_and_secures_cookies(monkeypatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "from-the-environment-" + "k" * 12)
    monkeypatch.setenv("CRMLITE_ENV", "production")
    settings = config.config_from_environment()
    assert settings.SECRET_KEY == "from-the-environment-kkkkkkkkkkkk"
    assert settings.SESSION_COOKIE_SECURE and settings.REMEMBER_COOKIE_SECURE
    assert settings.SESSION_COOKIE_HTTPONLY and settings.SESSION_COOKIE_SAMESITE == "Lax"


@pytest.mark.parametrize("key", ["x", "changeme", "k" * 31])
def test_production_refuses_a_short_secret_key(monkeypatch, key: str) -> None:
    monkeypatch.setenv("SECRET_KEY", key)
    monkeypatch.setenv("CRMLITE_ENV", "production")
    with pytest.raises(RuntimeError) as refused:
        config.config_from_environment()
    message = str(refused.value)
    assert f"SECRET_KEY is {len(key)} characters long" in message
    assert "at least 32" in message
    assert "secrets.token_hex(32)" in message  # how to make one


def test_production_takes_a_key_of_32_characters(monkeypatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "k" * 32)
    monkeypatch.setenv("CRMLITE_ENV", "production")
    assert config.config_from_environment().SECRET_KEY == "k" * 32


def test_development_and_tests_take_a_short_key(monkeypatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "dev")
    assert config.DevelopmentConfig().SECRET_KEY == "dev"
    assert config.TestConfig().SECRET_KEY == "dev"


def test_development_generates_a_key_once_and_keeps_it(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    first = config.DevelopmentConfig().SECRET_KEY
    assert len(first) == 64
    assert first == config.DevelopmentConfig().SECRET_KEY
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert not config.DevelopmentConfig().SESSION_COOKIE_SECURE


def test_database_url_defaults_to_sqlite_and_maps_postgres_to_psycopg(monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert config._database_url().startswith("sqlite:///")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert config._database_url() == "postgresql+psycopg://u@h/db"


def test_unknown_environment_name_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("CRMLITE_ENV", "staging")
    with pytest.raises(RuntimeError, match="CRMLITE_ENV must be one of"):
        config.config_from_environment()
