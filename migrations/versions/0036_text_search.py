"""The board's text search by trigrams (issue #16): on SQLite an FTS5 table with the trigram
tokenizer per searched text (a deal's name, a company's name, a contact's full name), filled
from what is there and kept by triggers; on PostgreSQL pg_trgm's GIN indexes on the same
texts (crmlite/models/search.py). pg_trgm is a trusted extension: the database's owner may
create it.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-04 19:10:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

# As crmlite.models.search wrote them on 2026-12-04 (copied: a migration stays as written).
MAKE = {
    "sqlite": [
        "CREATE VIRTUAL TABLE IF NOT EXISTS opportunity_names USING fts5(text, tokenize='trigram')",
        "INSERT INTO opportunity_names (rowid, text) SELECT id, opportunities.name FROM opportunities WHERE NOT EXISTS (SELECT 1 FROM opportunity_names)",
        "CREATE TRIGGER IF NOT EXISTS opportunity_names_insert AFTER INSERT ON opportunities BEGIN INSERT INTO opportunity_names (rowid, text) VALUES (NEW.id, NEW.name); END",
        "CREATE TRIGGER IF NOT EXISTS opportunity_names_update AFTER UPDATE OF name ON opportunities WHEN OLD.name IS NOT NEW.name BEGIN UPDATE opportunity_names SET text = NEW.name WHERE rowid = NEW.id; END",
        "CREATE TRIGGER IF NOT EXISTS opportunity_names_delete AFTER DELETE ON opportunities BEGIN DELETE FROM opportunity_names WHERE rowid = OLD.id; END",
        "CREATE VIRTUAL TABLE IF NOT EXISTS company_names USING fts5(text, tokenize='trigram')",
        "INSERT INTO company_names (rowid, text) SELECT id, companies.name FROM companies WHERE NOT EXISTS (SELECT 1 FROM company_names)",
        "CREATE TRIGGER IF NOT EXISTS company_names_insert AFTER INSERT ON companies BEGIN INSERT INTO company_names (rowid, text) VALUES (NEW.id, NEW.name); END",
        "CREATE TRIGGER IF NOT EXISTS company_names_update AFTER UPDATE OF name ON companies WHEN OLD.name IS NOT NEW.name BEGIN UPDATE company_names SET text = NEW.name WHERE rowid = NEW.id; END",
        "CREATE TRIGGER IF NOT EXISTS company_names_delete AFTER DELETE ON companies BEGIN DELETE FROM company_names WHERE rowid = OLD.id; END",
        "CREATE VIRTUAL TABLE IF NOT EXISTS contact_names USING fts5(text, tokenize='trigram')",
        "INSERT INTO contact_names (rowid, text) SELECT id, contacts.first_name || ' ' || contacts.last_name FROM contacts WHERE NOT EXISTS (SELECT 1 FROM contact_names)",
        "CREATE TRIGGER IF NOT EXISTS contact_names_insert AFTER INSERT ON contacts BEGIN INSERT INTO contact_names (rowid, text) VALUES (NEW.id, NEW.first_name || ' ' || NEW.last_name); END",
        "CREATE TRIGGER IF NOT EXISTS contact_names_update AFTER UPDATE OF first_name, last_name ON contacts WHEN OLD.first_name IS NOT NEW.first_name OR OLD.last_name IS NOT NEW.last_name BEGIN UPDATE contact_names SET text = NEW.first_name || ' ' || NEW.last_name WHERE rowid = NEW.id; END",
        "CREATE TRIGGER IF NOT EXISTS contact_names_delete AFTER DELETE ON contacts BEGIN DELETE FROM contact_names WHERE rowid = OLD.id; END",
    ],
    "postgresql": [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE INDEX IF NOT EXISTS ix_opportunity_names_trgm ON opportunities USING gin ((name) gin_trgm_ops)",
        "CREATE INDEX IF NOT EXISTS ix_company_names_trgm ON companies USING gin ((name) gin_trgm_ops)",
        "CREATE INDEX IF NOT EXISTS ix_contact_names_trgm ON contacts USING gin ((first_name || ' ' || last_name) gin_trgm_ops)",
    ],
}

DROP = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS opportunity_names_insert",
        "DROP TRIGGER IF EXISTS opportunity_names_update",
        "DROP TRIGGER IF EXISTS opportunity_names_delete",
        "DROP TABLE IF EXISTS opportunity_names",
        "DROP TRIGGER IF EXISTS company_names_insert",
        "DROP TRIGGER IF EXISTS company_names_update",
        "DROP TRIGGER IF EXISTS company_names_delete",
        "DROP TABLE IF EXISTS company_names",
        "DROP TRIGGER IF EXISTS contact_names_insert",
        "DROP TRIGGER IF EXISTS contact_names_update",
        "DROP TRIGGER IF EXISTS contact_names_delete",
        "DROP TABLE IF EXISTS contact_names",
    ],
    "postgresql": [
        "DROP INDEX IF EXISTS ix_opportunity_names_trgm",
        "DROP INDEX IF EXISTS ix_company_names_trgm",
        "DROP INDEX IF EXISTS ix_contact_names_trgm",
    ],
}


def upgrade():
    for statement in MAKE[op.get_bind().dialect.name]:
        op.execute(sa.text(statement))


def downgrade():
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(sa.text(statement))
