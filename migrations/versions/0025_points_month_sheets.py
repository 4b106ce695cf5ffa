"""Frozen points sheets (issue #18): a closed month's points table (types, point values,
recommended counts, active flags) kept with the month, so a re-printed month is unchanged.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 04:58:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crmlite.database


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('points_month_sheets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('types', sa.Text(), nullable=False),
    sa.Column('frozen_at', crmlite.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_month_sheets')),
    sa.UniqueConstraint('month', name=op.f('uq_points_month_sheets_month'))
    )


def downgrade():
    op.drop_table('points_month_sheets')
