"""Seed the catalogue with the mock model so a fresh `make run` lists one.

It is listed only where the ``mock`` provider is configured (the default);
staff may disable or delete it.
"""

from decimal import Decimal

from django.db import migrations


def add_mock_model(apps, schema_editor):
    AIModel = apps.get_model("aiproxy", "AIModel")
    AIModel.objects.get_or_create(
        name="quire-mock",
        defaults={
            "provider": "mock",
            "upstream_model": "mock-1",
            "is_enabled": True,
            "context_limit": 32768,
            "max_output_tokens": 4096,
            "input_price": Decimal("0"),
            "output_price": Decimal("0"),
        },
    )


def remove_mock_model(apps, schema_editor):
    apps.get_model("aiproxy", "AIModel").objects.filter(
        name="quire-mock", provider="mock"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("aiproxy", "0001_initial")]

    operations = [migrations.RunPython(add_mock_model, remove_mock_model)]
