"""Track rules (issue #15): tracks.runs_alongside (false: a nurture track, one at a time per
contact; the Value-Add and Event Specific tracks that exist run alongside, as the defaults
make them) and track_enrollments.replied_at (a reply stops the enrollment's e-mail steps).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

import crmlite.database


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

ALONGSIDE_KINDS = ('value_add', 'event_specific')  # services/defaults.RUNS_ALONGSIDE_KINDS


def upgrade():
    with op.batch_alter_table('tracks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('runs_alongside', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('track_enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replied_at', crmlite.database.UTCDateTime(timezone=True), nullable=True))
    tracks = sa.table('tracks', sa.column('kind_id', sa.Integer()), sa.column('runs_alongside', sa.Boolean()))
    kinds = sa.table('track_kinds', sa.column('id', sa.Integer()), sa.column('code', sa.String()))
    op.execute(
        tracks.update()
        .where(tracks.c.kind_id.in_(sa.select(kinds.c.id).where(kinds.c.code.in_(ALONGSIDE_KINDS))))
        .values(runs_alongside=True)
    )


def downgrade():
    with op.batch_alter_table('track_enrollments', schema=None) as batch_op:
        batch_op.drop_column('replied_at')
    with op.batch_alter_table('tracks', schema=None) as batch_op:
        batch_op.drop_column('runs_alongside')
