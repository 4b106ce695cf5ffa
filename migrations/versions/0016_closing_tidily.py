"""Closing tidily and labelled board figures (issue #16): activities may be 'Cancelled' (left
undone when their opportunity was won or lost: no points, kept in the history);
stage_changes.former_amount keeps the amount won or lost a reopened deal had; team.currency
is the ISO 4217 code amounts are shown in (default USD).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('Open', 'Closed')"
NEW_STATUSES = "status IN ('Open', 'Closed', 'Cancelled')"


def upgrade():
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_activities_status_values'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_activities_status_values'), NEW_STATUSES)
    with op.batch_alter_table('stage_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('former_amount', sa.Numeric(precision=14, scale=2), nullable=True))
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=False, server_default='USD'))


def downgrade():
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.drop_column('currency')
    with op.batch_alter_table('stage_changes', schema=None) as batch_op:
        batch_op.drop_column('former_amount')
    # Cancelled activities go back to open: they were left undone.
    op.execute("UPDATE activities SET status = 'Open' WHERE status = 'Cancelled'")
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_activities_status_values'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_activities_status_values'), OLD_STATUSES)
