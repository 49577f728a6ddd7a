from django.db import migrations, models


def set_unlogged(apps, schema_editor):
    """Skip the WAL for throttle counters on PostgreSQL: they need no durability."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE project_throttlebucket SET UNLOGGED")


def set_logged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE project_throttlebucket SET LOGGED")


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="ThrottleBucket",
            fields=[
                (
                    "key",
                    models.CharField(max_length=255, primary_key=True, serialize=False),
                ),
                ("window_start", models.BigIntegerField()),
                ("hits", models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(set_unlogged, set_logged, elidable=True),
    ]
