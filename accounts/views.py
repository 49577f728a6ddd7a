"""The ``/api/v1/me`` endpoints and the local issuer's JWKS."""

from django.http import Http404, HttpRequest, JsonResponse

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import local_issuer
from accounts.selectors import user_export, user_profile
from accounts.services import (
    user_delete,
    user_sign_out_everywhere,
    user_update_profile,
)
from accounts.tokens import local_issuer_enabled
from project.fields import StrictCharField
from project.schema import ApiDoc


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A profile",
            value={
                "id": "5b8e2c1a-9f3d-4e8b-a6c2-7d1e0f4b9a31",
                "email": "ada@example.com",
                "is_email_verified": True,
                "display_name": "Ada Lovelace",
                "is_staff": False,
                "created_at": "2026-11-02T09:14:03.512000Z",
                "last_seen_at": "2026-12-03T18:02:11.004000Z",
            },
            response_only=True,
        )
    ]
)
class ProfileOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField(allow_null=True)
    is_email_verified = serializers.BooleanField()
    display_name = serializers.CharField()
    is_staff = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(allow_null=True)


class MeApi(APIView):
    """Read, edit or delete the caller's own account."""

    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(
        examples=[
            OpenApiExample(
                "Rename", value={"display_name": "Ada Lovelace"}, request_only=True
            )
        ]
    )
    class InputSerializer(serializers.Serializer):
        # The same checks as a document's title: a string (``0`` is not
        # coerced to "0"), on one line, without control characters.
        display_name = StrictCharField(
            max_length=150,
            allow_blank=True,
            trim_whitespace=True,
            single_line=True,
            help_text="Shown to collaborators; up to 150 characters.",
        )

    OutputSerializer = ProfileOutputSerializer

    @ApiDoc(
        tag="accounts",
        summary="Read the caller's profile",
        description=(
            "The signed-in user's profile. `email` and `is_email_verified` come "
            "from the identity provider (Cognito) and are read-only here."
        ),
    )
    @extend_schema(responses=ProfileOutputSerializer)
    def get(self, request):
        """Return the caller's profile (read by authentication on this request)."""
        return Response(user_profile(user=request.user))

    @ApiDoc(
        tag="accounts",
        summary="Change the caller's display name",
        description=(
            "Set `display_name` (up to 150 characters, surrounding spaces "
            "trimmed; no control characters or line breaks; an empty name is "
            "allowed). The email cannot be changed here."
        ),
    )
    @extend_schema(request=InputSerializer, responses=ProfileOutputSerializer)
    def patch(self, request):
        """Change the display name; the email comes from Cognito and is read-only.

        A partial update, as the schema's ``PatchedMeInputRequest`` says: ``{}``
        changes nothing and answers the profile.
        """
        incoming = self.InputSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        user = user_update_profile(user=request.user, **incoming.validated_data)
        return Response(user_profile(user=user))

    @ApiDoc(
        tag="accounts",
        summary="Delete the caller's account",
        description=(
            "Delete the account and everything it owns: documents, revisions, "
            "attachments and their stored files, grants and AI usage. It cannot "
            "be undone; the token stops working at once (401 "
            "`account_deleted`). Download `GET /me/export` first to keep a copy."
        ),
        errors={503: ("account_busy",)},
    )
    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request):
        """Delete the account and everything it owns."""
        user_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportApi(APIView):
    """Download all of the caller's data as one JSON document."""

    permission_classes = [IsAuthenticated]

    @ApiDoc(
        tag="accounts",
        summary="Export all of the caller's data",
        description=(
            "Everything the caller owns as one JSON document: `profile`, plus "
            "one key per part of Quire (documents with their revisions and "
            "grants, attachments' metadata, AI usage)."
        ),
    )
    @extend_schema(
        responses=OpenApiResponse(
            response=OpenApiTypes.OBJECT,
            description="`profile` plus one key per contributing app.",
        )
    )
    def get(self, request):
        """Return the export."""
        return Response(user_export(user=request.user))


class MeSignOutApi(APIView):
    """Sign out everywhere: tokens issued before now stop working."""

    permission_classes = [IsAuthenticated]

    @ApiDoc(
        tag="accounts",
        summary="Sign out everywhere",
        description=(
            "Every token issued to the caller until now is refused from the next "
            "request on, in every app and device; with Cognito, its refresh "
            "tokens are revoked too. If Cognito cannot be reached the tokens "
            "are still refused here and the answer is 503 "
            "`cognito_unavailable`: retry to finish."
        ),
        errors={503: ("cognito_unavailable",)},
    )
    @extend_schema(
        request=None, responses={204: OpenApiResponse(description="Signed out.")}
    )
    def post(self, request):
        """Record the cutoff and sign out of Cognito."""
        user_sign_out_everywhere(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def jwks(request: HttpRequest) -> JsonResponse:
    """Serve the local issuer's public keys; 404 when Cognito is the issuer."""
    if not local_issuer_enabled():
        raise Http404
    response = JsonResponse(local_issuer.jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response
