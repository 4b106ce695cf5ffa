"""A member's points quota set for one month (issue #18): wins over the quota history's rule
(their own quota, else the team's, as either was then) for that month only.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crmlite.database


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('points_month_quotas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('set_at', crmlite.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quota BETWEEN 0 AND 100000', name=op.f('ck_points_month_quotas_quota_range')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_points_month_quotas_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_by_id'], ['members.id'], name=op.f('fk_points_month_quotas_set_by_id_members'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_month_quotas')),
    sa.UniqueConstraint('member_id', 'month', name=op.f('uq_points_month_quotas_member_id_month'))
    )


def downgrade():
    op.drop_table('points_month_quotas')
