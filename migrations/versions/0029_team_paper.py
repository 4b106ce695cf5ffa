"""The paper of the app's PDFs (issue #20): team.paper, A4 or Letter, A4 by default.

Revision ID: 0029
Revises: 0025
Create Date: 2026-12-04 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paper', sa.String(length=6), nullable=False, server_default='A4'))
        batch_op.create_check_constraint(batch_op.f('ck_team_paper_values'), "paper IN ('A4', 'Letter')")


def downgrade():
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_team_paper_values'), type_='check')
        batch_op.drop_column('paper')
