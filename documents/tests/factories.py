import secrets

import factory

from accounts.tests.factories import UserFactory
from documents.links.selectors import secret_hash
from documents.models import (
    Document,
    DocumentAccess,
    DocumentRevision,
    DocumentVersion,
    ShareLink,
)


class DocumentFactory(factory.django.DjangoModelFactory):
    """A document with its first revision and merge base, as ``document_create``."""

    class Meta:
        model = Document
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    last_editor = factory.SelfAttribute("owner")
    title = factory.Sequence(lambda n: f"Document {n}")
    body = factory.Faker("paragraph")

    @factory.post_generation
    def first_revision(obj, create, extracted, **kwargs):
        if create:
            DocumentRevision.objects.create(
                document=obj,
                number=1,
                author=obj.owner,
                title=obj.title,
                body=obj.body,
                size_bytes=len(obj.body.encode()),
            )
            DocumentVersion.objects.create(
                document=obj, version=obj.version, title=obj.title, body=obj.body
            )


class DocumentAccessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DocumentAccess

    document = factory.SubFactory(DocumentFactory)
    user = factory.SubFactory(UserFactory)
    email = factory.LazyAttribute(lambda o: o.user.email if o.user else "x@example.com")
    role = DocumentAccess.GrantRole.VIEWER
    invited_by = factory.LazyAttribute(lambda o: o.document.owner)


class ShareLinkFactory(factory.django.DjangoModelFactory):
    """A live link; ``link.secret`` is the secret that opens it (not stored)."""

    class Meta:
        model = ShareLink

    secret = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    document = factory.SubFactory(DocumentFactory)
    created_by = factory.SelfAttribute("document.owner")
    secret_hash = factory.LazyAttribute(lambda o: secret_hash(o.secret))
    role = DocumentAccess.GrantRole.VIEWER
    audience = ShareLink.Audience.ANYONE

    @classmethod
    def _create(cls, model_class, *args, secret: str, **kwargs):
        link = super()._create(model_class, *args, **kwargs)
        link.secret = secret
        return link
