"""Bouncing addresses (issue #15): contacts.bounced_at and bounce_reason, set when a captured
delivery status notification says mail to the address failed for good; campaign sends to
such a contact are recorded as skipped_bounced.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

import crmlite.database


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('queued', 'sent', 'failed', 'skipped_unsubscribed', 'skipped_no_address')"
NEW_STATUSES = (
    "status IN ('queued', 'sent', 'failed', 'skipped_unsubscribed', "
    "'skipped_no_address', 'skipped_bounced')"
)


def upgrade():
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bounced_at', crmlite.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('bounce_reason', sa.String(length=200), nullable=False, server_default=''))
    with op.batch_alter_table('email_sends', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_email_sends_status_values'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_email_sends_status_values'), NEW_STATUSES)


def downgrade():
    # Sends skipped for a bounce go back to waiting: they are decided again when sent.
    op.execute("UPDATE email_sends SET status = 'queued' WHERE status = 'skipped_bounced'")
    with op.batch_alter_table('email_sends', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_email_sends_status_values'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_email_sends_status_values'), OLD_STATUSES)
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('bounce_reason')
        batch_op.drop_column('bounced_at')
