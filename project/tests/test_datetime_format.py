"""Every date-time the API writes is UTC with ``Z`` (one format everywhere)."""

import re
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

import pytest

from accounts.tests.factories import UserFactory
from aiproxy.models import UsageRecord
from attachments.tests.factories import AttachmentFactory
from documents.tests.factories import DocumentAccessFactory, DocumentFactory
from project.fields import iso_utc

pytestmark = pytest.mark.django_db

# A string that is an ISO 8601 date-time (a date alone is not one).
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def date_times(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(path, string)`` for every date-time string inside ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from date_times(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from date_times(item, f"{where}[{index}]")
    elif isinstance(value, str) and DATE_TIME.match(value):
        yield where, value


@pytest.fixture
def owner(db):
    owner = UserFactory()
    doc = DocumentFactory(owner=owner, title="Plan", body="Ship the docs.")
    DocumentAccessFactory(document=doc, user=UserFactory(), role="viewer")
    AttachmentFactory(document=doc)
    UsageRecord.objects.create(
        user=owner,
        model_name="quire-mock",
        provider="mock",
        period_start=timezone.now().date().replace(day=1),
        status=UsageRecord.Status.OK,
        prompt_tokens=12,
        completion_tokens=3,
        settled_at=timezone.now(),
    )
    return owner


def test_responses_write_every_date_time_in_utc_with_z(owner, client_for):
    """Profile, export, documents, revisions, grants, attachments, AI usage: all ``Z``."""
    client = client_for(owner)
    doc = owner.documents.get()
    paths = [
        "/api/v1/me",
        "/api/v1/me/export",
        "/api/v1/documents/",
        "/api/v1/documents/?q=docs",
        f"/api/v1/documents/{doc.pk}/",
        f"/api/v1/documents/{doc.pk}/revisions/",
        f"/api/v1/documents/{doc.pk}/revisions/1/",
        f"/api/v1/documents/{doc.pk}/access/",
        f"/api/v1/documents/{doc.pk}/attachments/",
        f"/api/v1/attachments/{doc.attachments.get().pk}/",
        "/api/v1/ai/usage",
    ]
    seen = []
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        seen += [(path + where, text) for where, text in date_times(response.json())]

    assert len(seen) > 20
    assert [(where, text) for where, text in seen if not UTC_Z.match(text)] == []


def test_iso_utc_converts_other_offsets_to_z():
    """A date-time in another zone is converted, not just relabelled."""
    import datetime as dt

    paris = dt.timezone(dt.timedelta(hours=1))
    value = dt.datetime(2026, 12, 3, 19, 30, tzinfo=paris)
    assert iso_utc(value) == "2026-12-03T18:30:00Z"
    assert iso_utc(None) is None
