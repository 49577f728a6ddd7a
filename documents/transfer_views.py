"""Export and import endpoints: thin views over documents.exports and .imports."""

from io import BytesIO

from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import exports, imports, selectors
from documents.links.selectors import share_link_open
from documents.serializers import DocumentOutputSerializer, document_data
from project.exceptions import ApplicationError
from project.fields import SINGLE_LINE_PATTERN, StrictCharField
from project.idempotency import idempotent
from project.schema import error_codes

# Room for multipart boundaries, part headers and the title field.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
FILE_FIELD = "file"

EXPORT_DESCRIPTION = (
    "The document as a file, for anyone who can read it (viewers too). "
    "`md` is the body as stored; `html` is a standalone page, sanitised (no "
    "scripts, styles or event handlers survive from the body), with links "
    "made absolute and the document's attachments listed with their download "
    "URLs; `pdf` is that page rendered by WeasyPrint; `docx` comes from "
    "pandoc (images become links to their attachments). The file name comes "
    "from the title (`Content-Disposition: attachment`)."
)
EXPORT_RESPONSES = {
    **{
        (200, content_type.split(";")[0]): OpenApiResponse(
            OpenApiTypes.BINARY, description=f"The `{name}` file."
        )
        for name, (content_type, _ext) in exports.FORMATS.items()
    },
    **error_codes(
        {
            400: ("invalid",),
            404: ("not_found",),
            500: ("conversion_failed",),
            503: ("conversion_timeout",),
        }
    ),
}


class JSONErrorsNegotiation(BaseContentNegotiation):
    """Pick the view's JSON renderer whatever ``?format=`` says.

    DRF reads ``?format=`` as a renderer override and answers 404 for a
    format it has no renderer for; here ``format`` names the exported file,
    which the view returns as a plain ``HttpResponse``, and only errors are
    rendered (as JSON).
    """

    def select_parser(self, request, parsers):  # noqa: D102
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):  # noqa: D102
        return renderers[0], renderers[0].media_type


class ExportFilterSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=list(exports.FORMATS))


def export_response(exported: exports.ExportFile) -> HttpResponse:
    """Return the exported file as a download that no browser runs as a page."""
    response = HttpResponse(exported.content, content_type=exported.content_type)
    response["Content-Disposition"] = content_disposition_header(
        True, exported.filename
    )
    response["Content-Length"] = str(len(exported.content))
    response["X-Content-Type-Options"] = "nosniff"
    # An exported page opened from the API's origin runs nothing and loads
    # only images; it is sanitised already, this is the second lock.
    response["Content-Security-Policy"] = (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; sandbox"
    )
    response["Cache-Control"] = "private, no-store"
    return response


class ExportApiMixin:
    content_negotiation_class = JSONErrorsNegotiation
    throttle_scope = "convert"

    def export(
        self,
        request: Request,
        document_id: str,
        title: str,
        body: str,
        *,
        with_attachments: bool = True,
    ) -> HttpResponse:
        filters = ExportFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        exported = exports.document_export(
            document_id=document_id,
            title=title,
            body=body,
            export_format=filters.validated_data["format"],
            base_url=request.build_absolute_uri("/"),
            with_attachments=with_attachments,
        )
        return export_response(exported)


class DocumentExportApi(ExportApiMixin, APIView):
    @extend_schema(
        operation_id="v1_documents_export",
        summary="Export a document",
        description=EXPORT_DESCRIPTION,
        parameters=[ExportFilterSerializer],
        responses=EXPORT_RESPONSES,
        tags=["documents"],
    )
    def get(self, request: Request, document_id: str) -> HttpResponse:
        # As reading it: the owner may export a document from the trash.
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id, include_trashed=True
        )
        return self.export(request, document.pk, document.title, document.body)


class RevisionExportApi(ExportApiMixin, APIView):
    @extend_schema(
        operation_id="v1_documents_revisions_export",
        summary="Export one revision of a document",
        description=EXPORT_DESCRIPTION.replace("The document", "The revision", 1),
        parameters=[ExportFilterSerializer],
        responses=EXPORT_RESPONSES,
        tags=["documents"],
    )
    def get(self, request: Request, document_id: str, number: int) -> HttpResponse:
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id
        )
        revision = selectors.revision_get(document=document, number=number)
        return self.export(request, document.pk, revision.title, revision.body)


