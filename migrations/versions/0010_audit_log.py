"""The audit log (issue #14): sign-ins, rights, points, quotas, reopened activities, moved
won or lost deals and deletions, one row each, with indexes for the admin page's filters
(newest first; of one kind; of one member).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crmlite.database


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', crmlite.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('member_name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('object_kind', sa.String(length=40), nullable=True),
    sa.Column('object_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_audit_entries_member_id_members'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_entries_kind_at', ['kind', 'at'], unique=False)
        batch_op.create_index('ix_audit_entries_member_at', ['member_id', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_member_at')
        batch_op.drop_index('ix_audit_entries_kind_at')
        batch_op.drop_index('ix_audit_entries_at')

    op.drop_table('audit_entries')
