"""Monthly roll-ups of the closed opportunities, kept by the database itself: per UTC month,
status, account manager, location and business unit, how many deals closed and the sums
every report counts them for (issue #19: the dashboard, the quarter switch, the summary by
location and business unit and the funnel's win rate must not re-read a period's deals).

Triggers on ``opportunities`` keep the rows with every insert, update and delete, in the
same transaction, whoever writes (a form, the board, an import, the API, a restore, a bulk
statement), as they keep ``board_totals``. Amounts are whole cents, integers on both engines,
so adding and subtracting never drifts:

- ``won_cents``: the won amount, or the revenue when none was recorded (the revenue basis);
- ``margin_cents``: revenue − cost (the margin basis).

Why UTC months, not the team's: a trigger cannot convert to a time zone on SQLite, and the
team may change its zone. A month in the team's zone differs from the UTC month by the hours
of the zone's offset at each end (14 at most); ``services/rollups.py`` reads the UTC months'
rows and corrects each end from the few deals closed in those hours (an index range on
``closed_at``), so every figure stays exact in any zone without scanning the period.

Keyed by status, so whether a status counts as won (a setting) is asked when reading. "None
set" (no account manager, location, business unit) is kept as 0: key columns cannot be NULL.
Wins stay where their opportunity was booked: a member moving to another location moves no
row (quotas, read from ``revenue_quotas`` through the members, follow the member).

``rollups.rebuild()`` recomputes every row (``flask crm rebuild-rollups``); a seeded random
walk (tests/test_rollups.py) compares the kept rows with the rebuilt ones on both engines.
A migration that rebuilds ``opportunities`` on SQLite drops these triggers: it must create
them again (as for ``board_totals``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from crmlite.models.base import Model, kept_by_triggers

TRIGGERS = (
    "opportunities_won_rollups_insert",
    "opportunities_won_rollups_update",
    "opportunities_won_rollups_delete",
)


class ClosedMonth(Model):
    """The deals of one status closed in one UTC month by one account manager at one
    location and business unit (0: none set): their count and sums (see the module)."""

    __tablename__ = "closed_rollups"

    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # YYYYMM
    status_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    account_manager_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    location_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    business_unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    deals: Mapped[int] = mapped_column(Integer, default=0)
    won_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    margin_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class PipelineMonth(Model):
    """The deals of one status expected to close in one month (of ``expected_close_on``, a
    date: no time zone) with one account manager (0: none): their count, revenue and cost in
    cents, and both weighted by probability (cents × percent), for the forecast."""

    __tablename__ = "pipeline_rollups"

    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # YYYYMM
    status_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    account_manager_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    deals: Mapped[int] = mapped_column(Integer, default=0)
    revenue_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    weighted_revenue: Mapped[int] = mapped_column(BigInteger, default=0)  # cents × percent
    weighted_cost: Mapped[int] = mapped_column(BigInteger, default=0)  # cents × percent


class StageMonth(Model):
    """The moves of one UTC month into and out of one stage, for the funnel's conversion and
    days in stage (services/funnel_health.py), from the stage history: the moves into it
    (``entered``), how many of those were followed by a move to a later stage other than
    Lost (``advanced``) or to Won (``won``); the stays in it that ended (``stays``, those
    whose start is known) and their length in milliseconds (``stay_ms``). Team-wide: a
    member's funnel reads their own opportunities' moves (a fiftieth of them)."""

    __tablename__ = "stage_rollups"

    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # YYYYMM
    stage_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entered: Mapped[int] = mapped_column(Integer, default=0)
    advanced: Mapped[int] = mapped_column(Integer, default=0)
    won: Mapped[int] = mapped_column(Integer, default=0)
    stays: Mapped[int] = mapped_column(Integer, default=0)
    stay_ms: Mapped[int] = mapped_column(BigInteger, default=0)


_KEYS = "month, status_id, account_manager_id, location_id, business_unit_id"


def changed(columns: str) -> str:
    """A trigger's condition: one of these columns (comma-separated) changed."""
    return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns.split(", "))


def summed_upsert(
    table: str,
    keys: str,
    figures: tuple[str, ...],
    rows: list[str],
    *,
    present: str,
    alias: str,
    conflict: str = "",
) -> str:
    """Add ``rows`` (SELECTs giving the keys and figures, + or −) to ``table``'s rows, in one
    statement: grouped by the keys, in key order (two changes in opposite directions lock
    the rows in the same order: no deadlock on PostgreSQL); rows whose ``present`` key is
    NULL are left out (``present``: comma-separated when several). ``conflict``: the
    primary key, when ``keys`` also holds a column it determines (kept as first written)."""
    sums = ", ".join(f"SUM({f})" for f in figures)
    present = " AND ".join(f"{column} IS NOT NULL" for column in present.split(", "))
    updates = ", ".join(f"{f} = {table}.{f} + excluded.{f}" for f in figures)
    return (
        f"INSERT INTO {table} ({keys}, {', '.join(figures)}) "
        f"SELECT {keys}, {sums} FROM ({' UNION ALL '.join(rows)}) AS {alias} "
        f"WHERE {present} GROUP BY {keys} ORDER BY {keys} "
        f"ON CONFLICT ({conflict or keys}) DO UPDATE SET {updates}"
    )


