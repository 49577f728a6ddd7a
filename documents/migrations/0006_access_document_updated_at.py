"""Give each grant a copy of its document's ``updated_at``, kept by triggers.

The default list page sorts the caller's owned and shared documents by update
time. Owned documents come in order from the ``(owner, -updated_at)`` index,
but the shared branch had to fetch every shared document to sort it: ~0.4 ms
of PostgreSQL CPU per page for a user with 200 shared documents, more than
the owned branch (BENCHMARKS.md, "docspeed"). With the time copied onto the
grant and an index on ``(user, -document_updated_at, -document)``, the branch
reads only the grants of the page.

The copy is kept by the database, so that no write path can miss it (the
CAS update, trash, restore, the admin, queryset updates, bulk inserts):

- a grant made, or moved to another document, takes its document's time;
- a document whose ``updated_at`` changes passes it to its grants.

On PostgreSQL these are PL/pgSQL triggers; on SQLite the same rules as
SQLite triggers. Existing grants are filled in here. The copy only orders
lists: access is still decided on the grant's user and the document row.
"""

from django.conf import settings
from django.db import migrations, models

POSTGRESQL_FORWARD = [
    """
    CREATE FUNCTION documents_access_take_document_time() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        -- FOR SHARE waits for a concurrent update of the document and reads
        -- its result: that update's own trigger cannot see this new grant.
        NEW.document_updated_at := (
            SELECT updated_at FROM documents_document WHERE id = NEW.document_id
            FOR SHARE
        );
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER documents_access_take_document_time
    BEFORE INSERT OR UPDATE OF document_id ON documents_documentaccess
    FOR EACH ROW EXECUTE FUNCTION documents_access_take_document_time()
    """,
    """
    CREATE FUNCTION documents_document_pass_time_to_grants() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE documents_documentaccess SET document_updated_at = NEW.updated_at
        WHERE document_id = NEW.id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER documents_document_pass_time_to_grants
    AFTER UPDATE OF updated_at ON documents_document
    FOR EACH ROW WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at)
    EXECUTE FUNCTION documents_document_pass_time_to_grants()
    """,
]
POSTGRESQL_BACKWARD = [
    "DROP TRIGGER IF EXISTS documents_document_pass_time_to_grants "
    "ON documents_document",
    "DROP FUNCTION IF EXISTS documents_document_pass_time_to_grants()",
    "DROP TRIGGER IF EXISTS documents_access_take_document_time "
    "ON documents_documentaccess",
    "DROP FUNCTION IF EXISTS documents_access_take_document_time()",
]
_SQLITE_TAKE = """
    BEGIN
        UPDATE documents_documentaccess SET document_updated_at = (
            SELECT updated_at FROM documents_document WHERE id = NEW.document_id
        ) WHERE id = NEW.id;
    END
"""
SQLITE_FORWARD = [
    "CREATE TRIGGER documents_access_take_document_time_insert "
    "AFTER INSERT ON documents_documentaccess FOR EACH ROW" + _SQLITE_TAKE,
    "CREATE TRIGGER documents_access_take_document_time_update "
    "AFTER UPDATE OF document_id ON documents_documentaccess FOR EACH ROW"
    + _SQLITE_TAKE,
    """
    CREATE TRIGGER documents_document_pass_time_to_grants
    AFTER UPDATE OF updated_at ON documents_document
    FOR EACH ROW WHEN OLD.updated_at IS NOT NEW.updated_at
    BEGIN
        UPDATE documents_documentaccess SET document_updated_at = NEW.updated_at
        WHERE document_id = NEW.id;
    END
    """,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS documents_document_pass_time_to_grants",
    "DROP TRIGGER IF EXISTS documents_access_take_document_time_update",
    "DROP TRIGGER IF EXISTS documents_access_take_document_time_insert",
]
BACKFILL = (
    "UPDATE documents_documentaccess SET document_updated_at = ("
    "SELECT updated_at FROM documents_document "
    "WHERE documents_document.id = documents_documentaccess.document_id)"
)


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}
    if vendor not in statements:
        raise NotImplementedError(f"no document_updated_at triggers for {vendor}")
    for statement in statements[vendor]:
        schema_editor.execute(statement)
    schema_editor.execute(BACKFILL)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRESQL_BACKWARD, "sqlite": SQLITE_BACKWARD}
    for statement in statements.get(vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0005_search_owner_gin"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="documentaccess",
            name="document_updated_at",
            field=models.DateTimeField(
                editable=False,
                help_text="Copy of the document's updated_at, kept by database "
                "triggers.",
                null=True,
            ),
        ),
        migrations.AddIndex(
            model_name="documentaccess",
            index=models.Index(
                fields=["user", "-document_updated_at", "-document"],
                name="documents_access_user_recent",
            ),
        ),
        migrations.RunPython(forward, backward, elidable=False),
    ]
