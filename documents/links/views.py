"""The share-link API: an owner's links, and a document opened by its secret."""

from django.urls import reverse

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import selectors as document_selectors
from documents import services as document_services
from documents.http import (
    IF_MATCH_PATTERN,
    BodyLimitMixin,
    body_field,
    conflict_error,
    etag_for,
    parse_if_match,
    prefers_merge,
    title_field,
)
from documents.links import selectors, services
from documents.links.serializers import (
    LinkedDocumentOutputSerializer,
    ShareLinkCreatedOutputSerializer,
    ShareLinkListOutputSerializer,
    linked_document_data,
    share_link_data,
)
from documents.models import DocumentAccess, Role, ShareLink
from documents.serializers import (
    MERGED_FROM_HEADER,
    PREFER_HEADER,
    PREFERENCE_APPLIED_HEADER,
    StrictSerializer,
)
from project.schema import error_codes
from project.throttling import (
    AnonRateThrottle,
    AnonScopedRateThrottle,
    UserRateThrottle,
)

TAGS = ["sharing"]
OWNER_ONLY = ("owner_only", "read_only")
NOT_FOUND = ("not_found",)
# Nothing behind a share link may be kept by a shared cache (CloudFront, a
# proxy): revocation must take effect on the next request.
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
SECRET_PARAMETER = OpenApiParameter(
    "secret",
    str,
    OpenApiParameter.PATH,
    description="The link's secret, as returned once when the link was created.",
)


def _linked_response(document, *, status_code: int = 200) -> Response:
    headers = {"ETag": etag_for(document), **NO_STORE}
    return Response(linked_document_data(document), status=status_code, headers=headers)


class ShareLinkListCreateApi(APIView):
    @extend_schema_serializer(component_name="ShareLinkCreateInput")
    class InputSerializer(StrictSerializer):
        role = serializers.ChoiceField(choices=DocumentAccess.GrantRole.choices)
        audience = serializers.ChoiceField(choices=ShareLink.Audience.choices)
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    @extend_schema(
        tags=TAGS,
        summary="List a document's share links",
        description="The live links (not revoked, not expired) of a document, "
        "oldest first, without their secrets. Owner only.",
        responses={
            200: ShareLinkListOutputSerializer,
            **error_codes({403: OWNER_ONLY, 404: NOT_FOUND}),
        },
    )
    def get(self, request: Request, document_id: str) -> Response:
        document = document_selectors.document_get_for_user(
            user=request.user, document_id=document_id, minimum_role=Role.OWNER
        )
        links = selectors.share_link_list(document=document)
        return Response({"results": [share_link_data(link) for link in links]})

    @extend_schema(
        tags=TAGS,
        summary="Create a share link",
        description="A link that opens the document for `anyone` who has it or "
        "for any `signed_in` user, as `viewer` or `editor` (anonymous visitors "
        "only ever read), until `expires_at` (optional, in the future) or "
        "until it is revoked. The secret is in this response only: Quire "
        "keeps its hash. Owner only; at most 50 live links per document (409 "
        "`too_many_links`). Not idempotent by key, so that no stored response "
        "ever holds a secret.",
        request=InputSerializer,
        responses={
            201: ShareLinkCreatedOutputSerializer,
            **error_codes(
                {
                    400: ("invalid_expiry",),
                    403: OWNER_ONLY,
                    404: NOT_FOUND,
                    409: ("too_many_links",),
                }
            ),
        },
    )
    def post(self, request: Request, document_id: str) -> Response:
        document = document_selectors.document_get_for_user(
            user=request.user, document_id=document_id, minimum_role=Role.OWNER
        )
        incoming = self.InputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        link, secret = services.share_link_create(
            document=document, by=request.user, **incoming.validated_data
        )
        data = share_link_data(link)
        data["secret"] = secret
        data["url"] = request.build_absolute_uri(reverse("web:shared", args=[secret]))
        data["api_url"] = request.build_absolute_uri(
            reverse("links:link-open", args=[secret])
        )
        location = reverse("links:link-detail", args=[document.pk, link.pk])
        return Response(
            data,
            status=status.HTTP_201_CREATED,
            headers={"Location": request.build_absolute_uri(location), **NO_STORE},
        )


