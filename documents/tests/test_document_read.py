"""The single-document read (``documents.sql.document_read``) on any database."""

import pytest

from accounts.tests.factories import UserFactory
from documents import sql
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db


def public(user) -> tuple:
    return (user.pk, user.email, user.display_name)


def test_read_owner_as_last_editor(user):
    """A document last edited by its owner names the owner twice."""
    document = DocumentFactory(owner=user, last_editor=user)

    read = sql.document_read(document_id=document.pk, user_id=user.pk)

    assert public(read.owner) == public(user)
    assert public(read.last_editor) == public(user)


def test_read_other_last_editor(user):
    """A document last edited by someone else names each user with their own data."""
    editor = UserFactory(display_name="Editor")
    document = DocumentFactory(owner=user, last_editor=editor)

    read = sql.document_read(document_id=document.pk, user_id=user.pk)

    assert public(read.owner) == public(user)
    assert public(read.last_editor) == public(editor)


def test_read_without_last_editor(user):
    """A document whose last editor was deleted reads with no last editor."""
    document = DocumentFactory(owner=user, last_editor=None)

    read = sql.document_read(document_id=document.pk, user_id=user.pk)

    assert read.last_editor is None
    assert public(read.owner) == public(user)
