"""The documents API: thin views over documents.services and documents.selectors."""

import copy
import re
from typing import Any

from django.conf import settings
from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import merge, openapi, selectors, services
from documents.links.selectors import share_link_list
from documents.links.serializers import share_link_data
from documents.models import Document, DocumentAccess, Role
from documents.search import snippet_for
from documents.serializers import (
    MERGED_FROM_HEADER,
    PREFER_HEADER,
    PREFERENCE_APPLIED_HEADER,
    AccessListOutputSerializer,
    AccessOutputSerializer,
    DocumentConflictOutputSerializer,
    DocumentOutputSerializer,
    DocumentPageOutputSerializer,
    RevisionOutputSerializer,
    RevisionPageOutputSerializer,
    StrictSerializer,
    access_data,
    conflicts_data,
    document_data,
    document_items_data,
    revision_data,
)
from project.exceptions import ApplicationError
from project.fields import StrictCharField
from project.idempotency import idempotent

# The If-Match this API takes: one of its own ETags, or ``*`` (declared as the
# header's schema pattern; anything else is 400 invalid_if_match).
IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,10}")$'
_ETAG = re.compile(r'^(?:W/)?"(\d{1,10})"$')
# Values the list's common requests send, in the one spelling for which the
# filter serializer's answer is the value itself (see list_filters_fast).
_CANONICAL_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,2000}")
_CANONICAL_PAGE_SIZE = re.compile(r"[1-9][0-9]{0,2}")
_LIST_SCOPES = frozenset({"owned", "shared", "trash"})
# The filters list_filters_fast answers: every field of
# DocumentListCreateApi.FilterSerializer (documents/tests/test_list_filters.py
# fails when the two differ).
LIST_FAST_FILTERS = ("scope", "ordering", "q", "cursor", "page_size")
TITLE_MAX = Document._meta.get_field("title").max_length
IF_MATCH = OpenApiParameter(
    "If-Match",
    location=OpenApiParameter.HEADER,
    required=True,
    description='The ETag of the version being changed, e.g. "3".',
    pattern=IF_MATCH_PATTERN,
)


def etag_for(document: Document) -> str:
    """Return the strong ETag of the document's current version."""
    return f'"{document.version}"'


