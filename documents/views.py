"""The documents API: thin views over documents.services and documents.selectors."""

import copy
import re
from typing import Any

from django.conf import settings
from django.http import QueryDict
from django.urls import reverse

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import merge, openapi, selectors, services
from documents.http import (
    IF_MATCH,
    BodyLimitMixin,
    body_field,
    conflict_error,
    document_response,
    parse_if_match,
    prefers_merge,
    title_field,
)
from documents.models import Role
from documents.search import snippet_for
from documents.serializers import (
    MERGED_FROM_HEADER,
    PREFER_HEADER,
    PREFERENCE_APPLIED_HEADER,
    DocumentConflictOutputSerializer,
    DocumentOutputSerializer,
    DocumentPageOutputSerializer,
    StrictSerializer,
    document_items_data,
)
from project.idempotency import idempotent

# Values the list's common requests send, in the one spelling for which the
# filter serializer's answer is the value itself (see list_filters_fast).
_CANONICAL_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,2000}")
_CANONICAL_PAGE_SIZE = re.compile(r"[1-9][0-9]{0,2}")
_LIST_SCOPES = frozenset({"owned", "shared", "trash"})
# The filters list_filters_fast answers: every field of
# DocumentListCreateApi.FilterSerializer (documents/tests/test_list_filters.py
# fails when the two differ).
LIST_FAST_FILTERS = ("scope", "ordering", "q", "cursor", "page_size")


def list_filters_fast(query_params: QueryDict) -> dict[str, Any] | None:
    """Return the list filters when every one is in canonical form, else ``None``.

    Validating the five filters with ``DocumentListCreateApi.FilterSerializer``
    cost a list request ~0.15 ms (a fifth of its Python time: DRF deep-copies
    the declared fields for every serializer instance). The requests clients
    poll with carry at most a scope, an ordering, a page size and a cursor,
    each spelled so that the serializer's validated value is the value
    itself; this answers those directly. Anything else (a search, an empty or
    unknown value, ``page_size=050``, a cursor with padding or whitespace)
    returns ``None`` and goes through the serializer, which owns every error
    message and every coercion. Keys the serializer does not know are
    ignored, as it ignores them; like it, the last of repeated values counts.
    """
    if query_params.get("q") is not None:
        return None
    params: dict[str, Any] = {"scope": "", "ordering": "-updated_at", "q": ""}
    scope = query_params.get("scope")
    if scope is not None:
        if scope not in _LIST_SCOPES:
            return None
        params["scope"] = scope
    ordering = query_params.get("ordering")
    if ordering is not None:
        if ordering not in selectors.ORDERINGS:
            return None
        params["ordering"] = ordering
    cursor = query_params.get("cursor")
    if cursor is not None:
        if not _CANONICAL_CURSOR.fullmatch(cursor):
            return None
        params["cursor"] = cursor
    page_size = query_params.get("page_size")
    if page_size is not None:
        if not _CANONICAL_PAGE_SIZE.fullmatch(page_size) or int(page_size) > 100:
            return None
        params["page_size"] = int(page_size)
    return params