def _cents(value: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"ROUND({value} * 100)::bigint"
    return f"CAST(ROUND({value} * 100) AS INTEGER)"


def month_sql(moment: str, dialect: str) -> str:
    """The UTC month of a stored moment as YYYYMM (an integer)."""
    if dialect == "postgresql":
        return f"CAST(to_char({moment} AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER)"
    return f"CAST(strftime('%Y%m', {moment}) AS INTEGER)"


def _values(row: str, dialect: str) -> list[str]:
    """The key and the figures one opportunity (``row``: NEW, OLD or a table alias) adds."""
    return [
        month_sql(f"{row}.closed_at", dialect),
        f"{row}.status_id",
        f"COALESCE({row}.account_manager_id, 0)",
        f"COALESCE({row}.location_id, 0)",
        f"COALESCE({row}.business_unit_id, 0)",
        "1",
        _cents(f"COALESCE({row}.won_amount, {row}.revenue)", dialect),
        f"{_cents(f'{row}.revenue', dialect)} - {_cents(f'{row}.cost', dialect)}",
    ]


def _add(row: str, dialect: str) -> str:
    return (
        f"INSERT INTO closed_rollups ({_KEYS}, deals, won_cents, margin_cents) "
        f"SELECT {', '.join(_values(row, dialect))} WHERE {row}.closed_at IS NOT NULL "
        f"ON CONFLICT ({_KEYS}) DO UPDATE SET "
        "deals = closed_rollups.deals + excluded.deals, "
        "won_cents = closed_rollups.won_cents + excluded.won_cents, "
        "margin_cents = closed_rollups.margin_cents + excluded.margin_cents"
    )


def _subtract(row: str, dialect: str) -> str:
    month, status, manager, location, unit, _one, won, margin = _values(row, dialect)
    return (
        f"UPDATE closed_rollups SET deals = deals - 1, won_cents = won_cents - {won}, "
        f"margin_cents = margin_cents - ({margin}) "
        f"WHERE month = {month} AND status_id = {status} AND account_manager_id = {manager} "
        f"AND location_id = {location} AND business_unit_id = {unit}"
    )


_COLUMNS = (
    "closed_at, status_id, account_manager_id, location_id, business_unit_id, won_amount, "
    "revenue, cost"
)
_CHANGED = changed(_COLUMNS)
_CLOSED = "(OLD.closed_at IS NOT NULL OR NEW.closed_at IS NOT NULL)"


def trigger_sql(dialect: str) -> list[str]:
    """The statements creating the triggers on this engine (the migration keeps a copy)."""
    if dialect == "postgresql":
        # An update subtracts and adds in key order, so two changes in opposite directions
        # lock the two rows in the same order (no deadlock).
        old_key = ", ".join(_values("OLD", dialect)[:5])
        new_key = ", ".join(_values("NEW", dialect)[:5])
        return [
            "CREATE OR REPLACE FUNCTION opportunities_won_rollups() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_OP = 'DELETE' THEN " + _subtract("OLD", dialect) + "; "
            "ELSIF TG_OP = 'INSERT' THEN " + _add("NEW", dialect) + "; "
            f"ELSIF OLD.closed_at IS NULL OR (NEW.closed_at IS NOT NULL AND "
            f"({old_key}) <= ({new_key})) THEN "
            + _subtract("OLD", dialect)
            + "; "
            + _add("NEW", dialect)
            + "; ELSE "
            + _add("NEW", dialect)
            + "; "
            + _subtract("OLD", dialect)
            + "; END IF; RETURN NULL; END $$",
            "CREATE OR REPLACE TRIGGER opportunities_won_rollups_insert AFTER INSERT "
            "ON opportunities FOR EACH ROW WHEN (NEW.closed_at IS NOT NULL) "
            "EXECUTE FUNCTION opportunities_won_rollups()",
            "CREATE OR REPLACE TRIGGER opportunities_won_rollups_update AFTER UPDATE OF "
            f"{_COLUMNS} ON opportunities FOR EACH ROW WHEN ({_CLOSED} AND ({_CHANGED})) "
            "EXECUTE FUNCTION opportunities_won_rollups()",
            "CREATE OR REPLACE TRIGGER opportunities_won_rollups_delete AFTER DELETE "
            "ON opportunities FOR EACH ROW WHEN (OLD.closed_at IS NOT NULL) "
            "EXECUTE FUNCTION opportunities_won_rollups()",
        ]
    changed = _CHANGED.replace("IS DISTINCT FROM", "IS NOT")
    return [
        "CREATE TRIGGER IF NOT EXISTS opportunities_won_rollups_insert AFTER INSERT "
        f"ON opportunities WHEN NEW.closed_at IS NOT NULL BEGIN {_add('NEW', dialect)}; END",
        "CREATE TRIGGER IF NOT EXISTS opportunities_won_rollups_update AFTER UPDATE OF "
        f"{_COLUMNS} ON opportunities WHEN {_CLOSED} AND ({changed}) "
        f"BEGIN {_subtract('OLD', dialect)}; {_add('NEW', dialect)}; END",
        "CREATE TRIGGER IF NOT EXISTS opportunities_won_rollups_delete AFTER DELETE "
        f"ON opportunities WHEN OLD.closed_at IS NOT NULL "
        f"BEGIN {_subtract('OLD', dialect)}; END",
    ]


def drop_sql(dialect: str) -> list[str]:
    """The statements dropping the triggers (on PostgreSQL, the function and with it them)."""
    if dialect == "postgresql":
        return ["DROP FUNCTION IF EXISTS opportunities_won_rollups() CASCADE"]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]


