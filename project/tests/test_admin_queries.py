"""No N+1 on any admin page: the same queries with 1 and with 20 related rows.

Table-driven over the models registered on ``admin.site``: each has a
builder that makes ``n`` rows of the model, the first of them with ``n`` rows
of everything its page shows (grants, revisions, attachments, ledger rows).
A model registered without a builder fails ``test_every_registered_model_has
_a_builder``, so a new admin page cannot skip the check.
"""

from collections.abc import Callable

from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import pytest

from accounts.models import AccountTombstone
from accounts.tests.factories import UserFactory
from aiproxy.tests.factories import AIModelFactory, UsageRecordFactory, UserQuotaFactory
from attachments.models import StorageDeletion
from attachments.tests.factories import AttachmentFactory
from documents.models import DocumentRevision
from documents.tests.factories import (
    DocumentAccessFactory,
    DocumentFactory,
    ShareLinkFactory,
)
from project.adminlinks import change_url, changelist_url

pytestmark = pytest.mark.django_db

SMALL, LARGE = 1, 20


def _groups(n: int) -> Model:
    groups = [
        Group.objects.create(name=f"group-{Group.objects.count()}") for _ in range(n)
    ]
    groups[0].permissions.set(Permission.objects.all()[:n])
    for _ in range(n):
        UserFactory().groups.add(groups[0])
    return groups[0]


def _users(n: int) -> Model:
    users = [UserFactory(last_seen_at=timezone.now()) for _ in range(n)]
    first = users[0]
    UserQuotaFactory(user=first)
    for _ in range(n):
        document = DocumentFactory(owner=first)
        AttachmentFactory(document=document)
        DocumentAccessFactory(user=first)
        UsageRecordFactory(user=first, document=document)
    return first


def _tombstones(n: int) -> Model:
    return [
        AccountTombstone.objects.create(
            sub=f"sub-{AccountTombstone.objects.count()}",
            deleted_at=timezone.now(),
            deleted_by=AccountTombstone.DeletedBy.STAFF,
        )
        for _ in range(n)
    ][0]


def _documents(n: int) -> Model:
    documents = [DocumentFactory() for _ in range(n)]
    first = documents[0]
    for number in range(2, n + 2):
        DocumentRevision.objects.create(
            document=first, number=number, author=UserFactory(), title="t", body="b"
        )
    for _ in range(n):
        DocumentAccessFactory(document=first)
        DocumentAccessFactory(document=first, user=None, email=f"{_}@invite.test")
        ShareLinkFactory(document=first)
        AttachmentFactory(document=first, uploaded_by=UserFactory())
        UsageRecordFactory(document=first)
    return first


def _share_links(n: int) -> Model:
    return [ShareLinkFactory() for _ in range(n)][0]


def _attachments(n: int) -> Model:
    return [AttachmentFactory() for _ in range(n)][0]


def _storage_deletions(n: int) -> Model:
    return [
        StorageDeletion.objects.create(
            storage_key=f"gone/{StorageDeletion.objects.count()}"
        )
        for _ in range(n)
    ][0]


def _ai_models(n: int) -> Model:
    models = [AIModelFactory() for _ in range(n)]
    for _ in range(n):
        UsageRecordFactory(model=models[0], model_name=models[0].name)
    return models[0]


def _quotas(n: int) -> Model:
    return [UserQuotaFactory() for _ in range(n)][0]


def _usage(n: int) -> Model:
    return [
        UsageRecordFactory(document=DocumentFactory(), model=AIModelFactory())
        for _ in range(n)
    ][0]


BUILDERS: dict[str, Callable[[int], Model]] = {
    "auth.Group": _groups,
    "accounts.User": _users,
    "accounts.AccountTombstone": _tombstones,
    "documents.Document": _documents,
    "documents.ShareLink": _share_links,
    "attachments.Attachment": _attachments,
    "attachments.StorageDeletion": _storage_deletions,
    "aiproxy.AIModel": _ai_models,
    "aiproxy.UserQuota": _quotas,
    "aiproxy.UsageRecord": _usage,
}


def registered_models() -> list[str]:
    return sorted(
        model._meta.label
        for model in apps.get_models()
        if admin.site.is_registered(model)
    )


def queries_for(client, url: str) -> int:
    """Return the queries of a second GET of ``url`` (the first warms caches)."""
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


def test_every_registered_model_has_a_builder():
    """Each model on the admin site has a builder in this table."""
    assert registered_models() == sorted(BUILDERS)


@pytest.mark.parametrize("label", sorted(BUILDERS))
def test_admin_changelist_queries_do_not_grow_with_rows(staff_client, label):
    """The list page runs as many queries for 20 rows as for 1."""
    model = apps.get_model(label)
    assert admin.site.get_model_admin(model)
    url = changelist_url(model)
    BUILDERS[label](SMALL)
    small = queries_for(staff_client, url)
    BUILDERS[label](LARGE)

    assert queries_for(staff_client, url) == small


@pytest.mark.parametrize("label", sorted(BUILDERS))
def test_admin_change_page_queries_do_not_grow_with_related_rows(staff_client, label):
    """An object's page runs as many queries with 20 related rows as with 1."""
    small = queries_for(staff_client, change_url(BUILDERS[label](SMALL)))

    assert queries_for(staff_client, change_url(BUILDERS[label](LARGE))) == small


def test_admin_index_queries_do_not_grow_with_rows(staff_client):
    """The dashboard costs the same with 20 rows of everything as with 1."""
    for build in BUILDERS.values():
        build(SMALL)
    small = queries_for(staff_client, "/admin/")
    for build in BUILDERS.values():
        build(LARGE)

    assert queries_for(staff_client, "/admin/") == small
