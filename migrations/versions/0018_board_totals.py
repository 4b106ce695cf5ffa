"""The board's column totals kept by the database (issue #16): the board_totals table,
filled from the opportunities and kept by triggers on them (crmlite/models/board_totals.py);
the board's card order read from an index (ix_opportunities_board_order) and Won's and
Lost's newest first (ix_opportunities_board_closed), replacing ix_opportunities_board.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-12 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# As crmlite.models.board_totals wrote them on 2026-12-04 (copied: a migration stays as written).
TRIGGERS = {
    'sqlite': [
        'CREATE TRIGGER IF NOT EXISTS opportunities_board_totals_insert AFTER INSERT ON opportunities BEGIN INSERT INTO board_totals (stage_id, status_id, deals, revenue_cents, weighted_cent_percents) VALUES (NEW.stage_id, NEW.status_id, 1, CAST(ROUND(NEW.revenue * 100) AS INTEGER), CAST(ROUND(NEW.revenue * 100) AS INTEGER) * NEW.probability) ON CONFLICT (stage_id, status_id) DO UPDATE SET deals = board_totals.deals + 1, revenue_cents = board_totals.revenue_cents + excluded.revenue_cents, weighted_cent_percents = board_totals.weighted_cent_percents + excluded.weighted_cent_percents; END',
        'CREATE TRIGGER IF NOT EXISTS opportunities_board_totals_update AFTER UPDATE OF stage_id, status_id, revenue, probability ON opportunities WHEN OLD.stage_id IS NOT NEW.stage_id OR OLD.status_id IS NOT NEW.status_id OR OLD.revenue IS NOT NEW.revenue OR OLD.probability IS NOT NEW.probability BEGIN UPDATE board_totals SET deals = deals - 1, revenue_cents = revenue_cents - CAST(ROUND(OLD.revenue * 100) AS INTEGER), weighted_cent_percents = weighted_cent_percents - CAST(ROUND(OLD.revenue * 100) AS INTEGER) * OLD.probability WHERE stage_id = OLD.stage_id AND status_id = OLD.status_id; INSERT INTO board_totals (stage_id, status_id, deals, revenue_cents, weighted_cent_percents) VALUES (NEW.stage_id, NEW.status_id, 1, CAST(ROUND(NEW.revenue * 100) AS INTEGER), CAST(ROUND(NEW.revenue * 100) AS INTEGER) * NEW.probability) ON CONFLICT (stage_id, status_id) DO UPDATE SET deals = board_totals.deals + 1, revenue_cents = board_totals.revenue_cents + excluded.revenue_cents, weighted_cent_percents = board_totals.weighted_cent_percents + excluded.weighted_cent_percents; END',
        'CREATE TRIGGER IF NOT EXISTS opportunities_board_totals_delete AFTER DELETE ON opportunities BEGIN UPDATE board_totals SET deals = deals - 1, revenue_cents = revenue_cents - CAST(ROUND(OLD.revenue * 100) AS INTEGER), weighted_cent_percents = weighted_cent_percents - CAST(ROUND(OLD.revenue * 100) AS INTEGER) * OLD.probability WHERE stage_id = OLD.stage_id AND status_id = OLD.status_id; END',
    ],
    'postgresql': [
        "CREATE OR REPLACE FUNCTION opportunities_board_totals() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN UPDATE board_totals SET deals = deals - 1, revenue_cents = revenue_cents - ROUND(OLD.revenue * 100)::bigint, weighted_cent_percents = weighted_cent_percents - ROUND(OLD.revenue * 100)::bigint * OLD.probability WHERE stage_id = OLD.stage_id AND status_id = OLD.status_id; ELSIF TG_OP = 'INSERT' THEN INSERT INTO board_totals (stage_id, status_id, deals, revenue_cents, weighted_cent_percents) VALUES (NEW.stage_id, NEW.status_id, 1, ROUND(NEW.revenue * 100)::bigint, ROUND(NEW.revenue * 100)::bigint * NEW.probability) ON CONFLICT (stage_id, status_id) DO UPDATE SET deals = board_totals.deals + 1, revenue_cents = board_totals.revenue_cents + excluded.revenue_cents, weighted_cent_percents = board_totals.weighted_cent_percents + excluded.weighted_cent_percents; ELSIF (OLD.stage_id, OLD.status_id) <= (NEW.stage_id, NEW.status_id) THEN UPDATE board_totals SET deals = deals - 1, revenue_cents = revenue_cents - ROUND(OLD.revenue * 100)::bigint, weighted_cent_percents = weighted_cent_percents - ROUND(OLD.revenue * 100)::bigint * OLD.probability WHERE stage_id = OLD.stage_id AND status_id = OLD.status_id; INSERT INTO board_totals (stage_id, status_id, deals, revenue_cents, weighted_cent_percents) VALUES (NEW.stage_id, NEW.status_id, 1, ROUND(NEW.revenue * 100)::bigint, ROUND(NEW.revenue * 100)::bigint * NEW.probability) ON CONFLICT (stage_id, status_id) DO UPDATE SET deals = board_totals.deals + 1, revenue_cents = board_totals.revenue_cents + excluded.revenue_cents, weighted_cent_percents = board_totals.weighted_cent_percents + excluded.weighted_cent_percents; ELSE INSERT INTO board_totals (stage_id, status_id, deals, revenue_cents, weighted_cent_percents) VALUES (NEW.stage_id, NEW.status_id, 1, ROUND(NEW.revenue * 100)::bigint, ROUND(NEW.revenue * 100)::bigint * NEW.probability) ON CONFLICT (stage_id, status_id) DO UPDATE SET deals = board_totals.deals + 1, revenue_cents = board_totals.revenue_cents + excluded.revenue_cents, weighted_cent_percents = board_totals.weighted_cent_percents + excluded.weighted_cent_percents; UPDATE board_totals SET deals = deals - 1, revenue_cents = revenue_cents - ROUND(OLD.revenue * 100)::bigint, weighted_cent_percents = weighted_cent_percents - ROUND(OLD.revenue * 100)::bigint * OLD.probability WHERE stage_id = OLD.stage_id AND status_id = OLD.status_id; END IF; RETURN NULL; END $$",
        'CREATE OR REPLACE TRIGGER opportunities_board_totals_insert AFTER INSERT ON opportunities FOR EACH ROW EXECUTE FUNCTION opportunities_board_totals()',
        'CREATE OR REPLACE TRIGGER opportunities_board_totals_update AFTER UPDATE OF stage_id, status_id, revenue, probability ON opportunities FOR EACH ROW WHEN (OLD.stage_id IS DISTINCT FROM NEW.stage_id OR OLD.status_id IS DISTINCT FROM NEW.status_id OR OLD.revenue IS DISTINCT FROM NEW.revenue OR OLD.probability IS DISTINCT FROM NEW.probability) EXECUTE FUNCTION opportunities_board_totals()',
        'CREATE OR REPLACE TRIGGER opportunities_board_totals_delete AFTER DELETE ON opportunities FOR EACH ROW EXECUTE FUNCTION opportunities_board_totals()',
    ],
}
FILL = {
    'sqlite': [
        'INSERT INTO board_totals (stage_id, status_id, deals, revenue_cents, weighted_cent_percents) SELECT o.stage_id, o.status_id, COUNT(*), SUM(CAST(ROUND(o.revenue * 100) AS INTEGER)), SUM(CAST(ROUND(o.revenue * 100) AS INTEGER) * o.probability) FROM opportunities o GROUP BY o.stage_id, o.status_id',
    ],
    'postgresql': [
        'INSERT INTO board_totals (stage_id, status_id, deals, revenue_cents, weighted_cent_percents) SELECT o.stage_id, o.status_id, COUNT(*), SUM(ROUND(o.revenue * 100)::bigint), SUM(ROUND(o.revenue * 100)::bigint * o.probability) FROM opportunities o GROUP BY o.stage_id, o.status_id',
    ],
}
DROP = {
    'sqlite': [
        'DROP TRIGGER IF EXISTS opportunities_board_totals_insert',
        'DROP TRIGGER IF EXISTS opportunities_board_totals_update',
        'DROP TRIGGER IF EXISTS opportunities_board_totals_delete',
    ],
    'postgresql': [
        'DROP FUNCTION IF EXISTS opportunities_board_totals() CASCADE',
    ],
}


def upgrade():
    op.create_table(
        'board_totals',
        sa.Column('stage_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('status_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('deals', sa.Integer(), nullable=False),
        sa.Column('revenue_cents', sa.BigInteger(), nullable=False),
        sa.Column('weighted_cent_percents', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('stage_id', 'status_id', name=op.f('pk_board_totals')),
    )
    dialect = op.get_bind().dialect.name
    for statement in FILL[dialect] + TRIGGERS[dialect]:
        op.execute(sa.text(statement))
    op.drop_index('ix_opportunities_board', table_name='opportunities')
    op.create_index(
        'ix_opportunities_board_order',
        'opportunities',
        ['stage_id', 'first_open_activity_on', 'stage_entered_at', 'id', 'last_open_activity_on', 'status_id'],
        unique=False,
    )
    op.create_index(
        'ix_opportunities_board_closed', 'opportunities', ['stage_id', 'closed_at'], unique=False
    )


def downgrade():
    op.drop_index('ix_opportunities_board_closed', table_name='opportunities')
    op.drop_index('ix_opportunities_board_order', table_name='opportunities')
    op.create_index(
        'ix_opportunities_board',
        'opportunities',
        ['stage_id', 'status_id', 'closed_at', 'last_open_activity_on', 'first_open_activity_on', 'stage_entered_at', 'revenue', 'probability'],
        unique=False,
    )
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(sa.text(statement))
    op.drop_table('board_totals')