def rebuild_sql(dialect: str) -> list[str]:
    """Recompute every row from the opportunities."""
    month, status, manager, location, unit, _one, won, margin = _values("o", dialect)
    return [
        "DELETE FROM closed_rollups",
        f"INSERT INTO closed_rollups ({_KEYS}, deals, won_cents, margin_cents) "
        f"SELECT {month}, {status}, {manager}, {location}, {unit}, COUNT(*), SUM({won}), "
        f"SUM({margin}) FROM opportunities o WHERE o.closed_at IS NOT NULL "
        f"GROUP BY {month}, {status}, {manager}, {location}, {unit}",
    ]


def _pipeline_rows(row: str, sign: str, dialect: str) -> str:
    """The row one opportunity adds (sign '') or takes away (sign '-') from the pipeline."""
    month = _date_key(f"{row}.expected_close_on", "month", dialect)
    revenue, cost = _cents(f"{row}.revenue", dialect), _cents(f"{row}.cost", dialect)
    return (
        f"SELECT {month} AS month, {row}.status_id AS status_id, "
        f"COALESCE({row}.account_manager_id, 0) AS account_manager_id, {sign}1 AS deals, "
        f"{sign}{revenue} AS revenue_cents, {sign}{cost} AS cost_cents, "
        f"{sign}{revenue} * {row}.probability AS weighted_revenue, "
        f"{sign}{cost} * {row}.probability AS weighted_cost"
    )


_PIPELINE_KEYS = "month, status_id, account_manager_id"
_PIPELINE_FIGURES = ("deals", "revenue_cents", "cost_cents", "weighted_revenue", "weighted_cost")


def _pipeline_upsert(rows: list[str]) -> str:
    return summed_upsert(
        "pipeline_rollups", _PIPELINE_KEYS, _PIPELINE_FIGURES, rows, present="month", alias="deals"
    )


_PIPELINE_COLUMNS = "expected_close_on, status_id, account_manager_id, revenue, cost, probability"
_PIPELINE_CHANGED = changed(_PIPELINE_COLUMNS)


def row_triggers(
    dialect: str,
    function: str,
    table: str,
    columns: str,
    changed_when: str,
    bodies: tuple[str, str, str],
    inserted_when: str = "",
    deleted_when: str = "",
) -> list[str]:
    """A row's triggers on ``table``, each one statement of ``bodies`` (added, removed,
    changed): on PostgreSQL one function ``function`` and three triggers calling it; on
    SQLite three triggers named ``function`` + _insert, _update, _delete."""
    added, removed, changed = bodies
    if dialect == "postgresql":

        def when(condition: str) -> str:
            return f"WHEN ({condition}) " if condition else ""

        return [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'DELETE' THEN {removed}; "
            f"ELSIF TG_OP = 'INSERT' THEN {added}; "
            f"ELSE {changed}; END IF; RETURN NULL; END $$",
            f"CREATE OR REPLACE TRIGGER {function}_insert AFTER INSERT "
            f"ON {table} FOR EACH ROW {when(inserted_when)}EXECUTE FUNCTION {function}()",
            f"CREATE OR REPLACE TRIGGER {function}_update AFTER UPDATE OF "
            f"{columns} ON {table} FOR EACH ROW {when(changed_when)}"
            f"EXECUTE FUNCTION {function}()",
            f"CREATE OR REPLACE TRIGGER {function}_delete AFTER DELETE "
            f"ON {table} FOR EACH ROW {when(deleted_when)}EXECUTE FUNCTION {function}()",
        ]

    def sqlite_when(condition: str) -> str:
        return f"WHEN {condition} " if condition else ""

    changed_when = changed_when.replace("IS DISTINCT FROM", "IS NOT")
    return [
        f"CREATE TRIGGER IF NOT EXISTS {function}_insert AFTER INSERT "
        f"ON {table} {sqlite_when(inserted_when)}BEGIN {added}; END",
        f"CREATE TRIGGER IF NOT EXISTS {function}_update AFTER UPDATE OF "
        f"{columns} ON {table} {sqlite_when(changed_when)}BEGIN {changed}; END",
        f"CREATE TRIGGER IF NOT EXISTS {function}_delete AFTER DELETE "
        f"ON {table} {sqlite_when(deleted_when)}BEGIN {removed}; END",
    ]


