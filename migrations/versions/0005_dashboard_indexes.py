"""Dashboard indexes: open opportunities per account manager and stage, wins by month, and
the stage history by opportunity and by period, each covering what the dashboard reads
(issue #6).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 05:20:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.create_index('ix_opportunities_open_book', ['status_id', 'account_manager_id', 'stage_id', 'expected_close_on', 'last_open_activity_on', 'revenue', 'cost', 'probability'], unique=False)
        batch_op.create_index('ix_opportunities_wins', ['status_id', 'closed_at', 'account_manager_id', 'location_id', 'business_unit_id', 'won_amount', 'revenue', 'cost'], unique=False)

    with op.batch_alter_table('stage_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_changes_opportunity')
        batch_op.create_index('ix_stage_changes_opportunity', ['opportunity_id', 'changed_at', 'to_stage_id'], unique=False)
        batch_op.create_index('ix_stage_changes_period', ['changed_at', 'to_stage_id', 'from_stage_id', 'opportunity_id'], unique=False)


def downgrade():
    with op.batch_alter_table('stage_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_changes_period')
        batch_op.drop_index('ix_stage_changes_opportunity')
        batch_op.create_index('ix_stage_changes_opportunity', ['opportunity_id', 'changed_at'], unique=False)

    with op.batch_alter_table('opportunities', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunities_wins')
        batch_op.drop_index('ix_opportunities_open_book')
