"""An index for the "Due soon" strip every page shows (issue #19): a member's open activities
with a reminder, by day and start, with the end and the reminder, so the strip is read from
the index alone however many activities the member has.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-04 13:20:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

REMINDED = "status = 'Open' AND reminder_minutes IS NOT NULL"


def upgrade():
    op.create_index(
        'ix_activities_reminders',
        'activities',
        ['assigned_to_id', 'due_on', 'starts_at', 'ends_at', 'reminder_minutes', 'status'],
        unique=False,
        sqlite_where=sa.text(REMINDED),
        postgresql_where=sa.text(REMINDED),
    )


def downgrade():
    op.drop_index(
        'ix_activities_reminders',
        table_name='activities',
        sqlite_where=sa.text(REMINDED),
        postgresql_where=sa.text(REMINDED),
    )
