"""Attachment endpoints: start or stream an upload, complete, read, download."""

from django.conf import settings
from django.http import (
    FileResponse,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from attachments import openapi
from attachments.adapters.storage import (
    LocalStorage,
    attachment_storage,
    disposition,
)
from attachments.models import Attachment
from attachments.ranges import RangeNotSatisfiable, iter_file_range, parse_range
from attachments.selectors import attachment_get_for_user, attachment_list_for_document
from attachments.services import (
    attachment_delete,
    attachment_quota_remaining_bytes,
    attachment_upload_complete,
    attachment_upload_local,
    attachment_upload_local_abandon,
    attachment_upload_local_reserve,
    attachment_upload_start,
    storage_unavailable,
)
from attachments.sniffing import ACTIVE_TYPES
from attachments.uploads import FILE_FIELD, StorageUploadHandler, too_large_error
from documents.models import Role
from documents.selectors import document_get_for_user
from project.exceptions import ApplicationError
from project.idempotency import idempotent
from project.parsers import JSONParser
from project.schema import ERROR_DESCRIPTIONS

# Room for multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A ready attachment",
            value={
                "id": "3c2b1a09-8f7e-4d6c-9b5a-1e2f3a4b5c6d",
                "document": "0f8c3f8e-4f4e-4b7a-9d55-2b8f3a1c6d21",
                "uploaded_by": "5b8e2c1a-9f3d-4e8b-a6c2-7d1e0f4b9a31",
                "filename": "roadmap.png",
                "content_type": "image/png",
                "size_bytes": 48213,
                "status": "ready",
                "checksum_sha256": "9f86d081884c7d659a2feaa0c55ad015"
                "a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "rejection_code": "",
                "created_at": "2026-12-03T16:45:02.118000Z",
                "completed_at": "2026-12-03T16:45:02.406000Z",
                "download_url": "/api/v1/attachments/"
                "3c2b1a09-8f7e-4d6c-9b5a-1e2f3a4b5c6d/download/",
            },
            response_only=True,
        )
    ]
)
class AttachmentOutputSerializer(serializers.ModelSerializer):
    document = serializers.UUIDField(source="document_id")
    uploaded_by = serializers.UUIDField(source="uploaded_by_id")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "document",
            "uploaded_by",
            "filename",
            "content_type",
            "size_bytes",
            "status",
            "checksum_sha256",
            "rejection_code",
            "created_at",
            "completed_at",
            "download_url",
        ]

    def get_download_url(self, attachment: Attachment) -> str | None:
        if attachment.status != Attachment.Status.READY:
            return None
        return reverse("attachments:attachment-download", args=[attachment.pk])


def _location(request, attachment: Attachment) -> dict[str, str]:
    """Return the ``Location`` header of a created attachment."""
    path = reverse("attachments:attachment-detail", args=[attachment.pk])
    return {"Location": request.build_absolute_uri(path)}


class AttachmentPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class DocumentAttachmentsApi(APIView):
    """``GET`` lists a document's attachments; ``POST`` starts or sends an upload."""

    parser_classes = [JSONParser, MultiPartParser]

    class FilterSerializer(serializers.Serializer):
        cursor = serializers.CharField(
            required=False,
            help_text="Opaque position from a previous page's `next` link.",
        )
        page_size = serializers.IntegerField(
            min_value=1,
            max_value=AttachmentPagination.max_page_size,
            required=False,
            help_text="Attachments per page, 1 to 200 (default 50).",
        )

    @extend_schema_serializer(
        examples=[
            OpenApiExample(
                "Declare an image",
                value={
                    "filename": "roadmap.png",
                    "content_type": "image/png",
                    "size": 48213,
                },
                request_only=True,
            )
        ]
    )
    class InputSerializer(serializers.Serializer):
        filename = serializers.CharField(
            max_length=1024, help_text="The file's name, shown to readers."
        )
        content_type = serializers.CharField(
            max_length=255, help_text="The file's media type, e.g. `image/png`."
        )
        size = serializers.IntegerField(min_value=0, help_text="Exact size in bytes.")

    class MultipartInputSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="The file itself.")
        content_type = serializers.CharField(
            max_length=255,
            required=False,
            allow_blank=True,
            help_text="The file's media type, when the part's own header is "
            "missing or generic.",
        )

    @openapi.ATTACHMENT_LIST
    @extend_schema(
        parameters=[FilterSerializer],
        responses=inline_serializer(
            "AttachmentPage",
            {
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": AttachmentOutputSerializer(many=True),
            },
        ),
    )
    def get(self, request, document_id):
        # The paginator ignores a bad page_size; refuse it as the schema says.
        self.FilterSerializer(data=request.query_params).is_valid(raise_exception=True)
        attachments = attachment_list_for_document(
            user=request.user, document_id=document_id
        )
        paginator = AttachmentPagination()
        page = paginator.paginate_queryset(attachments, request, view=self)
        data = AttachmentOutputSerializer(page, many=True).data
        return paginator.get_paginated_response(data)

    @openapi.ATTACHMENT_UPLOAD
    @extend_schema(
        request={
            "application/json": InputSerializer,
            "multipart/form-data": MultipartInputSerializer,
        },
        responses={201: AttachmentOutputSerializer},
    )
    @idempotent
    def post(self, request, document_id):
        if request.content_type.startswith("multipart/form-data"):
            return self._post_multipart(request, document_id)
        incoming = self.InputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        attachment, post = attachment_upload_start(
            user=request.user,
            document_id=document_id,
            filename=incoming.validated_data["filename"],
            content_type=incoming.validated_data["content_type"].lower(),
            size_bytes=incoming.validated_data["size"],
        )
        body = AttachmentOutputSerializer(attachment).data
        body["upload"] = {
            "method": "POST",
            "url": post.url,
            "fields": post.fields,
            "expires_in": settings.ATTACHMENT_UPLOAD_EXPIRES_SECONDS,
            "complete_url": reverse(
                "attachments:attachment-complete", args=[attachment.pk]
            ),
        }
        return Response(
            body, status=status.HTTP_201_CREATED, headers=_location(request, attachment)
        )

    def _post_multipart(self, request, document_id):
        document = document_get_for_user(
            user=request.user, document_id=document_id, minimum_role=Role.EDITOR
        )
        storage = attachment_storage()
        if not isinstance(storage, LocalStorage):
            raise ApplicationError(
                _("Start the upload with JSON and send the file to storage."),
                code="presigned_upload_required",
                status=415,
            )
        remaining = attachment_quota_remaining_bytes(user=request.user)
        limit = min(settings.ATTACHMENT_MAX_BYTES, remaining)
        quota_bound = remaining < settings.ATTACHMENT_MAX_BYTES
        error = too_large_error(limit, quota=quota_bound)
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > limit + MULTIPART_OVERHEAD_BYTES:
            raise error
        # The file is at most the body: reserve that much (or the limit) now,
        # so a concurrent upload cannot spend the same quota while this streams.
        reservation = attachment_upload_local_reserve(
            user=request.user,
            document=document,
            max_bytes=min(length, limit) if length else limit,
        )
        handler = StorageUploadHandler(
            request._request,
            storage=storage,
            key=reservation.storage_key,
            max_bytes=reservation.size_bytes,
            limit_error=error,
        )
        request._request.upload_handlers = [handler]
        try:
            received = request.FILES.get(FILE_FIELD)
            content_type = request.POST.get("content_type", "").strip().lower()
            if received is None:
                raise ApplicationError(
                    _("Send the file in the multipart field 'file'."),
                    code="file_missing",
                    status=400,
                )
        except BaseException:
            attachment_upload_local_abandon(reservation=reservation)
            raise
        attachment = attachment_upload_local(
            reservation=reservation,
            received=received,
            content_type=content_type or None,
        )
        return Response(
            AttachmentOutputSerializer(attachment).data,
            status=status.HTTP_201_CREATED,
            headers=_location(request, attachment),
        )