class ShareLinkDetailApi(APIView):
    @extend_schema(
        tags=TAGS,
        summary="Revoke a share link",
        description="The link stops working at once: its secret then answers "
        "404, as a document that does not exist. Revoking a revoked or "
        "expired link changes nothing. Owner only.",
        responses={
            204: OpenApiResponse(description="Revoked."),
            **error_codes({403: OWNER_ONLY, 404: NOT_FOUND}),
        },
    )
    def delete(self, request: Request, document_id: str, link_id: str) -> Response:
        document = document_selectors.document_get_for_user(
            user=request.user, document_id=document_id, minimum_role=Role.OWNER
        )
        link = selectors.share_link_get(document=document, link_id=link_id)
        services.share_link_revoke(link=link)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShareLinkOpenApi(BodyLimitMixin, APIView):
    """A document by its link's secret: read by anyone the link admits."""

    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle, UserRateThrottle, AnonScopedRateThrottle]
    throttle_scope = "links"

    @extend_schema_serializer(component_name="LinkedDocumentPatchInput")
    class PatchInputSerializer(StrictSerializer):
        title = title_field(required=False)
        body = body_field(required=False)

    @extend_schema(
        tags=TAGS,
        summary="Open a document by its share link",
        description="No account needed for an `anyone` link; a `signed_in` "
        "link answers 401 without one. A revoked, expired or unknown secret, or "
        "a trashed document, answers 404 with the body of a document that does "
        "not exist. The answer names no one (no owner, no editors). `role` is "
        "what the caller may do through the link: anonymous callers read only. "
        "Anonymous calls are rate-limited per IP (scope `links`).",
        parameters=[SECRET_PARAMETER],
        auth=[{}, {"bearerAuth": []}],
        responses={
            200: LinkedDocumentOutputSerializer,
            **error_codes({401: ("not_authenticated",), 404: NOT_FOUND}),
        },
    )
    def get(self, request: Request, secret: str) -> Response:
        document = selectors.share_link_open(secret=secret, user=request.user)
        return _linked_response(document)

    @extend_schema(
        tags=TAGS,
        summary="Edit a document through an editor link",
        description="For signed-in callers of an `editor` link (401 without "
        "an account, 403 `read_only` through a `viewer` link). As `PATCH "
        "/api/v1/documents/{id}/`: `If-Match` is required (428), a stale one "
        "answers 412 with the current document (in this endpoint's shape), "
        "unless `Prefer: merge` asks for a three-way merge (200 with "
        "`Merged-From`, or 412 with `conflicts` when the changes overlap). "
        "The edit is recorded in the history under the caller's name.",
        parameters=[
            SECRET_PARAMETER,
            OpenApiParameter(
                "If-Match",
                location=OpenApiParameter.HEADER,
                required=True,
                description='The ETag of the version being changed, e.g. "3".',
                pattern=IF_MATCH_PATTERN,
            ),
            PREFER_HEADER,
            MERGED_FROM_HEADER,
            PREFERENCE_APPLIED_HEADER,
        ],
        request=PatchInputSerializer,
        responses={
            200: LinkedDocumentOutputSerializer,
            **error_codes(
                {
                    400: ("invalid_if_match",),
                    401: ("not_authenticated",),
                    403: ("read_only",),
                    404: NOT_FOUND,
                    409: ("trashed",),
                    412: ("precondition_failed",),
                    413: ("too_large",),
                    428: ("precondition_required",),
                },
                properties={
                    412: {
                        "current": {
                            "allOf": [
                                {"$ref": "#/components/schemas/LinkedDocumentOutput"}
                            ],
                            "description": "The document as it is now.",
                        }
                    }
                },
            ),
        },
    )
    def patch(self, request: Request, secret: str) -> Response:
        document = selectors.share_link_open(
            secret=secret, user=request.user, minimum_role=Role.EDITOR
        )
        expected = parse_if_match(request)
        incoming = self.PatchInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            document, merged_from = services.share_link_document_update(
                document=document,
                user=request.user,
                expected_version=expected,
                merging=prefers_merge(request),
                **incoming.validated_data,
            )
        except document_services.VersionConflict as conflict:
            current = conflict.document
            current.role = document.role
            current.share_link = document.share_link
            raise conflict_error(
                conflict, current=linked_document_data(current)
            ) from None
        response = _linked_response(document)
        if merged_from is not None:
            response["Merged-From"] = ", ".join(f'"{v}"' for v in merged_from)
            response["Preference-Applied"] = "merge"
        return response
