"""Monthly roll-ups of the closed deals kept by the database (issue #19): the closed_rollups
table, filled from the opportunities and kept by triggers on them (crmlite/models/rollups.py).

Revision ID: 0028
Revises: 0025
Create Date: 2026-12-04 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0025'
branch_labels = None
depends_on = None

# As crmlite.models.rollups wrote them on 2026-12-04 (copied: a migration stays as written).
TRIGGERS = {
    'sqlite': [
        "CREATE TRIGGER IF NOT EXISTS opportunities_won_rollups_insert AFTER INSERT ON opportunities WHEN NEW.closed_at IS NOT NULL BEGIN INSERT INTO closed_rollups (month, status_id, account_manager_id, location_id, business_unit_id, deals, won_cents, margin_cents) SELECT CAST(strftime('%Y%m', NEW.closed_at) AS INTEGER), NEW.status_id, COALESCE(NEW.account_manager_id, 0), COALESCE(NEW.location_id, 0), COALESCE(NEW.business_unit_id, 0), 1, CAST(ROUND(COALESCE(NEW.won_amount, NEW.revenue) * 100) AS INTEGER), CAST(ROUND(NEW.revenue * 100) AS INTEGER) - CAST(ROUND(NEW.cost * 100) AS INTEGER) WHERE NEW.closed_at IS NOT NULL ON CONFLICT (month, status_id, account_manager_id, location_id, business_unit_id) DO UPDATE SET deals = closed_rollups.deals + excluded.deals, won_cents = closed_rollups.won_cents + excluded.won_cents, margin_cents = closed_rollups.margin_cents + excluded.margin_cents; END",
        "CREATE TRIGGER IF NOT EXISTS opportunities_won_rollups_update AFTER UPDATE OF closed_at, status_id, account_manager_id, location_id, business_unit_id, won_amount, revenue, cost ON opportunities WHEN (OLD.closed_at IS NOT NULL OR NEW.closed_at IS NOT NULL) AND (OLD.closed_at IS NOT NEW.closed_at OR OLD.status_id IS NOT NEW.status_id OR OLD.account_manager_id IS NOT NEW.account_manager_id OR OLD.location_id IS NOT NEW.location_id OR OLD.business_unit_id IS NOT NEW.business_unit_id OR OLD.won_amount IS NOT NEW.won_amount OR OLD.revenue IS NOT NEW.revenue OR OLD.cost IS NOT NEW.cost) BEGIN UPDATE closed_rollups SET deals = deals - 1, won_cents = won_cents - CAST(ROUND(COALESCE(OLD.won_amount, OLD.revenue) * 100) AS INTEGER), margin_cents = margin_cents - (CAST(ROUND(OLD.revenue * 100) AS INTEGER) - CAST(ROUND(OLD.cost * 100) AS INTEGER)) WHERE month = CAST(strftime('%Y%m', OLD.closed_at) AS INTEGER) AND status_id = OLD.status_id AND account_manager_id = COALESCE(OLD.account_manager_id, 0) AND location_id = COALESCE(OLD.location_id, 0) AND business_unit_id = COALESCE(OLD.business_unit_id, 0); INSERT INTO closed_rollups (month, status_id, account_manager_id, location_id, business_unit_id, deals, won_cents, margin_cents) SELECT CAST(strftime('%Y%m', NEW.closed_at) AS INTEGER), NEW.status_id, COALESCE(NEW.account_manager_id, 0), COALESCE(NEW.location_id, 0), COALESCE(NEW.business_unit_id, 0), 1, CAST(ROUND(COALESCE(NEW.won_amount, NEW.revenue) * 100) AS INTEGER), CAST(ROUND(NEW.revenue * 100) AS INTEGER) - CAST(ROUND(NEW.cost * 100) AS INTEGER) WHERE NEW.closed_at IS NOT NULL ON CONFLICT (month, status_id, account_manager_id, location_id, business_unit_id) DO UPDATE SET deals = closed_rollups.deals + excluded.deals, won_cents = closed_rollups.won_cents + excluded.won_cents, margin_cents = closed_rollups.margin_cents + excluded.margin_cents; END",
        "CREATE TRIGGER IF NOT EXISTS opportunities_won_rollups_delete AFTER DELETE ON opportunities WHEN OLD.closed_at IS NOT NULL BEGIN UPDATE closed_rollups SET deals = deals - 1, won_cents = won_cents - CAST(ROUND(COALESCE(OLD.won_amount, OLD.revenue) * 100) AS INTEGER), margin_cents = margin_cents - (CAST(ROUND(OLD.revenue * 100) AS INTEGER) - CAST(ROUND(OLD.cost * 100) AS INTEGER)) WHERE month = CAST(strftime('%Y%m', OLD.closed_at) AS INTEGER) AND status_id = OLD.status_id AND account_manager_id = COALESCE(OLD.account_manager_id, 0) AND location_id = COALESCE(OLD.location_id, 0) AND business_unit_id = COALESCE(OLD.business_unit_id, 0); END",
    ],
    'postgresql': [
        "CREATE OR REPLACE FUNCTION opportunities_won_rollups() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN UPDATE closed_rollups SET deals = deals - 1, won_cents = won_cents - ROUND(COALESCE(OLD.won_amount, OLD.revenue) * 100)::bigint, margin_cents = margin_cents - (ROUND(OLD.revenue * 100)::bigint - ROUND(OLD.cost * 100)::bigint) WHERE month = CAST(to_char(OLD.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AND status_id = OLD.status_id AND account_manager_id = COALESCE(OLD.account_manager_id, 0) AND location_id = COALESCE(OLD.location_id, 0) AND business_unit_id = COALESCE(OLD.business_unit_id, 0); ELSIF TG_OP = 'INSERT' THEN INSERT INTO closed_rollups (month, status_id, account_manager_id, location_id, business_unit_id, deals, won_cents, margin_cents) SELECT CAST(to_char(NEW.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER), NEW.status_id, COALESCE(NEW.account_manager_id, 0), COALESCE(NEW.location_id, 0), COALESCE(NEW.business_unit_id, 0), 1, ROUND(COALESCE(NEW.won_amount, NEW.revenue) * 100)::bigint, ROUND(NEW.revenue * 100)::bigint - ROUND(NEW.cost * 100)::bigint WHERE NEW.closed_at IS NOT NULL ON CONFLICT (month, status_id, account_manager_id, location_id, business_unit_id) DO UPDATE SET deals = closed_rollups.deals + excluded.deals, won_cents = closed_rollups.won_cents + excluded.won_cents, margin_cents = closed_rollups.margin_cents + excluded.margin_cents; ELSIF OLD.closed_at IS NULL OR (NEW.closed_at IS NOT NULL AND (CAST(to_char(OLD.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER), OLD.status_id, COALESCE(OLD.account_manager_id, 0), COALESCE(OLD.location_id, 0), COALESCE(OLD.business_unit_id, 0)) <= (CAST(to_char(NEW.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER), NEW.status_id, COALESCE(NEW.account_manager_id, 0), COALESCE(NEW.location_id, 0), COALESCE(NEW.business_unit_id, 0))) THEN UPDATE closed_rollups SET deals = deals - 1, won_cents = won_cents - ROUND(COALESCE(OLD.won_amount, OLD.revenue) * 100)::bigint, margin_cents = margin_cents - (ROUND(OLD.revenue * 100)::bigint - ROUND(OLD.cost * 100)::bigint) WHERE month = CAST(to_char(OLD.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AND status_id = OLD.status_id AND account_manager_id = COALESCE(OLD.account_manager_id, 0) AND location_id = COALESCE(OLD.location_id, 0) AND business_unit_id = COALESCE(OLD.business_unit_id, 0); INSERT INTO closed_rollups (month, status_id, account_manager_id, location_id, business_unit_id, deals, won_cents, margin_cents) SELECT CAST(to_char(NEW.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER), NEW.status_id, COALESCE(NEW.account_manager_id, 0), COALESCE(NEW.location_id, 0), COALESCE(NEW.business_unit_id, 0), 1, ROUND(COALESCE(NEW.won_amount, NEW.revenue) * 100)::bigint, ROUND(NEW.revenue * 100)::bigint - ROUND(NEW.cost * 100)::bigint WHERE NEW.closed_at IS NOT NULL ON CONFLICT (month, status_id, account_manager_id, location_id, business_unit_id) DO UPDATE SET deals = closed_rollups.deals + excluded.deals, won_cents = closed_rollups.won_cents + excluded.won_cents, margin_cents = closed_rollups.margin_cents + excluded.margin_cents; ELSE INSERT INTO closed_rollups (month, status_id, account_manager_id, location_id, business_unit_id, deals, won_cents, margin_cents) SELECT CAST(to_char(NEW.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER), NEW.status_id, COALESCE(NEW.account_manager_id, 0), COALESCE(NEW.location_id, 0), COALESCE(NEW.business_unit_id, 0), 1, ROUND(COALESCE(NEW.won_amount, NEW.revenue) * 100)::bigint, ROUND(NEW.revenue * 100)::bigint - ROUND(NEW.cost * 100)::bigint WHERE NEW.closed_at IS NOT NULL ON CONFLICT (month, status_id, account_manager_id, location_id, business_unit_id) DO UPDATE SET deals = closed_rollups.deals + excluded.deals, won_cents = closed_rollups.won_cents + excluded.won_cents, margin_cents = closed_rollups.margin_cents + excluded.margin_cents; UPDATE closed_rollups SET deals = deals - 1, won_cents = won_cents - ROUND(COALESCE(OLD.won_amount, OLD.revenue) * 100)::bigint, margin_cents = margin_cents - (ROUND(OLD.revenue * 100)::bigint - ROUND(OLD.cost * 100)::bigint) WHERE month = CAST(to_char(OLD.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER) AND status_id = OLD.status_id AND account_manager_id = COALESCE(OLD.account_manager_id, 0) AND location_id = COALESCE(OLD.location_id, 0) AND business_unit_id = COALESCE(OLD.business_unit_id, 0); END IF; RETURN NULL; END $$",
        'CREATE OR REPLACE TRIGGER opportunities_won_rollups_insert AFTER INSERT ON opportunities FOR EACH ROW WHEN (NEW.closed_at IS NOT NULL) EXECUTE FUNCTION opportunities_won_rollups()',
        'CREATE OR REPLACE TRIGGER opportunities_won_rollups_update AFTER UPDATE OF closed_at, status_id, account_manager_id, location_id, business_unit_id, won_amount, revenue, cost ON opportunities FOR EACH ROW WHEN ((OLD.closed_at IS NOT NULL OR NEW.closed_at IS NOT NULL) AND (OLD.closed_at IS DISTINCT FROM NEW.closed_at OR OLD.status_id IS DISTINCT FROM NEW.status_id OR OLD.account_manager_id IS DISTINCT FROM NEW.account_manager_id OR OLD.location_id IS DISTINCT FROM NEW.location_id OR OLD.business_unit_id IS DISTINCT FROM NEW.business_unit_id OR OLD.won_amount IS DISTINCT FROM NEW.won_amount OR OLD.revenue IS DISTINCT FROM NEW.revenue OR OLD.cost IS DISTINCT FROM NEW.cost)) EXECUTE FUNCTION opportunities_won_rollups()',
        'CREATE OR REPLACE TRIGGER opportunities_won_rollups_delete AFTER DELETE ON opportunities FOR EACH ROW WHEN (OLD.closed_at IS NOT NULL) EXECUTE FUNCTION opportunities_won_rollups()',
    ],
}
FILL = {
    'sqlite': [
        "INSERT INTO closed_rollups (month, status_id, account_manager_id, location_id, business_unit_id, deals, won_cents, margin_cents) SELECT CAST(strftime('%Y%m', o.closed_at) AS INTEGER), o.status_id, COALESCE(o.account_manager_id, 0), COALESCE(o.location_id, 0), COALESCE(o.business_unit_id, 0), COUNT(*), SUM(CAST(ROUND(COALESCE(o.won_amount, o.revenue) * 100) AS INTEGER)), SUM(CAST(ROUND(o.revenue * 100) AS INTEGER) - CAST(ROUND(o.cost * 100) AS INTEGER)) FROM opportunities o WHERE o.closed_at IS NOT NULL GROUP BY CAST(strftime('%Y%m', o.closed_at) AS INTEGER), o.status_id, COALESCE(o.account_manager_id, 0), COALESCE(o.location_id, 0), COALESCE(o.business_unit_id, 0)",
    ],
    'postgresql': [
        "INSERT INTO closed_rollups (month, status_id, account_manager_id, location_id, business_unit_id, deals, won_cents, margin_cents) SELECT CAST(to_char(o.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER), o.status_id, COALESCE(o.account_manager_id, 0), COALESCE(o.location_id, 0), COALESCE(o.business_unit_id, 0), COUNT(*), SUM(ROUND(COALESCE(o.won_amount, o.revenue) * 100)::bigint), SUM(ROUND(o.revenue * 100)::bigint - ROUND(o.cost * 100)::bigint) FROM opportunities o WHERE o.closed_at IS NOT NULL GROUP BY CAST(to_char(o.closed_at AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER), o.status_id, COALESCE(o.account_manager_id, 0), COALESCE(o.location_id, 0), COALESCE(o.business_unit_id, 0)",
    ],
}
DROP = {
    'sqlite': [
        'DROP TRIGGER IF EXISTS opportunities_won_rollups_insert',
        'DROP TRIGGER IF EXISTS opportunities_won_rollups_update',
        'DROP TRIGGER IF EXISTS opportunities_won_rollups_delete',
    ],
    'postgresql': [
        'DROP FUNCTION IF EXISTS opportunities_won_rollups() CASCADE',
    ],
}


def upgrade():
    op.create_table(
        'closed_rollups',
        sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('status_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('account_manager_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('location_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('business_unit_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('deals', sa.Integer(), nullable=False),
        sa.Column('won_cents', sa.BigInteger(), nullable=False),
        sa.Column('margin_cents', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            'month',
            'status_id',
            'account_manager_id',
            'location_id',
            'business_unit_id',
            name=op.f('pk_closed_rollups'),
        ),
    )
    dialect = op.get_bind().dialect.name
    for statement in FILL[dialect] + TRIGGERS[dialect]:
        op.execute(sa.text(statement))


def downgrade():
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(sa.text(statement))
    op.drop_table('closed_rollups')
