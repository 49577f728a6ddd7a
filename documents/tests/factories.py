import factory

from accounts.tests.factories import UserFactory
from documents.models import Document, DocumentAccess, DocumentRevision


class DocumentFactory(factory.django.DjangoModelFactory):
    """A document with its first revision, as ``document_create`` makes it."""

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


class DocumentAccessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DocumentAccess

    document = factory.SubFactory(DocumentFactory)
    user = factory.SubFactory(UserFactory)
    email = factory.LazyAttribute(lambda o: o.user.email if o.user else "x@example.com")
    role = DocumentAccess.GrantRole.VIEWER
    invited_by = factory.LazyAttribute(lambda o: o.document.owner)
