"""Stage history: each move stores when the stage it leaves was entered and whether the
opportunity later went further along or was won, so the dashboard's funnel reads covering
indexes (into a stage, out of a stage, by opportunity for a member) instead of looking up every
move's neighbours (issue #6). Existing moves are backfilled.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 07:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

import crmlite.database

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# The same rules as crmlite.services.stage_history.refresh(), frozen here as SQL.
BACKFILL = """
UPDATE stage_changes SET
    from_stage_entered_at = (
        SELECT max(earlier.changed_at) FROM stage_changes AS earlier
        WHERE earlier.opportunity_id = stage_changes.opportunity_id
          AND earlier.changed_at < stage_changes.changed_at
    ),
    advanced_later = EXISTS (
        SELECT 1 FROM stage_changes AS later
        JOIN sales_stages AS later_stage ON later_stage.id = later.to_stage_id
        WHERE later.opportunity_id = stage_changes.opportunity_id
          AND later.changed_at > stage_changes.changed_at
          AND NOT later_stage.is_lost
          AND later_stage.position > (
              SELECT this_stage.position FROM sales_stages AS this_stage
              WHERE this_stage.id = stage_changes.to_stage_id
          )
    ),
    won_later = EXISTS (
        SELECT 1 FROM stage_changes AS later
        JOIN sales_stages AS later_stage ON later_stage.id = later.to_stage_id
        WHERE later.opportunity_id = stage_changes.opportunity_id
          AND later.changed_at > stage_changes.changed_at
          AND later_stage.is_won
    )
"""


def upgrade():
    with op.batch_alter_table('stage_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('from_stage_entered_at', crmlite.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('advanced_later', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('won_later', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(BACKFILL)
    with op.batch_alter_table('stage_changes', schema=None) as batch_op:
        batch_op.alter_column('advanced_later', server_default=None)
        batch_op.alter_column('won_later', server_default=None)
        batch_op.drop_index('ix_stage_changes_period')
        batch_op.drop_index('ix_stage_changes_to_stage_id')
        batch_op.drop_index('ix_stage_changes_opportunity')
        batch_op.create_index('ix_stage_changes_opportunity', ['opportunity_id', 'changed_at', 'to_stage_id', 'from_stage_id', 'advanced_later', 'won_later', 'from_stage_entered_at'], unique=False)
        batch_op.create_index('ix_stage_changes_entries', ['to_stage_id', 'changed_at', 'advanced_later', 'won_later', 'opportunity_id'], unique=False)
        batch_op.create_index('ix_stage_changes_exits', ['from_stage_id', 'changed_at', 'from_stage_entered_at', 'opportunity_id'], unique=False)


def downgrade():
    with op.batch_alter_table('stage_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_changes_exits')
        batch_op.drop_index('ix_stage_changes_entries')
        batch_op.drop_index('ix_stage_changes_opportunity')
        batch_op.create_index('ix_stage_changes_opportunity', ['opportunity_id', 'changed_at', 'to_stage_id'], unique=False)
        batch_op.create_index('ix_stage_changes_to_stage_id', ['to_stage_id'], unique=False)
        batch_op.create_index('ix_stage_changes_period', ['changed_at', 'to_stage_id', 'from_stage_id', 'opportunity_id'], unique=False)
        batch_op.drop_column('won_later')
        batch_op.drop_column('advanced_later')
        batch_op.drop_column('from_stage_entered_at')
