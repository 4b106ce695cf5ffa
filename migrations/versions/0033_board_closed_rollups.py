"""The board's Won and Lost kept by the database (issue #16): per stage and UTC month, how many
deals closed and the sums of their won and lost amounts, kept by triggers on opportunities
like the other roll-ups and filled from what is there (crmlite/models/rollups.py); the
board's Won and Lost headers add up the quarter's months instead of its closed deals.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-04 17:10:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

# As crmlite.models.rollups wrote them on 2026-12-04 (copied: a migration stays as written).
TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS opportunities_board_closed_rollups_insert AFTER INSERT ON opportunities WHEN NEW.closed_at IS NOT NULL BEGIN INSERT INTO board_closed_rollups (stage_id, month, deals, won_cents, lost_cents) SELECT stage_id, month, SUM(deals), SUM(won_cents), SUM(lost_cents) FROM (SELECT NEW.stage_id AS stage_id, CAST(strftime('%Y%m', NEW.closed_at) AS INTEGER) AS month, 1 AS deals, (CAST(ROUND(COALESCE(NEW.won_amount, 0) * 100) AS INTEGER)) AS won_cents, (CAST(ROUND(COALESCE(NEW.lost_amount, 0) * 100) AS INTEGER)) AS lost_cents WHERE NEW.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY stage_id, month ORDER BY stage_id, month ON CONFLICT (stage_id, month) DO UPDATE SET deals = board_closed_rollups.deals + excluded.deals, won_cents = board_closed_rollups.won_cents + excluded.won_cents, lost_cents = board_closed_rollups.lost_cents + excluded.lost_cents; END",
        "CREATE TRIGGER IF NOT EXISTS opportunities_board_closed_rollups_update AFTER UPDATE OF closed_at, stage_id, won_amount, lost_amount ON opportunities WHEN (OLD.closed_at IS NOT NULL OR NEW.closed_at IS NOT NULL) AND (OLD.closed_at IS NOT NEW.closed_at OR OLD.stage_id IS NOT NEW.stage_id OR OLD.won_amount IS NOT NEW.won_amount OR OLD.lost_amount IS NOT NEW.lost_amount) BEGIN INSERT INTO board_closed_rollups (stage_id, month, deals, won_cents, lost_cents) SELECT stage_id, month, SUM(deals), SUM(won_cents), SUM(lost_cents) FROM (SELECT OLD.stage_id AS stage_id, CAST(strftime('%Y%m', OLD.closed_at) AS INTEGER) AS month, -1 AS deals, -(CAST(ROUND(COALESCE(OLD.won_amount, 0) * 100) AS INTEGER)) AS won_cents, -(CAST(ROUND(COALESCE(OLD.lost_amount, 0) * 100) AS INTEGER)) AS lost_cents WHERE OLD.closed_at IS NOT NULL UNION ALL SELECT NEW.stage_id AS stage_id, CAST(strftime('%Y%m', NEW.closed_at) AS INTEGER) AS month, 1 AS deals, (CAST(ROUND(COALESCE(NEW.won_amount, 0) * 100) AS INTEGER)) AS won_cents, (CAST(ROUND(COALESCE(NEW.lost_amount, 0) * 100) AS INTEGER)) AS lost_cents WHERE NEW.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY stage_id, month ORDER BY stage_id, month ON CONFLICT (stage_id, month) DO UPDATE SET deals = board_closed_rollups.deals + excluded.deals, won_cents = board_closed_rollups.won_cents + excluded.won_cents, lost_cents = board_closed_rollups.lost_cents + excluded.lost_cents; END",
        "CREATE TRIGGER IF NOT EXISTS opportunities_board_closed_rollups_delete AFTER DELETE ON opportunities WHEN OLD.closed_at IS NOT NULL BEGIN INSERT INTO board_closed_rollups (stage_id, month, deals, won_cents, lost_cents) SELECT stage_id, month, SUM(deals), SUM(won_cents), SUM(lost_cents) FROM (SELECT OLD.stage_id AS stage_id, CAST(strftime('%Y%m', OLD.closed_at) AS INTEGER) AS month, -1 AS deals, -(CAST(ROUND(COALESCE(OLD.won_amount, 0) * 100) AS INTEGER)) AS won_cents, -(CAST(ROUND(COALESCE(OLD.lost_amount, 0) * 100) AS INTEGER)) AS lost_cents WHERE OLD.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY stage_id, month ORDER BY stage_id, month ON CONFLICT (stage_id, month) DO UPDATE SET deals = board_closed_rollups.deals + excluded.deals, won_cents = board_closed_rollups.won_cents + excluded.won_cents, lost_cents = board_closed_rollups.lost_cents + excluded.lost_cents; END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION opportunities_board_closed_rollups() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN INSERT INTO board_closed_rollups (stage_id, month, deals, won_cents, lost_cents) SELECT stage_id, month, SUM(deals), SUM(won_cents), SUM(lost_cents) FROM (SELECT OLD.stage_id AS stage_id, CAST(to_char(OLD.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AS month, -1 AS deals, -(ROUND(COALESCE(OLD.won_amount, 0) * 100)::bigint) AS won_cents, -(ROUND(COALESCE(OLD.lost_amount, 0) * 100)::bigint) AS lost_cents WHERE OLD.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY stage_id, month ORDER BY stage_id, month ON CONFLICT (stage_id, month) DO UPDATE SET deals = board_closed_rollups.deals + excluded.deals, won_cents = board_closed_rollups.won_cents + excluded.won_cents, lost_cents = board_closed_rollups.lost_cents + excluded.lost_cents; ELSIF TG_OP = 'INSERT' THEN INSERT INTO board_closed_rollups (stage_id, month, deals, won_cents, lost_cents) SELECT stage_id, month, SUM(deals), SUM(won_cents), SUM(lost_cents) FROM (SELECT NEW.stage_id AS stage_id, CAST(to_char(NEW.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AS month, 1 AS deals, (ROUND(COALESCE(NEW.won_amount, 0) * 100)::bigint) AS won_cents, (ROUND(COALESCE(NEW.lost_amount, 0) * 100)::bigint) AS lost_cents WHERE NEW.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY stage_id, month ORDER BY stage_id, month ON CONFLICT (stage_id, month) DO UPDATE SET deals = board_closed_rollups.deals + excluded.deals, won_cents = board_closed_rollups.won_cents + excluded.won_cents, lost_cents = board_closed_rollups.lost_cents + excluded.lost_cents; ELSE INSERT INTO board_closed_rollups (stage_id, month, deals, won_cents, lost_cents) SELECT stage_id, month, SUM(deals), SUM(won_cents), SUM(lost_cents) FROM (SELECT OLD.stage_id AS stage_id, CAST(to_char(OLD.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AS month, -1 AS deals, -(ROUND(COALESCE(OLD.won_amount, 0) * 100)::bigint) AS won_cents, -(ROUND(COALESCE(OLD.lost_amount, 0) * 100)::bigint) AS lost_cents WHERE OLD.closed_at IS NOT NULL UNION ALL SELECT NEW.stage_id AS stage_id, CAST(to_char(NEW.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AS month, 1 AS deals, (ROUND(COALESCE(NEW.won_amount, 0) * 100)::bigint) AS won_cents, (ROUND(COALESCE(NEW.lost_amount, 0) * 100)::bigint) AS lost_cents WHERE NEW.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY stage_id, month ORDER BY stage_id, month ON CONFLICT (stage_id, month) DO UPDATE SET deals = board_closed_rollups.deals + excluded.deals, won_cents = board_closed_rollups.won_cents + excluded.won_cents, lost_cents = board_closed_rollups.lost_cents + excluded.lost_cents; END IF; RETURN NULL; END $$",
        "CREATE OR REPLACE TRIGGER opportunities_board_closed_rollups_insert AFTER INSERT ON opportunities FOR EACH ROW WHEN (NEW.closed_at IS NOT NULL) EXECUTE FUNCTION opportunities_board_closed_rollups()",
        "CREATE OR REPLACE TRIGGER opportunities_board_closed_rollups_update AFTER UPDATE OF closed_at, stage_id, won_amount, lost_amount ON opportunities FOR EACH ROW WHEN ((OLD.closed_at IS NOT NULL OR NEW.closed_at IS NOT NULL) AND (OLD.closed_at IS DISTINCT FROM NEW.closed_at OR OLD.stage_id IS DISTINCT FROM NEW.stage_id OR OLD.won_amount IS DISTINCT FROM NEW.won_amount OR OLD.lost_amount IS DISTINCT FROM NEW.lost_amount)) EXECUTE FUNCTION opportunities_board_closed_rollups()",
        "CREATE OR REPLACE TRIGGER opportunities_board_closed_rollups_delete AFTER DELETE ON opportunities FOR EACH ROW WHEN (OLD.closed_at IS NOT NULL) EXECUTE FUNCTION opportunities_board_closed_rollups()",
    ],
}

FILL = {
    "sqlite": [
        "INSERT INTO board_closed_rollups (stage_id, month, deals, won_cents, lost_cents) SELECT stage_id, month, SUM(deals), SUM(won_cents), SUM(lost_cents) FROM (SELECT o.stage_id AS stage_id, CAST(strftime('%Y%m', o.closed_at) AS INTEGER) AS month, 1 AS deals, (CAST(ROUND(COALESCE(o.won_amount, 0) * 100) AS INTEGER)) AS won_cents, (CAST(ROUND(COALESCE(o.lost_amount, 0) * 100) AS INTEGER)) AS lost_cents FROM opportunities o WHERE o.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY stage_id, month ORDER BY stage_id, month ON CONFLICT (stage_id, month) DO UPDATE SET deals = board_closed_rollups.deals + excluded.deals, won_cents = board_closed_rollups.won_cents + excluded.won_cents, lost_cents = board_closed_rollups.lost_cents + excluded.lost_cents",
    ],
    "postgresql": [
        "INSERT INTO board_closed_rollups (stage_id, month, deals, won_cents, lost_cents) SELECT stage_id, month, SUM(deals), SUM(won_cents), SUM(lost_cents) FROM (SELECT o.stage_id AS stage_id, CAST(to_char(o.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AS month, 1 AS deals, (ROUND(COALESCE(o.won_amount, 0) * 100)::bigint) AS won_cents, (ROUND(COALESCE(o.lost_amount, 0) * 100)::bigint) AS lost_cents FROM opportunities o WHERE o.closed_at IS NOT NULL) AS deals WHERE month IS NOT NULL GROUP BY stage_id, month ORDER BY stage_id, month ON CONFLICT (stage_id, month) DO UPDATE SET deals = board_closed_rollups.deals + excluded.deals, won_cents = board_closed_rollups.won_cents + excluded.won_cents, lost_cents = board_closed_rollups.lost_cents + excluded.lost_cents",
    ],
}

DROP = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS opportunities_board_closed_rollups_insert",
        "DROP TRIGGER IF EXISTS opportunities_board_closed_rollups_update",
        "DROP TRIGGER IF EXISTS opportunities_board_closed_rollups_delete",
    ],
    "postgresql": [
        "DROP FUNCTION IF EXISTS opportunities_board_closed_rollups() CASCADE",
    ],
}


def upgrade():
    op.create_table(
        "board_closed_rollups",
        sa.Column("stage_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("deals", sa.Integer(), nullable=False),
        sa.Column("won_cents", sa.BigInteger(), nullable=False),
        sa.Column("lost_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("stage_id", "month", name=op.f("pk_board_closed_rollups")),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    for statement in FILL[dialect] + TRIGGERS[dialect]:
        op.execute(sa.text(statement))


def downgrade():
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(sa.text(statement))
    op.drop_table("board_closed_rollups")
