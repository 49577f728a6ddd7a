"""Export and import endpoints: thin views over documents.exports and .imports."""

from django.http import HttpResponse
from django.utils.http import content_disposition_header

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.views import APIView

from documents import exports, selectors
from project.schema import error_responses

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
    **error_responses(400, 404, 500, 503),
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

    def export(self, request: Request, document_id: str, title: str, body: str):
        filters = ExportFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        exported = exports.document_export(
            document_id=document_id,
            title=title,
            body=body,
            export_format=filters.validated_data["format"],
            base_url=request.build_absolute_uri("/"),
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
        document = selectors.document_get_for_user(
            user=request.user, document_id=document_id
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
