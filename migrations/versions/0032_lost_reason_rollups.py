"""The lost reasons kept by the database (issue #19): per status, UTC month, account manager
and reason, how many deals and their amount (the lost amount, or the revenue), kept by
triggers on opportunities like the other roll-ups and filled from what is there
(crmlite/models/rollups.py); the funnel's lost reasons read a few rows per month instead of
the period's lost deals. On PostgreSQL the reason is keyed by its MD5 (an index entry cannot
hold a 2,000-character reason).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-04 16:20:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

# As crmlite.models.rollups wrote them on 2026-12-04 (copied: a migration stays as written).
TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS opportunities_lost_rollups_insert AFTER INSERT ON opportunities WHEN NEW.closed_at IS NOT NULL BEGIN INSERT INTO lost_reason_rollups (status_id, month, account_manager_id, reason_key, lost_reason, deals, amount_cents) SELECT status_id, month, account_manager_id, reason_key, lost_reason, SUM(deals), SUM(amount_cents) FROM (SELECT NEW.status_id AS status_id, CAST(strftime('%Y%m', NEW.closed_at) AS INTEGER) AS month, COALESCE(NEW.account_manager_id, 0) AS account_manager_id, NEW.lost_reason AS reason_key, NEW.lost_reason AS lost_reason, 1 AS deals, (CAST(ROUND(COALESCE(NEW.lost_amount, NEW.revenue) * 100) AS INTEGER)) AS amount_cents WHERE NEW.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY status_id, month, account_manager_id, reason_key, lost_reason ORDER BY status_id, month, account_manager_id, reason_key, lost_reason ON CONFLICT (status_id, month, account_manager_id, reason_key) DO UPDATE SET deals = lost_reason_rollups.deals + excluded.deals, amount_cents = lost_reason_rollups.amount_cents + excluded.amount_cents; END",
        "CREATE TRIGGER IF NOT EXISTS opportunities_lost_rollups_update AFTER UPDATE OF closed_at, status_id, account_manager_id, lost_reason, lost_amount, revenue ON opportunities WHEN (OLD.closed_at IS NOT NULL OR NEW.closed_at IS NOT NULL) AND (OLD.closed_at IS NOT NEW.closed_at OR OLD.status_id IS NOT NEW.status_id OR OLD.account_manager_id IS NOT NEW.account_manager_id OR OLD.lost_reason IS NOT NEW.lost_reason OR OLD.lost_amount IS NOT NEW.lost_amount OR OLD.revenue IS NOT NEW.revenue) BEGIN INSERT INTO lost_reason_rollups (status_id, month, account_manager_id, reason_key, lost_reason, deals, amount_cents) SELECT status_id, month, account_manager_id, reason_key, lost_reason, SUM(deals), SUM(amount_cents) FROM (SELECT OLD.status_id AS status_id, CAST(strftime('%Y%m', OLD.closed_at) AS INTEGER) AS month, COALESCE(OLD.account_manager_id, 0) AS account_manager_id, OLD.lost_reason AS reason_key, OLD.lost_reason AS lost_reason, -1 AS deals, -(CAST(ROUND(COALESCE(OLD.lost_amount, OLD.revenue) * 100) AS INTEGER)) AS amount_cents WHERE OLD.closed_at IS NOT NULL UNION ALL SELECT NEW.status_id AS status_id, CAST(strftime('%Y%m', NEW.closed_at) AS INTEGER) AS month, COALESCE(NEW.account_manager_id, 0) AS account_manager_id, NEW.lost_reason AS reason_key, NEW.lost_reason AS lost_reason, 1 AS deals, (CAST(ROUND(COALESCE(NEW.lost_amount, NEW.revenue) * 100) AS INTEGER)) AS amount_cents WHERE NEW.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY status_id, month, account_manager_id, reason_key, lost_reason ORDER BY status_id, month, account_manager_id, reason_key, lost_reason ON CONFLICT (status_id, month, account_manager_id, reason_key) DO UPDATE SET deals = lost_reason_rollups.deals + excluded.deals, amount_cents = lost_reason_rollups.amount_cents + excluded.amount_cents; END",
        "CREATE TRIGGER IF NOT EXISTS opportunities_lost_rollups_delete AFTER DELETE ON opportunities WHEN OLD.closed_at IS NOT NULL BEGIN INSERT INTO lost_reason_rollups (status_id, month, account_manager_id, reason_key, lost_reason, deals, amount_cents) SELECT status_id, month, account_manager_id, reason_key, lost_reason, SUM(deals), SUM(amount_cents) FROM (SELECT OLD.status_id AS status_id, CAST(strftime('%Y%m', OLD.closed_at) AS INTEGER) AS month, COALESCE(OLD.account_manager_id, 0) AS account_manager_id, OLD.lost_reason AS reason_key, OLD.lost_reason AS lost_reason, -1 AS deals, -(CAST(ROUND(COALESCE(OLD.lost_amount, OLD.revenue) * 100) AS INTEGER)) AS amount_cents WHERE OLD.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY status_id, month, account_manager_id, reason_key, lost_reason ORDER BY status_id, month, account_manager_id, reason_key, lost_reason ON CONFLICT (status_id, month, account_manager_id, reason_key) DO UPDATE SET deals = lost_reason_rollups.deals + excluded.deals, amount_cents = lost_reason_rollups.amount_cents + excluded.amount_cents; END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION opportunities_lost_rollups() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN INSERT INTO lost_reason_rollups (status_id, month, account_manager_id, reason_key, lost_reason, deals, amount_cents) SELECT status_id, month, account_manager_id, reason_key, lost_reason, SUM(deals), SUM(amount_cents) FROM (SELECT OLD.status_id AS status_id, CAST(to_char(OLD.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AS month, COALESCE(OLD.account_manager_id, 0) AS account_manager_id, md5(OLD.lost_reason) AS reason_key, OLD.lost_reason AS lost_reason, -1 AS deals, -(ROUND(COALESCE(OLD.lost_amount, OLD.revenue) * 100)::bigint) AS amount_cents WHERE OLD.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY status_id, month, account_manager_id, reason_key, lost_reason ORDER BY status_id, month, account_manager_id, reason_key, lost_reason ON CONFLICT (status_id, month, account_manager_id, reason_key) DO UPDATE SET deals = lost_reason_rollups.deals + excluded.deals, amount_cents = lost_reason_rollups.amount_cents + excluded.amount_cents; ELSIF TG_OP = 'INSERT' THEN INSERT INTO lost_reason_rollups (status_id, month, account_manager_id, reason_key, lost_reason, deals, amount_cents) SELECT status_id, month, account_manager_id, reason_key, lost_reason, SUM(deals), SUM(amount_cents) FROM (SELECT NEW.status_id AS status_id, CAST(to_char(NEW.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AS month, COALESCE(NEW.account_manager_id, 0) AS account_manager_id, md5(NEW.lost_reason) AS reason_key, NEW.lost_reason AS lost_reason, 1 AS deals, (ROUND(COALESCE(NEW.lost_amount, NEW.revenue) * 100)::bigint) AS amount_cents WHERE NEW.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY status_id, month, account_manager_id, reason_key, lost_reason ORDER BY status_id, month, account_manager_id, reason_key, lost_reason ON CONFLICT (status_id, month, account_manager_id, reason_key) DO UPDATE SET deals = lost_reason_rollups.deals + excluded.deals, amount_cents = lost_reason_rollups.amount_cents + excluded.amount_cents; ELSE INSERT INTO lost_reason_rollups (status_id, month, account_manager_id, reason_key, lost_reason, deals, amount_cents) SELECT status_id, month, account_manager_id, reason_key, lost_reason, SUM(deals), SUM(amount_cents) FROM (SELECT OLD.status_id AS status_id, CAST(to_char(OLD.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AS month, COALESCE(OLD.account_manager_id, 0) AS account_manager_id, md5(OLD.lost_reason) AS reason_key, OLD.lost_reason AS lost_reason, -1 AS deals, -(ROUND(COALESCE(OLD.lost_amount, OLD.revenue) * 100)::bigint) AS amount_cents WHERE OLD.closed_at IS NOT NULL UNION ALL SELECT NEW.status_id AS status_id, CAST(to_char(NEW.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AS month, COALESCE(NEW.account_manager_id, 0) AS account_manager_id, md5(NEW.lost_reason) AS reason_key, NEW.lost_reason AS lost_reason, 1 AS deals, (ROUND(COALESCE(NEW.lost_amount, NEW.revenue) * 100)::bigint) AS amount_cents WHERE NEW.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY status_id, month, account_manager_id, reason_key, lost_reason ORDER BY status_id, month, account_manager_id, reason_key, lost_reason ON CONFLICT (status_id, month, account_manager_id, reason_key) DO UPDATE SET deals = lost_reason_rollups.deals + excluded.deals, amount_cents = lost_reason_rollups.amount_cents + excluded.amount_cents; END IF; RETURN NULL; END $$",
        "CREATE OR REPLACE TRIGGER opportunities_lost_rollups_insert AFTER INSERT ON opportunities FOR EACH ROW WHEN (NEW.closed_at IS NOT NULL) EXECUTE FUNCTION opportunities_lost_rollups()",
        "CREATE OR REPLACE TRIGGER opportunities_lost_rollups_update AFTER UPDATE OF closed_at, status_id, account_manager_id, lost_reason, lost_amount, revenue ON opportunities FOR EACH ROW WHEN ((OLD.closed_at IS NOT NULL OR NEW.closed_at IS NOT NULL) AND (OLD.closed_at IS DISTINCT FROM NEW.closed_at OR OLD.status_id IS DISTINCT FROM NEW.status_id OR OLD.account_manager_id IS DISTINCT FROM NEW.account_manager_id OR OLD.lost_reason IS DISTINCT FROM NEW.lost_reason OR OLD.lost_amount IS DISTINCT FROM NEW.lost_amount OR OLD.revenue IS DISTINCT FROM NEW.revenue)) EXECUTE FUNCTION opportunities_lost_rollups()",
        "CREATE OR REPLACE TRIGGER opportunities_lost_rollups_delete AFTER DELETE ON opportunities FOR EACH ROW WHEN (OLD.closed_at IS NOT NULL) EXECUTE FUNCTION opportunities_lost_rollups()",
    ],
}

FILL = {
    "sqlite": [
        "INSERT INTO lost_reason_rollups (status_id, month, account_manager_id, reason_key, lost_reason, deals, amount_cents) SELECT status_id, month, account_manager_id, reason_key, lost_reason, SUM(deals), SUM(amount_cents) FROM (SELECT o.status_id AS status_id, CAST(strftime('%Y%m', o.closed_at) AS INTEGER) AS month, COALESCE(o.account_manager_id, 0) AS account_manager_id, o.lost_reason AS reason_key, o.lost_reason AS lost_reason, 1 AS deals, (CAST(ROUND(COALESCE(o.lost_amount, o.revenue) * 100) AS INTEGER)) AS amount_cents FROM opportunities o WHERE o.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY status_id, month, account_manager_id, reason_key, lost_reason ORDER BY status_id, month, account_manager_id, reason_key, lost_reason ON CONFLICT (status_id, month, account_manager_id, reason_key) DO UPDATE SET deals = lost_reason_rollups.deals + excluded.deals, amount_cents = lost_reason_rollups.amount_cents + excluded.amount_cents",
    ],
    "postgresql": [
        "INSERT INTO lost_reason_rollups (status_id, month, account_manager_id, reason_key, lost_reason, deals, amount_cents) SELECT status_id, month, account_manager_id, reason_key, lost_reason, SUM(deals), SUM(amount_cents) FROM (SELECT o.status_id AS status_id, CAST(to_char(o.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AS month, COALESCE(o.account_manager_id, 0) AS account_manager_id, md5(o.lost_reason) AS reason_key, o.lost_reason AS lost_reason, 1 AS deals, (ROUND(COALESCE(o.lost_amount, o.revenue) * 100)::bigint) AS amount_cents FROM opportunities o WHERE o.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY status_id, month, account_manager_id, reason_key, lost_reason ORDER BY status_id, month, account_manager_id, reason_key, lost_reason ON CONFLICT (status_id, month, account_manager_id, reason_key) DO UPDATE SET deals = lost_reason_rollups.deals + excluded.deals, amount_cents = lost_reason_rollups.amount_cents + excluded.amount_cents",
    ],
}

DROP = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS opportunities_lost_rollups_insert",
        "DROP TRIGGER IF EXISTS opportunities_lost_rollups_update",
        "DROP TRIGGER IF EXISTS opportunities_lost_rollups_delete",
    ],
    "postgresql": [
        "DROP FUNCTION IF EXISTS opportunities_lost_rollups() CASCADE",
    ],
}


def upgrade():
    op.create_table(
        "lost_reason_rollups",
        sa.Column("status_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("account_manager_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reason_key", sa.Text(), nullable=False),
        sa.Column("lost_reason", sa.Text(), nullable=False),
        sa.Column("deals", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "status_id",
            "month",
            "account_manager_id",
            "reason_key",
            name=op.f("pk_lost_reason_rollups"),
        ),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    for statement in FILL[dialect] + TRIGGERS[dialect]:
        op.execute(sa.text(statement))


def downgrade():
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(sa.text(statement))
    op.drop_table("lost_reason_rollups")
