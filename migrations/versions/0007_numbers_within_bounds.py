"""Storage that cannot hold a bad value (issue #13): every amount is 0 to 9,999,999,999.99,
every count, quota, points value, reminder, day offset and month count within the bounds the
forms state, as CHECK constraints on SQLite and PostgreSQL alike (SQLite stores numbers
loosely: a REAL column takes Infinity, 1e20 or 12.345 unless a CHECK refuses it).

Rows that already hold such a value are repaired first, and each repair is logged (table,
column, ids, old value → new value):
- an amount that is not a finite number from 0 to below ten billion becomes 0.00;
- on SQLite, an amount with more than two decimals is rounded to cents;
- a whole number outside its bounds is set to the nearest bound;
- on SQLite, NUL characters are removed from text (PostgreSQL cannot store them).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 18:30:00.000000

"""
import logging

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

LIMIT = 10_000_000_000
AMOUNTS = {
    "opportunities": ["revenue", "cost", "won_amount", "lost_amount"],
    "forecast_lines": ["revenue", "cost"],
    "revenue_quotas": ["revenue", "margin"],
    "campaigns": ["budgeted_cost", "actual_cost", "expected_revenue"],
}
# table: [(column, low, high, nullable)]
WHOLE = {
    "activity_types": [("points", 0, 1000, False), ("monthly_count", 0, 1000, False)],
    "activities": [("reminder_minutes", 0, 10080, True), ("points_earned", 0, 1000, True)],
    "team": [("points_quota", 0, 100_000, False)],
    "members": [("points_quota", 0, 100_000, True)],
    "points_quota_history": [("quota", 0, 100_000, True)],
    "forecast_lines": [("months", 1, 600, False)],
    "track_steps": [("day_offset", 0, 3650, False)],
    "track_enrollments": [("paused_days", 0, None, False)],
}
# New checks per table: (name, rule); and the checks they replace.
NEW_CHECKS = {
    "opportunities": [("amounts_in_range", AMOUNTS["opportunities"])],
    "forecast_lines": [
        ("amounts_in_range", AMOUNTS["forecast_lines"]),
        ("months_range", "months BETWEEN 1 AND 600"),
    ],
    "revenue_quotas": [
        ("amounts_in_range", AMOUNTS["revenue_quotas"]),
        ("year_range", "year BETWEEN 1900 AND 2199"),
    ],
    "campaigns": [("amounts_in_range", AMOUNTS["campaigns"])],
    "activity_types": [
        ("points_range", "points BETWEEN 0 AND 1000"),
        ("monthly_count_range", "monthly_count BETWEEN 0 AND 1000"),
    ],
    "activities": [
        ("reminder_range", "reminder_minutes IS NULL OR reminder_minutes BETWEEN 0 AND 10080"),
        ("points_earned_range", "points_earned IS NULL OR points_earned BETWEEN 0 AND 1000"),
    ],
    "team": [("points_quota_range", "points_quota BETWEEN 0 AND 100000")],
    "members": [
        ("points_quota_range", "points_quota IS NULL OR points_quota BETWEEN 0 AND 100000")
    ],
    "points_quota_history": [("quota_range", "quota IS NULL OR quota BETWEEN 0 AND 100000")],
    "track_steps": [("day_offset_range", "day_offset BETWEEN 0 AND 3650")],
    "track_enrollments": [("paused_days_not_negative", "paused_days >= 0")],
}
OLD_CHECKS = {
    "campaigns": [("costs_not_negative", "budgeted_cost >= 0 AND actual_cost >= 0")],
    "activity_types": [
        ("points_not_negative", "points >= 0"),
        ("monthly_count_not_negative", "monthly_count >= 0"),
    ],
    "activities": [
        ("reminder_not_negative", "reminder_minutes IS NULL OR reminder_minutes >= 0")
    ],
    "forecast_lines": [("months_positive", "months >= 1")],
    "track_steps": [("day_offset_not_negative", "day_offset >= 0")],
}


def _rule(rule):
    if isinstance(rule, str):
        return rule
    return " AND ".join(f"({c} IS NULL OR ({c} >= 0 AND {c} < {LIMIT}))" for c in rule)


def _report(table, column, rows, new):
    if rows:
        shown = ", ".join(f"#{i}: {old!r}" for i, old in rows[:20])
        more = f" and {len(rows) - 20} more" if len(rows) > 20 else ""
        log.warning(
            "0007 repaired %s.%s in %d row(s) (%s%s) -> %s", table, column, len(rows), shown, more, new
        )


def _repair(bind):
    sqlite = bind.dialect.name == "sqlite"
    for table, columns in AMOUNTS.items():
        for column in columns:
            bad = f"NOT ({column} >= 0 AND {column} < {LIMIT})"
            if sqlite:  # a NaN reads back as NULL there; text in a number column too
                bad += f" OR typeof({column}) NOT IN ('integer', 'real', 'null')"
            rows = bind.execute(
                sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL AND ({bad})")
            ).all()
            if rows:
                bind.execute(sa.text(
                    f"UPDATE {table} SET {column} = 0 WHERE {column} IS NOT NULL AND ({bad})"
                ))
            _report(table, column, rows, "0.00")
            if sqlite:
                rows = bind.execute(sa.text(
                    f"SELECT id, {column} FROM {table} WHERE {column} <> round({column}, 2)"
                )).all()
                if rows:
                    bind.execute(sa.text(
                        f"UPDATE {table} SET {column} = round({column}, 2) "
                        f"WHERE {column} <> round({column}, 2)"
                    ))
                _report(table, column, rows, "rounded to cents")
    for table, columns in WHOLE.items():
        key = "id"
        for column, low, high, _nullable in columns:
            for bound, test in ((low, f"{column} < {low}"), (high, f"{column} > {high}")):
                if bound is None:
                    continue
                rows = bind.execute(
                    sa.text(f"SELECT {key}, {column} FROM {table} WHERE {test}")
                ).all()
                if rows:
                    bind.execute(sa.text(f"UPDATE {table} SET {column} = {bound} WHERE {test}"))
                _report(table, column, rows, bound)
    if sqlite:
        inspector = sa.inspect(bind)
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                if not isinstance(column["type"], sa.String | sa.Text):
                    continue
                name = f'"{column["name"]}"'
                rows = bind.execute(sa.text(
                    f'SELECT rowid, {name} FROM "{table}" WHERE instr({name}, char(0)) > 0'
                )).all()
                # SQLite's replace() stops at a NUL: the text is mended here instead.
                for rowid, value in rows:
                    bind.execute(
                        sa.text(f'UPDATE "{table}" SET {name} = :value WHERE rowid = :rowid'),
                        {"value": value.replace("\x00", ""), "rowid": rowid},
                    )
                _report(table, name, [(i, "…NUL…") for i, _ in rows], "NUL removed")


def upgrade():
    _repair(op.get_bind())
    for table in NEW_CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _rule_text in OLD_CHECKS.get(table, []):
                batch_op.drop_constraint(batch_op.f(f"ck_{table}_{name}"), type_="check")
            for name, rule in NEW_CHECKS[table]:
                batch_op.create_check_constraint(batch_op.f(f"ck_{table}_{name}"), _rule(rule))


def downgrade():
    for table in NEW_CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _rule in NEW_CHECKS[table]:
                batch_op.drop_constraint(batch_op.f(f"ck_{table}_{name}"), type_="check")
            for name, rule in OLD_CHECKS.get(table, []):
                batch_op.create_check_constraint(batch_op.f(f"ck_{table}_{name}"), rule)
