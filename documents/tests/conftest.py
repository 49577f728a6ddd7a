"""Fixtures for the documents tests: a document and its cast of users."""

from collections.abc import Callable

import pytest

from accounts.tests.factories import UserFactory
from documents.tests.factories import DocumentAccessFactory, DocumentFactory


@pytest.fixture
def owner(db):
    """Return the owner of ``doc``."""
    return UserFactory()


@pytest.fixture
def doc(owner):
    """Return a document owned by ``owner``."""
    return DocumentFactory(owner=owner, title="Plan", body="First draft.")


@pytest.fixture
def editor(doc):
    """Return a user with editor access to ``doc``."""
    user = UserFactory()
    DocumentAccessFactory(document=doc, user=user, role="editor")
    return user


@pytest.fixture
def viewer(doc):
    """Return a user with viewer access to ``doc``."""
    user = UserFactory()
    DocumentAccessFactory(document=doc, user=user, role="viewer")
    return user


@pytest.fixture
def stranger(db):
    """Return a user with no access to ``doc``."""
    return UserFactory()


@pytest.fixture
def as_role(owner, editor, viewer, stranger) -> Callable:
    """Return ``as_role(name)``: the user playing that role on ``doc``."""
    cast = {"owner": owner, "editor": editor, "viewer": viewer, "stranger": stranger}
    return cast.__getitem__