class AttachmentCompleteApi(APIView):
    """Verify the stored object of a direct upload and mark it ready."""

    @openapi.ATTACHMENT_COMPLETE
    @extend_schema(request=None, responses=AttachmentOutputSerializer)
    def post(self, request, attachment_id):
        attachment = attachment_upload_complete(
            user=request.user, attachment_id=attachment_id
        )
        return Response(AttachmentOutputSerializer(attachment).data)


class AttachmentDetailApi(APIView):
    """``GET`` an attachment's metadata; ``DELETE`` it with its stored bytes."""

    @openapi.ATTACHMENT_READ
    @extend_schema(responses=AttachmentOutputSerializer)
    def get(self, request, attachment_id):
        attachment = attachment_get_for_user(
            user=request.user, attachment_id=attachment_id
        )
        return Response(AttachmentOutputSerializer(attachment).data)

    @openapi.ATTACHMENT_DELETE
    @extend_schema(responses={204: None})
    def delete(self, request, attachment_id):
        attachment_delete(user=request.user, attachment_id=attachment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def served_content_type(content_type: str) -> str:
    """Return the type to serve: never one a browser would run as a page."""
    if content_type in ACTIVE_TYPES or not content_type:
        return "application/octet-stream"
    if content_type.startswith("text/"):
        return f"{content_type}; charset=utf-8"
    return content_type


def attachment_download_response(
    attachment: Attachment,
    *,
    range_header: str | None = None,
    if_range: str | None = None,
) -> HttpResponse:
    """Answer a download: a redirect to a signed URL, or the bytes streamed.

    Shared by the API and the admin. Local files honour a single HTTP Range.
    """
    storage = attachment_storage()
    content_type = served_content_type(attachment.content_type)
    url = storage.download_url(
        key=attachment.storage_key,
        filename=attachment.filename,
        content_type=content_type,
        expires_in=settings.ATTACHMENT_DOWNLOAD_EXPIRES_SECONDS,
        version=attachment.storage_version,
    )
    if url is not None:
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        return response
    return _local_download_response(
        attachment, storage, content_type, range_header, if_range
    )


def _local_download_response(
    attachment: Attachment,
    storage: LocalStorage,
    content_type: str,
    range_header: str | None,
    if_range: str | None,
) -> HttpResponse:
    etag = f'"{attachment.checksum_sha256}"' if attachment.checksum_sha256 else None
    try:
        handle = storage.open_read(key=attachment.storage_key)
    except FileNotFoundError:
        raise storage_unavailable() from None
    size = attachment.size_bytes
    try:
        span = None
        if range_header and (if_range is None or if_range == etag):
            span = parse_range(range_header, size)
    except RangeNotSatisfiable:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        _secure_headers(response, attachment, etag)
        return response
    if span is None:
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.filename,
            content_type=content_type,
        )
        response["Content-Length"] = str(size)
    else:
        start, end = span
        response = StreamingHttpResponse(
            iter_file_range(handle, start, end - start + 1),
            status=206,
            content_type=content_type,
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    _secure_headers(response, attachment, etag)
    return response


def _secure_headers(response, attachment: Attachment, etag: str | None) -> None:
    response["Content-Disposition"] = disposition(attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-cache"
    response["Accept-Ranges"] = "bytes"
    if etag:
        response["ETag"] = etag


class AttachmentDownloadApi(APIView):
    """Download a ready attachment (viewers too)."""

    @openapi.ATTACHMENT_DOWNLOAD
    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file (local storage)."
            ),
            (206, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The requested `Range` of the file."
            ),
            302: OpenApiResponse(
                description="Redirect (`Location`) to a short-lived signed URL."
            ),
            416: OpenApiResponse(description=ERROR_DESCRIPTIONS[416]),
        }
    )
    def get(self, request, attachment_id):
        attachment = attachment_get_for_user(
            user=request.user, attachment_id=attachment_id
        )
        if attachment.status != Attachment.Status.READY:
            raise ApplicationError(
                _("This attachment is not ready."), code="not_ready", status=409
            )
        return attachment_download_response(
            attachment,
            range_header=request.META.get("HTTP_RANGE"),
            if_range=request.META.get("HTTP_IF_RANGE"),
        )
