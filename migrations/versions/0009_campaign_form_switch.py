"""A campaign's public web form can be switched off by hand (issue #14): campaigns.form_open,
true for every campaign that exists (their forms stay as they were; a finished campaign's
form closes by itself, without this switch).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_open', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('form_open')