class ShareLinkExportApi(ExportApiMixin, APIView):
    """A document exported through its share link, by anyone the link admits."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="v1_links_export",
        summary="Export a document through its share link",
        description=(
            "As the document's own export, for anyone the link admits (no "
            "account for an `anyone` link; 401 without one for a `signed_in` "
            "link). A revoked, expired or unknown secret answers 404. The "
            "document's attachments are neither listed nor embedded: a link "
            "opens the document, not its files. Counted per client IP when "
            "anonymous (scope `convert`)."
        ),
        parameters=[ExportFilterSerializer],
        auth=[{}, {"bearerAuth": []}],
        responses={**EXPORT_RESPONSES, **error_codes({401: ("not_authenticated",)})},
        tags=["sharing"],
    )
    def get(self, request: Request, secret: str) -> HttpResponse:
        document = share_link_open(secret=secret, user=request.user)
        return self.export(
            request,
            document.pk,
            document.title,
            document.body,
            with_attachments=False,
        )


class BoundedMemoryUploadHandler(FileUploadHandler):
    """Keep the uploaded file in memory, refusing it past ``max_bytes``.

    Django's default handlers would spool a large file to disk first; an
    import is at most ``DOCUMENTS_IMPORT_MAX_BYTES``, so it is read into
    memory and the request stops as soon as the limit is passed.
    """

    def __init__(self, request, *, max_bytes: int) -> None:  # noqa: D107
        super().__init__(request)
        self.max_bytes = max_bytes
        self.buffer: BytesIO | None = None
        self.size = 0

    def new_file(self, field_name, *args, **kwargs) -> None:  # noqa: D102
        super().new_file(field_name, *args, **kwargs)
        if field_name == FILE_FIELD:
            self.buffer = BytesIO()
            self.size = 0
            raise StopFutureHandlers()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:  # noqa: D102
        if self.buffer is None:
            return None  # another file field: ignored
        self.size += len(raw_data)
        if self.size > self.max_bytes:
            raise imports.too_large_error(self.max_bytes)
        self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile | None:  # noqa: D102
        if self.buffer is None:
            return None
        buffer, self.buffer = self.buffer, None
        buffer.seek(0)
        return InMemoryUploadedFile(
            file=buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=self.size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


class ImportOutputSerializer(DocumentOutputSerializer):
    attachments = serializers.ListField(
        child=serializers.UUIDField(),
        help_text="The attachments made from the file's images.",
    )
    skipped_images = serializers.IntegerField(
        help_text="Images left out: a type attachments do not allow, or "
        "not carried by the file (their alt text stays)."
    )


class DocumentImportApi(APIView):
    parser_classes = [MultiPartParser]
    throttle_scope = "convert"

    class InputSerializer(serializers.Serializer):
        title = StrictCharField(
            max_length=200, allow_blank=True, single_line=True, required=False
        )

    @extend_schema(
        operation_id="v1_documents_import",
        summary="Import a file as a new document",
        description=(
            "Multipart, the file in the field `file` (at most "
            "`DOCUMENTS_IMPORT_MAX_BYTES`, 10 MB by default) and an optional "
            "`title` (else the file's own title, else its name). Markdown "
            "and plain text (UTF-8) become the body as they are; HTML is "
            "sanitised (scripts and styles dropped) and converted to "
            "Markdown; a Word file (`.docx`) is converted by pandoc after its "
            "parts are unpacked within `DOCUMENTS_IMPORT_MAX_UNPACKED_BYTES`. "
            "The type comes from the bytes (the declared type or extension "
            "only chooses among them). Images carried by the file (Word "
            "media, HTML `data:` URIs) become attachments, within the "
            "attachment limits and quota. On any error nothing is created."
        ),
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "title": {
                        "type": "string",
                        "maxLength": 200,
                        "pattern": SINGLE_LINE_PATTERN,
                    },
                },
                "required": ["file"],
            }
        },
        responses={
            201: ImportOutputSerializer,
            **error_codes(
                {
                    400: ("file_missing", "invalid"),
                    413: ("too_large", "quota_exceeded"),
                    415: ("unsupported_type", "invalid_encoding", "multipart_required"),
                    503: ("conversion_timeout", "storage_unavailable"),
                }
            ),
        },
        tags=["documents"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        limit = imports.import_max_bytes()
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit + MULTIPART_OVERHEAD_BYTES:
            raise imports.too_large_error(limit)
        if not request.content_type.startswith("multipart/form-data"):
            raise ApplicationError(
                _("Send the file as multipart/form-data in the field 'file'."),
                code="multipart_required",
                status=415,
            )
        request._request.upload_handlers = [
            BoundedMemoryUploadHandler(request._request, max_bytes=limit)
        ]
        upload = request.FILES.get(FILE_FIELD)
        if upload is None:
            raise ApplicationError(
                _("Send the file in the multipart field 'file'."),
                code="file_missing",
                status=400,
            )
        incoming = self.InputSerializer(data={"title": request.POST.get("title", "")})
        incoming.is_valid(raise_exception=True)
        result = imports.document_import(
            user=request.user,
            filename=upload.name or "",
            declared_type=upload.content_type or "",
            data=upload.read(),
            title=incoming.validated_data["title"],
        )
        body = document_data(result.document)
        body["attachments"] = [str(row.pk) for row in result.attachments]
        body["skipped_images"] = result.skipped_images
        location = reverse("documents:document-detail", args=[result.document.pk])
        return Response(
            body,
            status=status.HTTP_201_CREATED,
            headers={
                "Location": request.build_absolute_uri(location),
                "ETag": f'"{result.document.version}"',
            },
        )
