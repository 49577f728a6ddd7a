"""Drop the ledger's index on ``user_id`` alone.

The index on ``(user_id, created_at DESC)`` serves every lookup by user, so
the single-column one only cost every ledger insert and settlement an index
write. Django's own operation for ``db_index=False`` drops and re-adds the
foreign key too (re-checking every ledger row under lock); only the index
goes here.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEX = "aiproxy_usagerecord_user_id_d71f2a61"  # Django's name for it


class Migration(migrations.Migration):
    dependencies = [
        ("aiproxy", "0003_usagerecord_model_without_db_constraint"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="usagerecord",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ai_usage",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "aiproxy_usagerecord" ("user_id")',
                ),
            ],
        ),
    ]
