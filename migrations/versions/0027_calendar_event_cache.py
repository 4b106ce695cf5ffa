"""The calendar feed's stored events (issue #19): each activity's VEVENT kept with the
fingerprint of what it was built from, so the feed is assembled instead of rebuilt.

Revision ID: 0027
Revises: 0025
Create Date: 2026-12-04 08:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade():
    # Empty at first: the feed fills it as it builds each event once.
    op.create_table('calendar_event_cache',
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.Text(), nullable=False),
    sa.Column('ics', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_calendar_event_cache_activity_id_activities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('activity_id', name=op.f('pk_calendar_event_cache'))
    )


def downgrade():
    op.drop_table('calendar_event_cache')
