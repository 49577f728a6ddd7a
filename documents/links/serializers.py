"""The shapes of share links and of a document opened through one.

A document read through a link carries nothing about people: no owner, no
last editor, no grants. Whoever holds the link learns the document, not who
wrote it.
"""

from rest_framework import serializers

from documents.models import Document, ShareLink
from documents.serializers import document_text_data
from project.fields import iso_utc

_ts = iso_utc


def share_link_data(link: ShareLink) -> dict:
    """Return a link as its owner sees it (never with its secret)."""
    return {
        "id": str(link.pk),
        "role": link.role,
        "audience": link.audience,
        "expires_at": _ts(link.expires_at),
        "created_at": _ts(link.created_at),
    }


def linked_document_data(document: Document) -> dict:
    """Return a document opened by a link, with the caller's role through it."""
    link = document.share_link
    return {
        **document_text_data(document),
        "created_at": _ts(document.created_at),
        "updated_at": _ts(document.updated_at),
        "link": {
            "role": link.role,
            "audience": link.audience,
            "expires_at": _ts(link.expires_at),
        },
    }


class ShareLinkOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    role = serializers.ChoiceField(choices=ShareLink._meta.get_field("role").choices)
    audience = serializers.ChoiceField(choices=ShareLink.Audience.choices)
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class ShareLinkListOutputSerializer(serializers.Serializer):
    results = ShareLinkOutputSerializer(many=True)


class ShareLinkCreatedOutputSerializer(ShareLinkOutputSerializer):
    secret = serializers.CharField(
        help_text="The link's secret. Shown once, in this response only."
    )
    url = serializers.URLField(
        help_text="The web app's page for the link: /s/{secret}."
    )
    api_url = serializers.URLField(help_text="GET it for the document (JSON).")


class LinkedDocumentLinkSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ShareLink._meta.get_field("role").choices)
    audience = serializers.ChoiceField(choices=ShareLink.Audience.choices)
    expires_at = serializers.DateTimeField(allow_null=True)


class LinkedDocumentOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    body = serializers.CharField()
    version = serializers.IntegerField()
    role = serializers.ChoiceField(
        choices=["owner", "editor", "viewer"],
        help_text="What the caller may do through the link (anonymous: viewer).",
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    link = LinkedDocumentLinkSerializer()
