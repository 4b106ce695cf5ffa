"""The board's column totals, kept by the database itself: per stage and status, how many
opportunities and the sum of their revenue and of their probability-weighted revenue.

The board's headers read these few rows instead of adding up every open card (issue #16:
with 100,000 open opportunities a header must not scan them all). Triggers on
``opportunities`` keep them with every insert, update and delete, in the same transaction,
whoever writes: a form, the board, an import, a bulk load or a migration. Amounts are kept
in whole cents (``revenue_cents``) and the weighted sum as cents × percent
(``weighted_cent_percents``), integers on both engines, so adding and subtracting never
drifts; ``services/board.py`` divides once when it reads.

Keyed by status as well as stage, so whether a status counts as open (a setting) is asked
when reading, not frozen in here. ``board_totals.rebuild()`` recomputes every row from the
opportunities (``flask crm rebuild-board-totals``); a test compares both after random changes.

Beware on SQLite: a migration that rebuilds ``opportunities`` (Alembic's batch "move and
copy") drops its triggers; it must create them again (``tests/test_migrations.py`` checks
that they exist after the last migration).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.models.base import Model, kept_by_triggers

TRIGGERS = (
    "opportunities_board_totals_insert",
    "opportunities_board_totals_update",
    "opportunities_board_totals_delete",
)


class BoardTotal(Model):
    """One stage and status: its opportunities' count and sums (see the module)."""

    __tablename__ = "board_totals"

    stage_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    deals: Mapped[int] = mapped_column(Integer, default=0)
    revenue_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    weighted_cent_percents: Mapped[int] = mapped_column(BigInteger, default=0)


def _cents(row: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"ROUND({row}.revenue * 100)::bigint"
    return f"CAST(ROUND({row}.revenue * 100) AS INTEGER)"


def _add(row: str, dialect: str) -> str:
    cents = _cents(row, dialect)
    return (
        "INSERT INTO board_totals (stage_id, status_id, deals, revenue_cents, "
        "weighted_cent_percents) "
        f"VALUES ({row}.stage_id, {row}.status_id, 1, {cents}, {cents} * {row}.probability) "
        "ON CONFLICT (stage_id, status_id) DO UPDATE SET "
        "deals = board_totals.deals + 1, "
        "revenue_cents = board_totals.revenue_cents + excluded.revenue_cents, "
        "weighted_cent_percents = board_totals.weighted_cent_percents "
        "+ excluded.weighted_cent_percents"
    )


def _subtract(row: str, dialect: str) -> str:
    cents = _cents(row, dialect)
    return (
        "UPDATE board_totals SET deals = deals - 1, "
        f"revenue_cents = revenue_cents - {cents}, "
        f"weighted_cent_percents = weighted_cent_percents - {cents} * {row}.probability "
        f"WHERE stage_id = {row}.stage_id AND status_id = {row}.status_id"
    )


_CHANGED = (
    "OLD.stage_id IS DISTINCT FROM NEW.stage_id OR OLD.status_id IS DISTINCT FROM NEW.status_id "
    "OR OLD.revenue IS DISTINCT FROM NEW.revenue "
    "OR OLD.probability IS DISTINCT FROM NEW.probability"
)
_COLUMNS = "stage_id, status_id, revenue, probability"


def trigger_sql(dialect: str) -> list[str]:
    """The statements creating the triggers on this engine (the migration keeps a copy)."""
    if dialect == "postgresql":
        # One function; an update subtracts and adds in key order, so two moves in opposite
        # directions lock the two rows in the same order (no deadlock).
        return [
            "CREATE OR REPLACE FUNCTION opportunities_board_totals() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_OP = 'DELETE' THEN " + _subtract("OLD", dialect) + "; "
            "ELSIF TG_OP = 'INSERT' THEN " + _add("NEW", dialect) + "; "
            "ELSIF (OLD.stage_id, OLD.status_id) <= (NEW.stage_id, NEW.status_id) THEN "
            + _subtract("OLD", dialect)
            + "; "
            + _add("NEW", dialect)
            + "; ELSE "
            + _add("NEW", dialect)
            + "; "
            + _subtract("OLD", dialect)
            + "; END IF; RETURN NULL; END $$",
            "CREATE OR REPLACE TRIGGER opportunities_board_totals_insert AFTER INSERT "
            "ON opportunities FOR EACH ROW EXECUTE FUNCTION opportunities_board_totals()",
            "CREATE OR REPLACE TRIGGER opportunities_board_totals_update AFTER UPDATE OF "
            f"{_COLUMNS} ON opportunities FOR EACH ROW WHEN ({_CHANGED}) "
            "EXECUTE FUNCTION opportunities_board_totals()",
            "CREATE OR REPLACE TRIGGER opportunities_board_totals_delete AFTER DELETE "
            "ON opportunities FOR EACH ROW EXECUTE FUNCTION opportunities_board_totals()",
        ]
    changed = _CHANGED.replace("IS DISTINCT FROM", "IS NOT")
    return [
        "CREATE TRIGGER IF NOT EXISTS opportunities_board_totals_insert AFTER INSERT "
        f"ON opportunities BEGIN {_add('NEW', dialect)}; END",
        f"CREATE TRIGGER IF NOT EXISTS opportunities_board_totals_update AFTER UPDATE OF "
        f"{_COLUMNS} ON opportunities WHEN {changed} "
        f"BEGIN {_subtract('OLD', dialect)}; {_add('NEW', dialect)}; END",
        "CREATE TRIGGER IF NOT EXISTS opportunities_board_totals_delete AFTER DELETE "
        f"ON opportunities BEGIN {_subtract('OLD', dialect)}; END",
    ]


def drop_sql(dialect: str) -> list[str]:
    """The statements dropping the triggers (on PostgreSQL, the function and with it them)."""
    if dialect == "postgresql":
        return ["DROP FUNCTION IF EXISTS opportunities_board_totals() CASCADE"]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]


def rebuild_sql(dialect: str) -> list[str]:
    """Recompute every row from the opportunities."""
    cents = _cents("o", dialect)
    return [
        "DELETE FROM board_totals",
        "INSERT INTO board_totals (stage_id, status_id, deals, revenue_cents, "
        "weighted_cent_percents) "
        f"SELECT o.stage_id, o.status_id, COUNT(*), SUM({cents}), SUM({cents} * o.probability) "
        "FROM opportunities o GROUP BY o.stage_id, o.status_id",
    ]


kept_by_triggers(("board_totals", "opportunities"), trigger_sql, drop_sql)
