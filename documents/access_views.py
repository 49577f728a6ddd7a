"""The access API: a document's grants (sharing by email), granting and revoking."""

from django.urls import reverse

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import openapi, selectors, services
from documents.links.selectors import share_link_list
from documents.links.serializers import share_link_data
from documents.models import DocumentAccess, Role
from documents.serializers import (
    AccessListOutputSerializer,
    AccessOutputSerializer,
    StrictSerializer,
    access_data,
    document_data,
)
from project.idempotency import idempotent


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