def parse_if_match(request: Request) -> int | None:
    """Return the version named by ``If-Match`` (``None`` for ``*``) or raise."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        raise ApplicationError(
            _("This request needs an If-Match header with the document's ETag."),
            code="precondition_required",
            status=428,
        )
    if header == "*":
        return None
    match = _ETAG.match(header)
    if match is None:
        raise ApplicationError(
            _("If-Match must be one ETag, as sent by GET."), code="invalid_if_match"
        )
    return int(match.group(1))


def prefers_merge(request: Request) -> bool:
    """Return whether the request's ``Prefer`` header (RFC 7240) asks for ``merge``.

    Preferences are comma-separated, each a case-insensitive token with an
    optional ``=value`` and ``;parameters``; unknown ones are ignored.
    """
    for header in request.headers.get("Prefer", "").split(","):
        preference = header.split(";", 1)[0].split("=", 1)[0].strip().lower()
        if preference == "merge":
            return True
    return False


def conflict_error(conflict: "services.VersionConflict") -> ApplicationError:
    """Return the 412/428 answer for a lost compare-and-swap, with the current document.

    A save that asked for a merge and overlapped also carries the
    ``conflicts``: the title's three values when both sides changed it, and
    each body region both sides changed (base, theirs, ours).
    """
    extra: dict[str, Any] = {"current": document_data(conflict.document)}
    if isinstance(conflict, merge.MergeConflict):
        extra["conflicts"] = conflicts_data(conflict)
    return ApplicationError(
        conflict.detail,
        code=conflict.code,
        status=conflict.status,
        extra=extra,
        headers={"ETag": etag_for(conflict.document)},
    )


def document_response(
    document: Document, *, status_code: int = 200, location: str | None = None
) -> Response:
    """Return the document as JSON with its ETag (and ``Location`` when created)."""
    headers = {"ETag": etag_for(document)}
    if location:
        headers["Location"] = location
    return Response(document_data(document), status=status_code, headers=headers)


class BodyLimitMixin:
    """Refuse request bodies larger than any valid document before parsing them."""

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        # JSON escaping can take up to 6 bytes per character of body.
        if length > settings.DOCUMENTS_MAX_BODY_BYTES * 6 + 65_536:
            raise ApplicationError(
                _("The document is too large."), code="too_large", status=413
            )


def _title_field(**kwargs) -> StrictCharField:
    return StrictCharField(
        max_length=TITLE_MAX, allow_blank=True, single_line=True, **kwargs
    )


def _body_field(**kwargs) -> StrictCharField:
    return StrictCharField(allow_blank=True, trim_whitespace=False, **kwargs)


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
        title = _title_field(default="")
        body = _body_field(default="")

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
        title = _title_field(required=False)
        body = _body_field(required=False)

    @extend_schema_serializer(component_name="DocumentPutInput")
    class PutInputSerializer(StrictSerializer):
        title = _title_field()
        body = _body_field()

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


class AccessListCreateApi(APIView):
    @extend_schema_serializer(
        component_name="AccessGrantInput", examples=openapi.ACCESS_GRANT_EXAMPLES
    )
    class InputSerializer(StrictSerializer):
        email = serializers.EmailField(max_length=254)
        role = serializers.ChoiceField(choices=DocumentAccess.GrantRole.choices)

    @openapi.ACCESS_LIST
    @extend_schema(responses=AccessListOutputSerializer)
    def get(self, request: Request, document_id: str) -> Response:
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id
        )
        # Share links (without secrets) are the owner's to see and revoke.
        links = (
            share_link_list(document=document) if document.role == Role.OWNER else []
        )
        return Response(
            {
                "owner": document_data(document)["owner"],
                "results": [
                    access_data(a) for a in selectors.access_list(document=document)
                ],
                "links": [share_link_data(link) for link in links],
            }
        )

    @openapi.ACCESS_GRANT
    @extend_schema(
        request=InputSerializer,
        # 200: the email already had a grant (its role is changed).
        responses={201: AccessOutputSerializer, 200: AccessOutputSerializer},
    )
    @idempotent
    def post(self, request: Request, document_id: str) -> Response:
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id, minimum_role=Role.OWNER
        )
        incoming = self.InputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        access, created = services.access_grant(
            document=document, by=request.user, **incoming.validated_data
        )
        if not created:
            return Response(access_data(access))
        location = reverse("documents:access-detail", args=[document.pk, access.pk])
        return Response(
            access_data(access),
            status=status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(location)},
        )


class AccessDetailApi(APIView):
    @extend_schema_serializer(component_name="AccessUpdateInput")
    class InputSerializer(StrictSerializer):
        role = serializers.ChoiceField(choices=DocumentAccess.GrantRole.choices)

    @openapi.ACCESS_UPDATE
    @extend_schema(request=InputSerializer, responses=AccessOutputSerializer)
    def patch(self, request: Request, document_id: str, access_id: str) -> Response:
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id, minimum_role=Role.OWNER
        )
        access = services.access_get(document=document, access_id=access_id)
        # A partial update (PATCH): ``{}`` changes nothing.
        incoming = self.InputSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        access = services.access_update(access=access, **incoming.validated_data)
        return Response(access_data(access))

    @openapi.ACCESS_REVOKE
    @extend_schema(responses={204: None})
    def delete(self, request: Request, document_id: str, access_id: str) -> Response:
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id
        )
        access = services.access_get(document=document, access_id=access_id)
        if document.role != Role.OWNER and access.user_id != request.user.pk:
            # Collaborators may leave a document, not remove others.
            selectors.document_get_for_user(
                user=request.user, document_id=document_id, minimum_role=Role.OWNER
            )
        services.access_revoke(access=access)
        return Response(status=status.HTTP_204_NO_CONTENT)