class DocumentListCreateApi(BodyLimitMixin, APIView):
    class FilterSerializer(serializers.Serializer):
        scope = serializers.ChoiceField(
            choices=["owned", "shared", "trash"],
            required=False,
            default="",
            help_text="`owned`: the caller's own; `shared`: shared with the "
            "caller; `trash`: the caller's trashed documents. Default: owned "
            "and shared, not trashed.",
        )
        ordering = serializers.ChoiceField(
            choices=list(selectors.ORDERINGS),
            required=False,
            default="-updated_at",
            help_text="Sort key; a leading `-` sorts newest or last first. "
            "With `q`, results are ranked by relevance instead.",
        )
        q = serializers.CharField(
            max_length=200,
            required=False,
            default="",
            help_text="Full-text search over titles and bodies; adds `snippet` "
            "and `rank` to each result.",
        )
        cursor = serializers.CharField(
            max_length=2000,
            required=False,
            help_text="Opaque position from a previous page's `next_cursor`.",
        )
        page_size = serializers.IntegerField(
            min_value=1,
            max_value=100,
            required=False,
            help_text="Documents per page, 1 to 100 (default 50).",
        )

    @extend_schema_serializer(
        component_name="DocumentCreateInput", examples=openapi.DOCUMENT_CREATE_EXAMPLES
    )
    class InputSerializer(StrictSerializer):
        title = title_field(default="")
        body = body_field(default="")

    @openapi.DOCUMENT_LIST
    @extend_schema(
        operation_id="v1_documents_list",
        parameters=[FilterSerializer],
        responses=DocumentPageOutputSerializer,
    )
    def get(self, request: Request) -> Response:
        params = list_filters_fast(request.query_params)
        if params is None:
            filters = self.FilterSerializer(data=request.query_params)
            filters.is_valid(raise_exception=True)
            params = filters.validated_data
        q = params["q"].strip()
        page = selectors.document_list(
            user=request.user,
            scope=params["scope"],
            ordering=params["ordering"],
            q=q,
            cursor=params.get("cursor"),
            page_size=params.get("page_size") or settings.DOCUMENTS_PAGE_SIZE,
        )
        results = document_items_data(page.items)
        if q:
            for row, item in zip(page.items, results, strict=True):
                item["snippet"] = snippet_for(row["headline"], q)
                item["rank"] = round(float(row["rank"]), 6)
        next_url = None
        if page.next_cursor:
            # A shallow copy: setting a key replaces its list, never changes
            # the request's (QueryDict.copy() deep-copies every value).
            query = copy.copy(request.query_params)
            query["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(
            {"results": results, "next_cursor": page.next_cursor, "next": next_url}
        )

    @openapi.DOCUMENT_CREATE
    @extend_schema(request=InputSerializer, responses={201: DocumentOutputSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        incoming = self.InputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        document = services.document_create(
            owner=request.user, **incoming.validated_data
        )
        return document_response(
            document,
            status_code=status.HTTP_201_CREATED,
            location=request.build_absolute_uri(
                reverse("documents:document-detail", args=[document.pk])
            ),
        )


class DocumentDetailApi(BodyLimitMixin, APIView):
    @extend_schema_serializer(
        component_name="DocumentPatchInput", examples=openapi.DOCUMENT_PATCH_EXAMPLES
    )
    class PatchInputSerializer(StrictSerializer):
        title = title_field(required=False)
        body = body_field(required=False)

    @extend_schema_serializer(component_name="DocumentPutInput")
    class PutInputSerializer(StrictSerializer):
        title = title_field()
        body = body_field()

    class DeleteFilterSerializer(serializers.Serializer):
        permanent = serializers.BooleanField(
            required=False,
            default=False,
            help_text="`true` deletes a trashed document for good (it must be "
            "in the trash already).",
        )

    @openapi.DOCUMENT_READ
    @extend_schema(responses=DocumentOutputSerializer)
    def get(self, request: Request, document_id: str) -> Response:
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id, include_trashed=True
        )
        return document_response(document)

    def _write(
        self,
        request: Request,
        document_id: str,
        serializer_class,
        *,
        mergeable: bool = False,
    ) -> Response:
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id, minimum_role=Role.EDITOR
        )
        expected = parse_if_match(request)
        incoming = serializer_class(data=request.data)
        incoming.is_valid(raise_exception=True)
        merged_from = None
        try:
            if mergeable and expected is not None and prefers_merge(request):
                document, merged_from = merge.document_update_merging(
                    document=document,
                    user=request.user,
                    expected_version=expected,
                    **incoming.validated_data,
                )
            else:
                document = services.document_update(
                    document=document,
                    user=request.user,
                    expected_version=expected,
                    **incoming.validated_data,
                )
        except services.VersionConflict as conflict:
            raise conflict_error(conflict) from None
        response = document_response(document)
        if merged_from is not None:
            response["Merged-From"] = ", ".join(f'"{v}"' for v in merged_from)
            response["Preference-Applied"] = "merge"
        return response

    @openapi.DOCUMENT_PATCH
    @extend_schema(
        request=PatchInputSerializer,
        responses={
            200: DocumentOutputSerializer,
            412: OpenApiResponse(
                response=DocumentConflictOutputSerializer,
                description=(
                    "Stale If-Match: the current document under `current`; "
                    "with Prefer: merge and overlapping changes, also `conflicts`."
                ),
            ),
        },
        parameters=[
            IF_MATCH,
            PREFER_HEADER,
            MERGED_FROM_HEADER,
            PREFERENCE_APPLIED_HEADER,
        ],
    )
    def patch(self, request: Request, document_id: str) -> Response:
        return self._write(
            request, document_id, self.PatchInputSerializer, mergeable=True
        )

    @openapi.DOCUMENT_PUT
    @extend_schema(
        request=PutInputSerializer,
        responses=DocumentOutputSerializer,
        parameters=[IF_MATCH],
    )
    def put(self, request: Request, document_id: str) -> Response:
        return self._write(request, document_id, self.PutInputSerializer)

    @openapi.DOCUMENT_DELETE
    @extend_schema(parameters=[DeleteFilterSerializer], responses={204: None})
    def delete(self, request: Request, document_id: str) -> Response:
        filters = self.DeleteFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        permanent = filters.validated_data["permanent"]
        document = selectors.document_get_for_user(
            user=request.user,
            document_id=document_id,
            minimum_role=Role.OWNER,
            include_trashed=permanent,
        )
        if permanent:
            services.document_purge(document=document)
        else:
            services.document_trash(document=document)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentRestoreApi(APIView):
    @openapi.DOCUMENT_RESTORE
    @extend_schema(request=None, responses=DocumentOutputSerializer)
    def post(self, request: Request, document_id: str) -> Response:
        document = selectors.document_get_for_user(
            user=request.user,
            document_id=document_id,
            minimum_role=Role.OWNER,
            include_trashed=True,
        )
        return document_response(services.document_restore(document=document))
