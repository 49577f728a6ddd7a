"""The revisions API: a document's history, one revision, and restoring one."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import openapi, selectors, services
from documents.http import conflict_error, document_response, parse_if_match
from documents.models import Role
from documents.serializers import (
    DocumentOutputSerializer,
    RevisionOutputSerializer,
    RevisionPageOutputSerializer,
    revision_data,
)


class RevisionListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        cursor = serializers.CharField(
            max_length=200,
            required=False,
            help_text="Opaque position from a previous page's `next_cursor`.",
        )
        page_size = serializers.IntegerField(
            min_value=1,
            max_value=100,
            required=False,
            help_text="Revisions per page, 1 to 100 (default 50).",
        )

    @openapi.REVISION_LIST
    @extend_schema(
        parameters=[FilterSerializer], responses=RevisionPageOutputSerializer
    )
    def get(self, request: Request, document_id: str) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id
        )
        page = selectors.revision_list(
            document=document,
            cursor=filters.validated_data.get("cursor"),
            page_size=filters.validated_data.get("page_size") or 50,
        )
        return Response(
            {
                "results": [revision_data(r, with_body=False) for r in page.items],
                "next_cursor": page.next_cursor,
            }
        )


class RevisionDetailApi(APIView):
    @openapi.REVISION_READ
    @extend_schema(responses=RevisionOutputSerializer)
    def get(self, request: Request, document_id: str, number: int) -> Response:
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id
        )
        revision = selectors.revision_get(document=document, number=number)
        return Response(revision_data(revision, with_body=True))


class RevisionRestoreApi(APIView):
    @openapi.REVISION_RESTORE
    @extend_schema(request=None, responses=DocumentOutputSerializer)
    def post(self, request: Request, document_id: str, number: int) -> Response:
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id, minimum_role=Role.EDITOR
        )
        expected = parse_if_match(request) if "If-Match" in request.headers else None
        revision = selectors.revision_get(document=document, number=number)
        try:
            document = services.revision_restore(
                document=document,
                revision=revision,
                user=request.user,
                expected_version=expected,
            )
        except services.VersionConflict as conflict:
            raise conflict_error(conflict) from None
        return document_response(document)
