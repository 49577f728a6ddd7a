"""Keep the search vector (and the title) in the table row, out of TOAST.

A 200-word document has a ~2 kB tsvector; with the default ``EXTENDED``
storage PostgreSQL moved every one of them to the TOAST table, so ranking N
matches cost N extra TOAST index look-ups and chunk reads (about half of the
search query at 100,000 documents). With ``MAIN`` storage PostgreSQL moves
the body out of line first and keeps the vector in the row, where ranking
reads it from the heap page it fetched anyway. The title (at most 200
characters) gets ``MAIN`` too: otherwise, once the body is out and the row
is still over the 2 kB TOAST target, PostgreSQL moves the next-largest
``EXTENDED`` column out, which is the title that every list page reads. A
vector too large for any row (a long document) still goes out of line, so no
write can fail because of this.

Storage applies when a row is written, so the migration rewrites every row
once (``SET title = title`` also recomputes the generated vector). That is
one UPDATE of the whole table: seconds per 100,000 documents, holding their
row locks meanwhile, and leaving the old row versions for VACUUM.
PostgreSQL only; nothing to do on SQLite.
"""

from django.db import migrations

FORWARD = [
    "ALTER TABLE documents_document ALTER COLUMN search_vector SET STORAGE MAIN, "
    "ALTER COLUMN title SET STORAGE MAIN",
    "UPDATE documents_document SET title = title",
]
BACKWARD = [
    "ALTER TABLE documents_document ALTER COLUMN search_vector SET STORAGE EXTENDED, "
    "ALTER COLUMN title SET STORAGE EXTENDED",
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
    dependencies = [("documents", "0003_search_vector")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
