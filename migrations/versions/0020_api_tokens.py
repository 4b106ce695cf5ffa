"""The JSON API (issue #17): members' personal access tokens (only a SHA-256 digest of each
secret is stored), scoped read or read-write, revocable.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import crmlite.database


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', crmlite.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', crmlite.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', crmlite.database.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("scope IN ('read', 'read-write')", name=op.f('ck_api_tokens_scope_values')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_api_tokens_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_digest', name=op.f('uq_api_tokens_token_digest'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_member_id'), ['member_id'], unique=False)


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_member_id'))
    op.drop_table('api_tokens')
