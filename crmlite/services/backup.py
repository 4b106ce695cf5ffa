"""Backup and restore of the whole database, consistent while the app runs.

- **SQLite**: the online backup API (``sqlite3.Connection.backup``) copies the database
  page by page into a new file; writers carry on meanwhile and the copy is one consistent
  moment. Restoring copies that file back the same way.
- **PostgreSQL**: ``pg_dump -Fc`` (the custom format, compressed) writes a consistent
  snapshot; ``pg_restore`` loads it back. Both must be installed (Debian:
  ``postgresql-client``) and at least as new as the server; without them the commands stop
  with a clear message.

A restore goes only into an empty database (no row in any of crmlite's tables) unless
``force`` is given: then what is there is replaced.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL

from crmlite.database import holds_rows
from crmlite.extensions import db


class BackupFailed(RuntimeError):
    """The backup or restore could not be done; the message says why."""


@dataclass(frozen=True)
class Done:
    path: Path
    engine: str
    how: str  # what did it, for the command's output


def _url() -> URL:
    return db.engine.url


def _sqlite_file(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("An in-memory SQLite database cannot be backed up.")
    return url.database


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump / pg_restore, the password in the environment (never
    on the command line, where other users of the machine could read it)."""
    options = ["--dbname", str(url.database or "")]
    if url.host:
        options += ["--host", url.host]
    if url.port:
        options += ["--port", str(url.port)]
    if url.username:
        options += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return options, env


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupFailed(
            f"{name} is not installed: PostgreSQL backups use pg_dump and pg_restore "
            "(Debian: apt-get install postgresql-client, the server's version or newer)."
        )
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise BackupFailed(f"{Path(command[0]).name} failed: {finished.stderr.strip()[-2000:]}")


def backup(path: Path) -> Done:
    """A consistent copy of the database at ``path`` (an existing file is replaced)."""
    url = _url()
    if url.get_backend_name() == "sqlite":
        source_file = _sqlite_file(url)
        path.unlink(missing_ok=True)
        source = sqlite3.connect(source_file)
        target = sqlite3.connect(path)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
        return Done(path, "sqlite", "SQLite's online backup API")
    options, env = _libpq(url)
    _run(
        [_program("pg_dump"), "--format=custom", "--no-owner", "--file", str(path), *options],
        env,
    )
    return Done(path, "postgresql", "pg_dump -Fc (PostgreSQL's custom format)")


def is_empty() -> bool:
    """Whether no table of crmlite's holds a row."""
    return not any(holds_rows(db.session, t) for t in db.metadata.sorted_tables)


def restore(path: Path, *, force: bool = False) -> Done:
    """The backup at ``path`` becomes the database: only into an empty one, unless
    ``force``. The session is closed first (the restore replaces what it would read)."""
    if not path.is_file():
        raise BackupFailed(f"There is no backup at {path}.")
    url = _url()
    has_tables = bool(db.metadata.tables) and _has_crmlite_tables()
    if has_tables and not force and not is_empty():
        raise BackupFailed(
            "The database is not empty: restore into an empty database, or pass --force "
            "to replace what it holds."
        )
    db.session.remove()
    if url.get_backend_name() == "sqlite":
        try:
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            source.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError as error:
            raise BackupFailed(f"{path} is no SQLite backup: {error}") from None
        db.engine.dispose()  # no pooled connection keeps the old pages
        target = sqlite3.connect(_sqlite_file(url))
        try:
            with target:
                source.backup(target)
        except sqlite3.DatabaseError as error:
            raise BackupFailed(f"{path} is no SQLite backup: {error}") from None
        finally:
            target.close()
            source.close()
        return Done(path, "sqlite", "SQLite's online backup API")
    options, env = _libpq(url)
    db.engine.dispose()
    _run(
        [
            _program("pg_restore"),
            "--clean",  # the empty tables a migrated database already has
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            *options,
            str(path),
        ],
        env,
    )
    return Done(path, "postgresql", "pg_restore")


def _has_crmlite_tables() -> bool:
    names = set(inspect(db.engine).get_table_names())
    return bool(names & set(db.metadata.tables))
