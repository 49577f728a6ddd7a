"""Full-text search on PostgreSQL: a stored generated tsvector and its GIN index.

The column is not a model field: it exists only on PostgreSQL, is maintained
by the database on every write, and is read through
``documents.search.SearchVectorColumn``. On SQLite this migration does
nothing and search falls back to ``icontains``. The body is cut to its first
100,000 characters so that a pathological 1 MB body cannot exceed
PostgreSQL's 1 MB tsvector limit and make the write fail.
"""

from django.db import migrations

FORWARD = [
    """
    ALTER TABLE documents_document ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')
        || setweight(
            to_tsvector('english'::regconfig, left(coalesce(body, ''), 100000)), 'B'
        )
    ) STORED
    """,
    "CREATE INDEX documents_document_search_gin ON documents_document "
    "USING gin (search_vector)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS documents_document_search_gin",
    "ALTER TABLE documents_document DROP COLUMN IF EXISTS search_vector",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in FORWARD:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in BACKWARD:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("documents", "0002_revisions_last_editor")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