def row_triggers_dropped(dialect: str, function: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP FUNCTION IF EXISTS {function}() CASCADE"]
    return [f"DROP TRIGGER IF EXISTS {function}_{op}" for op in ("insert", "update", "delete")]


def pipeline_trigger_sql(dialect: str) -> list[str]:
    """The statements creating the pipeline's triggers (the migration keeps a copy)."""
    return row_triggers(
        dialect,
        "opportunities_open_rollups",
        "opportunities",
        _PIPELINE_COLUMNS,
        _PIPELINE_CHANGED,
        (
            _pipeline_upsert([_pipeline_rows("NEW", "", dialect)]),
            _pipeline_upsert([_pipeline_rows("OLD", "-", dialect)]),
            _pipeline_upsert(
                [_pipeline_rows("OLD", "-", dialect), _pipeline_rows("NEW", "", dialect)]
            ),
        ),
        inserted_when="NEW.expected_close_on IS NOT NULL",
        deleted_when="OLD.expected_close_on IS NOT NULL",
    )


def pipeline_drop_sql(dialect: str) -> list[str]:
    return row_triggers_dropped(dialect, "opportunities_open_rollups")


def pipeline_rebuild_sql(dialect: str) -> list[str]:
    """Recompute every pipeline row from the opportunities."""
    return [
        "DELETE FROM pipeline_rollups",
        _pipeline_upsert([_pipeline_rows("o", "", dialect) + " FROM opportunities o"]),
    ]


def _bool(value: str, dialect: str) -> str:
    return f"CAST({value} AS INTEGER)" if dialect == "postgresql" else f"({value})"


def stay_ms_sql(change: str, dialect: str) -> str:
    """How long the stay a move ends lasted, in whole milliseconds (NULL: start unknown)."""
    if dialect == "postgresql":
        return (
            f"ROUND(EXTRACT(EPOCH FROM ({change}.changed_at - {change}.from_stage_entered_at))"
            " * 1000)::bigint"
        )
    return (
        f"CAST(ROUND((julianday({change}.changed_at) - julianday({change}.from_stage_entered_at))"
        " * 86400000) AS INTEGER)"
    )


def _stage_rows(change: str, sign: str, dialect: str, member: str = "") -> list[str]:
    """The two rows one move adds (sign '') or takes away (sign '-'): its entry into the
    stage it went to, its exit from the one it left; first the ``member`` they count for,
    when given (an SQL expression)."""
    month = month_sql(f"{change}.changed_at", dialect)
    known = f"CASE WHEN {change}.from_stage_entered_at IS NULL THEN 0 ELSE 1 END"
    whose, whose_again = (
        (f"{member} AS account_manager_id, ", f"{member}, ") if member else ("", "")
    )
    return [
        f"SELECT {whose}{month} AS month, {change}.to_stage_id AS stage_id, {sign}1 AS entered, "
        f"{sign}{_bool(f'{change}.advanced_later', dialect)} AS advanced, "
        f"{sign}{_bool(f'{change}.won_later', dialect)} AS won, 0 AS stays, "
        f"{'CAST(0 AS BIGINT)' if dialect == 'postgresql' else '0'} AS stay_ms",
        f"SELECT {whose_again}{month}, {change}.from_stage_id, 0, 0, 0, {sign}{known}, "
        f"{sign}COALESCE({stay_ms_sql(change, dialect)}, 0)",
    ]


def _stage_upsert(rows: list[str]) -> str:
    return summed_upsert(
        "stage_rollups", "month, stage_id", _STAGE_FIGURES, rows, present="stage_id", alias="moves"
    )


_STAGE_FIGURES = ("entered", "advanced", "won", "stays", "stay_ms")


_STAGE_COLUMNS = (
    "changed_at, from_stage_id, to_stage_id, from_stage_entered_at, advanced_later, won_later"
)
_STAGE_CHANGED = changed(_STAGE_COLUMNS)


def stage_trigger_sql(dialect: str) -> list[str]:
    """The statements creating the triggers on ``stage_changes`` (the migration keeps a copy)."""
    return row_triggers(
        dialect,
        "stage_changes_rollups",
        "stage_changes",
        _STAGE_COLUMNS,
        _STAGE_CHANGED,
        (
            _stage_upsert(_stage_rows("NEW", "", dialect)),
            _stage_upsert(_stage_rows("OLD", "-", dialect)),
            _stage_upsert(_stage_rows("OLD", "-", dialect) + _stage_rows("NEW", "", dialect)),
        ),
    )


def stage_drop_sql(dialect: str) -> list[str]:
    return row_triggers_dropped(dialect, "stage_changes_rollups")


def stage_rebuild_sql(dialect: str) -> list[str]:
    """Recompute every stage row from the stage history."""
    return [
        "DELETE FROM stage_rollups",
        _stage_upsert([row + " FROM stage_changes c" for row in _stage_rows("c", "", dialect)]),
    ]


# ------------------------------------------------------------------ closed, per member


class ClosedMemberMonth(Model):
    """``closed_rollups`` without the location and business unit: the deals of one status
    closed in one UTC month by one account manager (0: none), their count and sums. The
    reports by member (the quarterly summary, its year to date, the forecast's won) read a
    row per member and month here instead of one per place they booked in."""

    __tablename__ = "member_closed_rollups"
    __table_args__ = {"sqlite_with_rowid": False}  # read in key order, no lookups

    status_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # YYYYMM
    account_manager_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    deals: Mapped[int] = mapped_column(Integer, default=0)
    won_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    margin_cents: Mapped[int] = mapped_column(BigInteger, default=0)


_MEMBER_KEYS = "status_id, month, account_manager_id"
_MEMBER_FIGURES = ("deals", "won_cents", "margin_cents")


def _member_rows(row: str, sign: str, dialect: str, source: str = "") -> str:
    """The row one closed opportunity adds (sign '') or takes away (sign '-')."""
    month, status, manager, _location, _unit, _one, won, margin = _values(row, dialect)
    return (
        f"SELECT {status} AS status_id, {month} AS month, {manager} AS account_manager_id, "
        f"{sign}1 AS deals, {sign}({won}) AS won_cents, {sign}({margin}) AS margin_cents"
        f"{source} WHERE {row}.closed_at IS NOT NULL"
    )


def _member_upsert(rows: list[str]) -> str:
    return summed_upsert(
        "member_closed_rollups", _MEMBER_KEYS, _MEMBER_FIGURES, rows, present="month", alias="deals"
    )


_MEMBER_COLUMNS = "closed_at, status_id, account_manager_id, won_amount, revenue, cost"
_MEMBER_CHANGED = changed(_MEMBER_COLUMNS)


def member_trigger_sql(dialect: str) -> list[str]:
    """The statements creating the per-member closed roll-up's triggers (the migration
    keeps a copy)."""
    return row_triggers(
        dialect,
        "opportunities_member_rollups",
        "opportunities",
        _MEMBER_COLUMNS,
        f"{_CLOSED} AND ({_MEMBER_CHANGED})",
        (
            _member_upsert([_member_rows("NEW", "", dialect)]),
            _member_upsert([_member_rows("OLD", "-", dialect)]),
            _member_upsert([_member_rows("OLD", "-", dialect), _member_rows("NEW", "", dialect)]),
        ),
        inserted_when="NEW.closed_at IS NOT NULL",
        deleted_when="OLD.closed_at IS NOT NULL",
    )


def member_drop_sql(dialect: str) -> list[str]:
    return row_triggers_dropped(dialect, "opportunities_member_rollups")


def member_rebuild_sql(dialect: str) -> list[str]:
    """Recompute every per-member closed row from the opportunities."""
    return [
        "DELETE FROM member_closed_rollups",
        _member_upsert([_member_rows("o", "", dialect, " FROM opportunities o")]),
    ]


# ------------------------------------------------------------------ the open book's hygiene

# What a hygiene row counts (``HygieneCount.kind``) and what its ``period`` is.
NEXT_STEP_MONTH = 1  # the month (YYYYMM) of the deal's latest open activity; 0: none
NEXT_STEP_DAY = 2  # the day (YYYYMMDD) of the same; no row when none
CLOSE_MONTH = 3  # the month of its expected close date; no row when none
CLOSE_DAY = 4  # the day of the same
ZERO_REVENUE = 5  # period 0: no revenue entered


class HygieneCount(Model):
    """How many deals of one status and account manager (0: none) fall in one period of one
    kind (above): the hygiene counts of the dashboard (services/hygiene.py) add up the
    months before this one and the days of this month before today, a few rows per member
    whatever the number of open deals (issue #19). Kept by triggers on ``opportunities``
    like the other roll-ups; keyed by status, so whether a status counts as open is asked
    when reading."""

    __tablename__ = "hygiene_rollups"
    __table_args__ = {"sqlite_with_rowid": False}  # read in key order, no lookups

    status_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    period: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    account_manager_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    deals: Mapped[int] = mapped_column(Integer, default=0)


def _date_key(value: str, pattern: str, dialect: str) -> str:
    """A date as an integer: pattern 'month' gives YYYYMM, 'day' YYYYMMDD (NULL stays NULL)."""
    if dialect == "postgresql":
        return (
            f"CAST(to_char({value}, '{'YYYYMM' if pattern == 'month' else 'YYYYMMDD'}') AS INTEGER)"
        )
    return f"CAST(strftime('{'%Y%m' if pattern == 'month' else '%Y%m%d'}', {value}) AS INTEGER)"


def _hygiene_rows(row: str, sign: str, dialect: str, source: str = "") -> str:
    """The rows one opportunity adds (sign '') or takes away (sign '-'): one per kind
    (``source``: a FROM clause, when ``row`` is a table's alias)."""
    next_step = f"{row}.last_open_activity_on"
    periods = {
        NEXT_STEP_MONTH: f"COALESCE({_date_key(next_step, 'month', dialect)}, 0)",
        NEXT_STEP_DAY: _date_key(next_step, "day", dialect),
        CLOSE_MONTH: _date_key(f"{row}.expected_close_on", "month", dialect),
        CLOSE_DAY: _date_key(f"{row}.expected_close_on", "day", dialect),
        ZERO_REVENUE: f"CASE WHEN {row}.revenue = 0 THEN 0 END",
    }
    return " UNION ALL ".join(
        f"SELECT {row}.status_id AS status_id, {kind} AS kind, {period} AS period, "
        f"COALESCE({row}.account_manager_id, 0) AS account_manager_id, {sign}1 AS deals{source}"
        for kind, period in periods.items()
    )


_HYGIENE_KEYS = "status_id, kind, period, account_manager_id"


def _hygiene_upsert(rows: list[str]) -> str:
    return summed_upsert(
        "hygiene_rollups", _HYGIENE_KEYS, ("deals",), rows, present="period", alias="deals"
    )


_HYGIENE_COLUMNS = (
    "status_id, account_manager_id, last_open_activity_on, expected_close_on, revenue"
)
_HYGIENE_CHANGED = changed(_HYGIENE_COLUMNS)


def hygiene_trigger_sql(dialect: str) -> list[str]:
    """The statements creating the hygiene counts' triggers (the migration keeps a copy)."""
    return row_triggers(
        dialect,
        "opportunities_hygiene_rollups",
        "opportunities",
        _HYGIENE_COLUMNS,
        _HYGIENE_CHANGED,
        (
            _hygiene_upsert([_hygiene_rows("NEW", "", dialect)]),
            _hygiene_upsert([_hygiene_rows("OLD", "-", dialect)]),
            _hygiene_upsert(
                [_hygiene_rows("OLD", "-", dialect), _hygiene_rows("NEW", "", dialect)]
            ),
        ),
    )


def hygiene_drop_sql(dialect: str) -> list[str]:
    return row_triggers_dropped(dialect, "opportunities_hygiene_rollups")


def hygiene_rebuild_sql(dialect: str) -> list[str]:
    """Recompute every hygiene row from the opportunities."""
    return [
        "DELETE FROM hygiene_rollups",
        _hygiene_upsert([_hygiene_rows("o", "", dialect, " FROM opportunities o")]),
    ]


# ------------------------------------------------------------------ lost reasons


class LostReasonMonth(Model):
    """The deals of one status closed in one UTC month by one account manager (0: none) with
    one lost reason ("" when none, as for won deals): their count and amount in cents (the
    lost amount, or the revenue when none was recorded), for the funnel's lost reasons
    (services/funnel_health.py) without reading the period's lost deals.

    ``reason_key`` is the reason itself on SQLite and its MD5 on PostgreSQL, whose index
    entries cannot hold a long text (a reason may run to 2,000 characters); the reports
    group by ``lost_reason``, which the key determines."""

    __tablename__ = "lost_reason_rollups"
    __table_args__ = {"sqlite_with_rowid": False}  # read in key order, no lookups

    status_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # YYYYMM
    account_manager_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reason_key: Mapped[str] = mapped_column(Text, primary_key=True)
    lost_reason: Mapped[str] = mapped_column(Text)
    deals: Mapped[int] = mapped_column(Integer, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)


_LOST_KEYS = "status_id, month, account_manager_id, reason_key"


def _reason_key(reason: str, dialect: str) -> str:
    return f"md5({reason})" if dialect == "postgresql" else reason


def _lost_rows(row: str, sign: str, dialect: str, source: str = "") -> str:
    """The row one closed opportunity adds (sign '') or takes away (sign '-')."""
    return (
        f"SELECT {row}.status_id AS status_id, {month_sql(f'{row}.closed_at', dialect)} AS month, "
        f"COALESCE({row}.account_manager_id, 0) AS account_manager_id, "
        f"{_reason_key(f'{row}.lost_reason', dialect)} AS reason_key, "
        f"{row}.lost_reason AS lost_reason, {sign}1 AS deals, "
        f"{sign}({_cents(f'COALESCE({row}.lost_amount, {row}.revenue)', dialect)}) AS amount_cents"
        f"{source} WHERE {row}.closed_at IS NOT NULL"
    )


def _lost_upsert(rows: list[str]) -> str:
    return summed_upsert(
        "lost_reason_rollups",
        f"{_LOST_KEYS}, lost_reason",
        ("deals", "amount_cents"),
        rows,
        present="month",
        alias="deals",
        conflict=_LOST_KEYS,
    )


_LOST_COLUMNS = "closed_at, status_id, account_manager_id, lost_reason, lost_amount, revenue"
_LOST_CHANGED = changed(_LOST_COLUMNS)


def lost_trigger_sql(dialect: str) -> list[str]:
    """The statements creating the lost reasons' triggers (the migration keeps a copy)."""
    return row_triggers(
        dialect,
        "opportunities_lost_rollups",
        "opportunities",
        _LOST_COLUMNS,
        f"{_CLOSED} AND ({_LOST_CHANGED})",
        (
            _lost_upsert([_lost_rows("NEW", "", dialect)]),
            _lost_upsert([_lost_rows("OLD", "-", dialect)]),
            _lost_upsert([_lost_rows("OLD", "-", dialect), _lost_rows("NEW", "", dialect)]),
        ),
        inserted_when="NEW.closed_at IS NOT NULL",
        deleted_when="OLD.closed_at IS NOT NULL",
    )


def lost_drop_sql(dialect: str) -> list[str]:
    return row_triggers_dropped(dialect, "opportunities_lost_rollups")


def lost_rebuild_sql(dialect: str) -> list[str]:
    """Recompute every lost-reason row from the opportunities."""
    return [
        "DELETE FROM lost_reason_rollups",
        _lost_upsert([_lost_rows("o", "", dialect, " FROM opportunities o")]),
    ]


# ------------------------------------------------------------------ the board's Won and Lost


class BoardClosedMonth(Model):
    """The deals in one stage closed in one UTC month, whatever their status: how many, and
    the sums of their won and lost amounts (none recorded: 0), in cents. The board's Won and
    Lost headers add up this quarter's (services/board.py) from these rows instead of the
    quarter's closed deals (issue #16: the same speed at 100,000 opportunities)."""

    __tablename__ = "board_closed_rollups"
    __table_args__ = {"sqlite_with_rowid": False}  # read in key order, no lookups

    stage_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # YYYYMM
    deals: Mapped[int] = mapped_column(Integer, default=0)
    won_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    lost_cents: Mapped[int] = mapped_column(BigInteger, default=0)


def _board_closed_rows(row: str, sign: str, dialect: str, source: str = "") -> str:
    """The row one closed opportunity adds (sign '') or takes away (sign '-')."""
    return (
        f"SELECT {row}.stage_id AS stage_id, {month_sql(f'{row}.closed_at', dialect)} AS month, "
        f"{sign}1 AS deals, "
        f"{sign}({_cents(f'COALESCE({row}.won_amount, 0)', dialect)}) AS won_cents, "
        f"{sign}({_cents(f'COALESCE({row}.lost_amount, 0)', dialect)}) AS lost_cents"
        f"{source} WHERE {row}.closed_at IS NOT NULL"
    )


def _board_closed_upsert(rows: list[str]) -> str:
    return summed_upsert(
        "board_closed_rollups",
        "stage_id, month",
        ("deals", "won_cents", "lost_cents"),
        rows,
        present="month",
        alias="deals",
    )


_BOARD_CLOSED_COLUMNS = "closed_at, stage_id, won_amount, lost_amount"
_BOARD_CLOSED_CHANGED = changed(_BOARD_CLOSED_COLUMNS)


def board_closed_trigger_sql(dialect: str) -> list[str]:
    """The statements creating the board's closed roll-up's triggers (the migration keeps a
    copy)."""
    return row_triggers(
        dialect,
        "opportunities_board_closed_rollups",
        "opportunities",
        _BOARD_CLOSED_COLUMNS,
        f"{_CLOSED} AND ({_BOARD_CLOSED_CHANGED})",
        (
            _board_closed_upsert([_board_closed_rows("NEW", "", dialect)]),
            _board_closed_upsert([_board_closed_rows("OLD", "-", dialect)]),
            _board_closed_upsert(
                [_board_closed_rows("OLD", "-", dialect), _board_closed_rows("NEW", "", dialect)]
            ),
        ),
        inserted_when="NEW.closed_at IS NOT NULL",
        deleted_when="OLD.closed_at IS NOT NULL",
    )


def board_closed_drop_sql(dialect: str) -> list[str]:
    return row_triggers_dropped(dialect, "opportunities_board_closed_rollups")


def board_closed_rebuild_sql(dialect: str) -> list[str]:
    """Recompute every row of the board's closed roll-up from the opportunities."""
    return [
        "DELETE FROM board_closed_rollups",
        _board_closed_upsert([_board_closed_rows("o", "", dialect, " FROM opportunities o")]),
    ]


# ------------------------------------------------------------------ stage moves, per member


class MemberStageMonth(Model):
    """``stage_rollups`` per account manager (0: none): a member's funnel reads their rows
    instead of their deals' moves (which grow with the history). A move counts for the
    deal's account manager now: a deal handed to someone else takes its moves along."""

    __tablename__ = "member_stage_rollups"
    __table_args__ = {"sqlite_with_rowid": False}  # read in key order, no lookups

    account_manager_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # YYYYMM
    stage_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entered: Mapped[int] = mapped_column(Integer, default=0)
    advanced: Mapped[int] = mapped_column(Integer, default=0)
    won: Mapped[int] = mapped_column(Integer, default=0)
    stays: Mapped[int] = mapped_column(Integer, default=0)
    stay_ms: Mapped[int] = mapped_column(BigInteger, default=0)


def _member_stage_upsert(rows: list[str]) -> str:
    """Rows of a deal no longer there (its moves deleted with it) have no member: left out,
    as the deal's own trigger took them away before it went."""
    return summed_upsert(
        "member_stage_rollups",
        "account_manager_id, month, stage_id",
        _STAGE_FIGURES,
        rows,
        present="account_manager_id, stage_id",
        alias="moves",
    )


def _whose(change: str) -> str:
    """A move's member: its deal's account manager now (NULL once the deal is gone)."""
    return (
        "(SELECT COALESCE(o.account_manager_id, 0) FROM opportunities o "
        f"WHERE o.id = {change}.opportunity_id)"
    )


def _deal_moves(row: str, sign: str, dialect: str) -> list[str]:
    """What all of a deal's moves count for its account manager (``row``: OLD or NEW)."""
    return [
        f"{part} FROM stage_changes c WHERE c.opportunity_id = {row}.id"
        for part in _stage_rows("c", sign, dialect, f"COALESCE({row}.account_manager_id, 0)")
    ]


_MEMBER_STAGE_COLUMNS = f"{_STAGE_COLUMNS}, opportunity_id"


def member_stage_trigger_sql(dialect: str) -> list[str]:
    """The statements creating the per-member stage roll-up's triggers (the migration keeps
    a copy): on ``stage_changes`` as for ``stage_rollups``, the member read from the deal;
    on ``opportunities`` a change of account manager moves the deal's moves to the new one,
    and a delete takes them away before its moves go with it (their member is gone then)."""

    def rows(change: str, sign: str) -> list[str]:
        return _stage_rows(change, sign, dialect, _whose(change))

    moves = row_triggers(
        dialect,
        "stage_changes_member_rollups",
        "stage_changes",
        _MEMBER_STAGE_COLUMNS,
        changed(_MEMBER_STAGE_COLUMNS),
        (
            _member_stage_upsert(rows("NEW", "")),
            _member_stage_upsert(rows("OLD", "-")),
            _member_stage_upsert(rows("OLD", "-") + rows("NEW", "")),
        ),
    )
    handed_over = _member_stage_upsert(
        _deal_moves("OLD", "-", dialect) + _deal_moves("NEW", "", dialect)
    )
    deleted = _member_stage_upsert(_deal_moves("OLD", "-", dialect))
    function = "opportunities_member_stage_rollups"
    if dialect == "postgresql":
        new_manager = "OLD.account_manager_id IS DISTINCT FROM NEW.account_manager_id"
        return [
            *moves,
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP = 'DELETE' THEN {deleted}; RETURN OLD; END IF; "
            f"{handed_over}; RETURN NULL; END $$",
            f"CREATE OR REPLACE TRIGGER {function}_update AFTER UPDATE OF account_manager_id "
            f"ON opportunities FOR EACH ROW WHEN ({new_manager}) EXECUTE FUNCTION {function}()",
            f"CREATE OR REPLACE TRIGGER {function}_delete BEFORE DELETE ON opportunities "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        ]
    new_manager = "OLD.account_manager_id IS NOT NEW.account_manager_id"
    return [
        *moves,
        f"CREATE TRIGGER IF NOT EXISTS {function}_update AFTER UPDATE OF account_manager_id "
        f"ON opportunities WHEN {new_manager} BEGIN {handed_over}; END",
        f"CREATE TRIGGER IF NOT EXISTS {function}_delete BEFORE DELETE ON opportunities "
        f"BEGIN {deleted}; END",
    ]


def member_stage_drop_sql(dialect: str) -> list[str]:
    return [
        *row_triggers_dropped(dialect, "stage_changes_member_rollups"),
        *row_triggers_dropped(dialect, "opportunities_member_stage_rollups"),  # no _insert
    ]


def member_stage_rebuild_sql(dialect: str) -> list[str]:
    """Recompute every per-member stage row from the stage history and the deals."""
    source = " FROM stage_changes c JOIN opportunities o ON o.id = c.opportunity_id"
    return [
        "DELETE FROM member_stage_rollups",
        _member_stage_upsert(
            [
                row + source
                for row in _stage_rows("c", "", dialect, "COALESCE(o.account_manager_id, 0)")
            ]
        ),
    ]


kept_by_triggers(("closed_rollups", "opportunities"), trigger_sql, drop_sql)
kept_by_triggers(("pipeline_rollups", "opportunities"), pipeline_trigger_sql, pipeline_drop_sql)
kept_by_triggers(("stage_rollups", "stage_changes"), stage_trigger_sql, stage_drop_sql)
kept_by_triggers(("hygiene_rollups", "opportunities"), hygiene_trigger_sql, hygiene_drop_sql)
kept_by_triggers(("member_closed_rollups", "opportunities"), member_trigger_sql, member_drop_sql)
kept_by_triggers(("lost_reason_rollups", "opportunities"), lost_trigger_sql, lost_drop_sql)
kept_by_triggers(
    ("board_closed_rollups", "opportunities"), board_closed_trigger_sql, board_closed_drop_sql
)
kept_by_triggers(
    ("member_stage_rollups", "stage_changes", "opportunities"),
    member_stage_trigger_sql,
    member_stage_drop_sql,
)
