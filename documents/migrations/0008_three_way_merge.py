"""Three-way merge of stale saves: merge bases, and the merge in the history.

``DocumentVersion`` keeps the title and body of each document's latest
versions (revisions fold autosaves, so most versions have no revision of
their own); a save with an older ``If-Match`` is merged against the one it
names. A revision made by such a merge records the two versions it joined.
Existing documents get their first merge base on their next save.
"""

import uuid

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('documents', '0007_share_links'),
    ]

    operations = [
        migrations.AddField(
            model_name='documentrevision',
            name='merge_base_version',
            field=models.PositiveIntegerField(blank=True, help_text='The document version the merged save started from.', null=True),
        ),
        migrations.AddField(
            model_name='documentrevision',
            name='merge_current_version',
            field=models.PositiveIntegerField(blank=True, help_text='The document version the merged save was merged with.', null=True),
        ),
        migrations.CreateModel(
            name='DocumentVersion',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('version', models.PositiveIntegerField()),
                ('title', models.CharField(blank=True, max_length=200)),
                ('body', models.TextField(blank=True, default='')),
                ('document', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='versions', to='documents.document')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('document', 'version'), name='documents_version_unique')],
            },
        ),
    ]
