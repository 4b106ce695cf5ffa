"""What a member's calendar feed shows (issue #15): members.feed_include_captured (captured
e-mails, off for everyone) and members.feed_include_done (done activities, on for everyone,
as the feed showed them before).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feed_include_captured', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('feed_include_done', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('feed_include_done')
        batch_op.drop_column('feed_include_captured')
