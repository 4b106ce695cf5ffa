"""A better next-step question (issue #16): each stage names the kind of activity its
next-step question offers first (sales_stages.next_step_type_id); the standard stages get
theirs (e.g. 1st Appointment: SA).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-11 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# As crmlite.services.defaults.STAGE_NEXT_STEP_TYPES (copied: a migration stays as written).
STAGE_NEXT_STEP_TYPES = {
    'Prospect': 'SE',
    '1st Appointment': 'SA',
    'Discovery': 'DM',
    'Presentation': 'PA',
    'Follow-Up': 'FC',
    'Commitment': 'FC',
}


def upgrade():
    with op.batch_alter_table('sales_stages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_step_type_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_sales_stages_next_step_type_id_activity_types'),
            'activity_types', ['next_step_type_id'], ['id'], ondelete='SET NULL',
        )
    for stage, code in STAGE_NEXT_STEP_TYPES.items():
        op.execute(
            sa.text(
                "UPDATE sales_stages SET next_step_type_id = "
                "(SELECT id FROM activity_types WHERE code = :code) "
                "WHERE name = :stage AND next_step_type_id IS NULL"
            ).bindparams(code=code, stage=stage)
        )


def downgrade():
    with op.batch_alter_table('sales_stages', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_sales_stages_next_step_type_id_activity_types'), type_='foreignkey'
        )
        batch_op.drop_column('next_step_type_id')
