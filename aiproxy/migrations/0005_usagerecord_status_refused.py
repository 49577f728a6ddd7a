"""A ledger status for requests refused before the provider is called.

Choices only: no SQL runs (the column is already a 16-character string).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('aiproxy', '0004_usagerecord_user_without_own_index'),
    ]

    operations = [
        migrations.AlterField(
            model_name='usagerecord',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('ok', 'OK'), ('cancelled', 'Cancelled by the client'), ('error', 'Upstream error'), ('timeout', 'Upstream timeout'), ('refused', 'Refused before the provider')], default='pending', max_length=16),
        ),
    ]
