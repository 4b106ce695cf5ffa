"""How many times each member's calendar feed may have changed, kept by the database
(issue #19): calendar_feed_stamps, one row per member, raised by triggers on activities and
activity_notes (crmlite/models/feed_stamps.py); the feed's ETag reads it instead of the
window's activities and notes. Not filled: a member without a row reads as 0, and the first
change makes the row.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-04 16:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None

# As crmlite.models.feed_stamps wrote them on 2026-12-04 (copied: a migration stays as written).
TRIGGERS = {
    'sqlite': [
        'CREATE TRIGGER IF NOT EXISTS activities_feed_stamps_insert AFTER INSERT ON activities BEGIN INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT NEW.assigned_to_id AS member_id, 1 AS changes) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; END',
        'CREATE TRIGGER IF NOT EXISTS activities_feed_stamps_update AFTER UPDATE OF assigned_to_id, due_on, starts_at, ends_at, status, email_from, subject, type_id, company_id, contact_id, phone, opportunity_id, place, reminder_minutes, created_at, updated_at, version ON activities WHEN OLD.assigned_to_id IS NOT NEW.assigned_to_id OR OLD.due_on IS NOT NEW.due_on OR OLD.starts_at IS NOT NEW.starts_at OR OLD.ends_at IS NOT NEW.ends_at OR OLD.status IS NOT NEW.status OR OLD.email_from IS NOT NEW.email_from OR OLD.subject IS NOT NEW.subject OR OLD.type_id IS NOT NEW.type_id OR OLD.company_id IS NOT NEW.company_id OR OLD.contact_id IS NOT NEW.contact_id OR OLD.phone IS NOT NEW.phone OR OLD.opportunity_id IS NOT NEW.opportunity_id OR OLD.place IS NOT NEW.place OR OLD.reminder_minutes IS NOT NEW.reminder_minutes OR OLD.created_at IS NOT NEW.created_at OR OLD.updated_at IS NOT NEW.updated_at OR OLD.version IS NOT NEW.version BEGIN INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT OLD.assigned_to_id AS member_id, 1 AS changes UNION ALL SELECT NEW.assigned_to_id AS member_id, 1 AS changes WHERE NEW.assigned_to_id IS NOT OLD.assigned_to_id) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; END',
        'CREATE TRIGGER IF NOT EXISTS activities_feed_stamps_delete AFTER DELETE ON activities BEGIN INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT OLD.assigned_to_id AS member_id, 1 AS changes) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; END',
        'CREATE TRIGGER IF NOT EXISTS activity_notes_feed_stamps_insert AFTER INSERT ON activity_notes BEGIN INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT a.assigned_to_id AS member_id, 1 AS changes FROM activities a WHERE a.id = NEW.activity_id) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; END',
        'CREATE TRIGGER IF NOT EXISTS activity_notes_feed_stamps_update AFTER UPDATE OF activity_id, author_id, created_at, body ON activity_notes WHEN OLD.activity_id IS NOT NEW.activity_id OR OLD.author_id IS NOT NEW.author_id OR OLD.created_at IS NOT NEW.created_at OR OLD.body IS NOT NEW.body BEGIN INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT a.assigned_to_id AS member_id, 1 AS changes FROM activities a WHERE a.id = OLD.activity_id UNION ALL SELECT a.assigned_to_id AS member_id, 1 AS changes FROM activities a WHERE a.id = NEW.activity_id AND NEW.activity_id IS NOT OLD.activity_id) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; END',
        'CREATE TRIGGER IF NOT EXISTS activity_notes_feed_stamps_delete AFTER DELETE ON activity_notes BEGIN INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT a.assigned_to_id AS member_id, 1 AS changes FROM activities a WHERE a.id = OLD.activity_id) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; END',
    ],
    'postgresql': [
        "CREATE OR REPLACE FUNCTION activities_feed_stamps() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT OLD.assigned_to_id AS member_id, 1 AS changes) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; ELSIF TG_OP = 'INSERT' THEN INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT NEW.assigned_to_id AS member_id, 1 AS changes) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; ELSE INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT OLD.assigned_to_id AS member_id, 1 AS changes UNION ALL SELECT NEW.assigned_to_id AS member_id, 1 AS changes WHERE NEW.assigned_to_id IS DISTINCT FROM OLD.assigned_to_id) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; END IF; RETURN NULL; END $$",
        'CREATE OR REPLACE TRIGGER activities_feed_stamps_insert AFTER INSERT ON activities FOR EACH ROW EXECUTE FUNCTION activities_feed_stamps()',
        'CREATE OR REPLACE TRIGGER activities_feed_stamps_update AFTER UPDATE OF assigned_to_id, due_on, starts_at, ends_at, status, email_from, subject, type_id, company_id, contact_id, phone, opportunity_id, place, reminder_minutes, created_at, updated_at, version ON activities FOR EACH ROW WHEN (OLD.assigned_to_id IS DISTINCT FROM NEW.assigned_to_id OR OLD.due_on IS DISTINCT FROM NEW.due_on OR OLD.starts_at IS DISTINCT FROM NEW.starts_at OR OLD.ends_at IS DISTINCT FROM NEW.ends_at OR OLD.status IS DISTINCT FROM NEW.status OR OLD.email_from IS DISTINCT FROM NEW.email_from OR OLD.subject IS DISTINCT FROM NEW.subject OR OLD.type_id IS DISTINCT FROM NEW.type_id OR OLD.company_id IS DISTINCT FROM NEW.company_id OR OLD.contact_id IS DISTINCT FROM NEW.contact_id OR OLD.phone IS DISTINCT FROM NEW.phone OR OLD.opportunity_id IS DISTINCT FROM NEW.opportunity_id OR OLD.place IS DISTINCT FROM NEW.place OR OLD.reminder_minutes IS DISTINCT FROM NEW.reminder_minutes OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.updated_at IS DISTINCT FROM NEW.updated_at OR OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION activities_feed_stamps()',
        'CREATE OR REPLACE TRIGGER activities_feed_stamps_delete AFTER DELETE ON activities FOR EACH ROW EXECUTE FUNCTION activities_feed_stamps()',
        "CREATE OR REPLACE FUNCTION activity_notes_feed_stamps() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT a.assigned_to_id AS member_id, 1 AS changes FROM activities a WHERE a.id = OLD.activity_id) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; ELSIF TG_OP = 'INSERT' THEN INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT a.assigned_to_id AS member_id, 1 AS changes FROM activities a WHERE a.id = NEW.activity_id) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; ELSE INSERT INTO calendar_feed_stamps (member_id, changes) SELECT member_id, SUM(changes) FROM (SELECT a.assigned_to_id AS member_id, 1 AS changes FROM activities a WHERE a.id = OLD.activity_id UNION ALL SELECT a.assigned_to_id AS member_id, 1 AS changes FROM activities a WHERE a.id = NEW.activity_id AND NEW.activity_id IS DISTINCT FROM OLD.activity_id) AS t WHERE member_id IS NOT NULL GROUP BY member_id ORDER BY member_id ON CONFLICT (member_id) DO UPDATE SET changes = calendar_feed_stamps.changes + excluded.changes; END IF; RETURN NULL; END $$",
        'CREATE OR REPLACE TRIGGER activity_notes_feed_stamps_insert AFTER INSERT ON activity_notes FOR EACH ROW EXECUTE FUNCTION activity_notes_feed_stamps()',
        'CREATE OR REPLACE TRIGGER activity_notes_feed_stamps_update AFTER UPDATE OF activity_id, author_id, created_at, body ON activity_notes FOR EACH ROW WHEN (OLD.activity_id IS DISTINCT FROM NEW.activity_id OR OLD.author_id IS DISTINCT FROM NEW.author_id OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.body IS DISTINCT FROM NEW.body) EXECUTE FUNCTION activity_notes_feed_stamps()',
        'CREATE OR REPLACE TRIGGER activity_notes_feed_stamps_delete AFTER DELETE ON activity_notes FOR EACH ROW EXECUTE FUNCTION activity_notes_feed_stamps()',
    ],
}

DROP = {
    'sqlite': [
        'DROP TRIGGER IF EXISTS activities_feed_stamps_insert',
        'DROP TRIGGER IF EXISTS activities_feed_stamps_update',
        'DROP TRIGGER IF EXISTS activities_feed_stamps_delete',
        'DROP TRIGGER IF EXISTS activity_notes_feed_stamps_insert',
        'DROP TRIGGER IF EXISTS activity_notes_feed_stamps_update',
        'DROP TRIGGER IF EXISTS activity_notes_feed_stamps_delete',
    ],
    'postgresql': [
        'DROP FUNCTION IF EXISTS activities_feed_stamps() CASCADE',
        'DROP FUNCTION IF EXISTS activity_notes_feed_stamps() CASCADE',
    ],
}


def upgrade():
    op.create_table(
        'calendar_feed_stamps',
        sa.Column('member_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('changes', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('member_id', name=op.f('pk_calendar_feed_stamps')),
    )
    for statement in TRIGGERS[op.get_bind().dialect.name]:
        op.execute(sa.text(statement))


def downgrade():
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(sa.text(statement))
    op.drop_table('calendar_feed_stamps')
