"""The board's text search by trigrams (issue #16): a deal is found by a piece of its name, of
its company's name or of its contact's name (``services/text_search.py``) through an index,
instead of reading every name of every deal on the board (317 ms at 70,000 open deals).

- SQLite: an FTS5 table with the trigram tokenizer per searched text, its rowid the row's
  id, kept by triggers on the table the text comes from (its own copy of the text, so a
  ``LIKE`` on it is checked against the text, not only the trigrams). ``LIKE`` there is
  case-insensitive, and a pattern of fewer than three characters reads the whole (small)
  table instead of the index.
- PostgreSQL: pg_trgm's GIN indexes on the same texts, which ``ILIKE`` uses. pg_trgm is a
  trusted extension: the database's owner may create it.

Neither is a model: the tables and indexes are made by the migration, and by ``create_all``
(tests, bench) through the event below. They hold nothing a restore needs: the triggers fill
the tables as the rows go in (``services/archive.py`` lists them as derived). A migration
that rebuilds one of the source tables on SQLite drops its triggers: it must create them
again (as for the roll-ups).
"""

from __future__ import annotations

from crmlite.models.base import kept_by_triggers

# The FTS5 table (SQLite) / trigram index (PostgreSQL) of each searched text: its source
# table, the text as SQL of a row (``{row}``: NEW, OLD or the table's name), the columns it
# is made of.
SEARCHED = {
    "opportunity_names": ("opportunities", "{row}.name", "name"),
    "company_names": ("companies", "{row}.name", "name"),
    "contact_names": (
        "contacts",
        "{row}.first_name || ' ' || {row}.last_name",
        "first_name, last_name",
    ),
}


def _sqlite_sql(name: str, table: str, text: str, columns: str) -> list[str]:
    def of(row: str) -> str:
        return text.format(row=row)

    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns.split(", "))
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING fts5(text, tokenize='trigram')",
        # Filled when new (a create_all on a filled database adds nothing twice).
        f"INSERT INTO {name} (rowid, text) SELECT id, {of(table)} FROM {table} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {name})",
        f"CREATE TRIGGER IF NOT EXISTS {name}_insert AFTER INSERT ON {table} "
        f"BEGIN INSERT INTO {name} (rowid, text) VALUES (NEW.id, {of('NEW')}); END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_update AFTER UPDATE OF {columns} ON {table} "
        f"WHEN {changed} BEGIN UPDATE {name} SET text = {of('NEW')} WHERE rowid = NEW.id; END",
        f"CREATE TRIGGER IF NOT EXISTS {name}_delete AFTER DELETE ON {table} "
        f"BEGIN DELETE FROM {name} WHERE rowid = OLD.id; END",
    ]


def search_sql(dialect: str) -> list[str]:
    """The statements making the search's tables and triggers, or indexes, filled from what
    is there (the migration keeps a copy)."""
    if dialect == "postgresql":
        return ["CREATE EXTENSION IF NOT EXISTS pg_trgm"] + [
            f"CREATE INDEX IF NOT EXISTS ix_{name}_trgm ON {table} "
            f"USING gin (({text.replace('{row}.', '')}) gin_trgm_ops)"
            for name, (table, text, _columns) in SEARCHED.items()
        ]
    return [
        statement
        for name, (table, text, columns) in SEARCHED.items()
        for statement in _sqlite_sql(name, table, text, columns)
    ]


def search_drop_sql(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP INDEX IF EXISTS ix_{name}_trgm" for name in SEARCHED]
    return [
        statement
        for name in SEARCHED
        for statement in (
            *(f"DROP TRIGGER IF EXISTS {name}_{op}" for op in ("insert", "update", "delete")),
            f"DROP TABLE IF EXISTS {name}",
        )
    ]


kept_by_triggers(
    tuple(table for table, _text, _columns in SEARCHED.values()), search_sql, search_drop_sql
)
