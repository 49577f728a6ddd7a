"""Request parsers with a size limit and a nesting limit.

DRF's JSON parser reads the request stream directly, which bypasses Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` check (only ``request.body`` and form parsing
enforce it). This parser applies the same limit and answers 413 ``too_large``.

JSON nested deeper than the interpreter's recursion limit (about 1,000
levels, a 2 KB body) makes ``json`` raise ``RecursionError``, which DRF does
not catch (a 500): it is a 400 ``parse_error`` here, like any malformed body.
"""

import io
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError


class RequestTooLarge(APIException):
    """The request body is larger than the API accepts."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("Request body is too large.")
    default_code = "too_large"


NESTED_TOO_DEEPLY = _("JSON parse error - nested too deeply.")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        """Parse as below; JSON nested too deeply is a 400 ``parse_error``."""
        try:
            return self.parse_bounded(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(NESTED_TOO_DEEPLY) from None

    def parse_bounded(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        """Check the declared and the actual size, then parse as DRF does."""
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and stream is not None:
            request = (parser_context or {}).get("request")
            declared = request.META.get("CONTENT_LENGTH") if request else None
            if declared and declared.isdigit() and int(declared) > limit:
                raise RequestTooLarge()
            content = stream.read(limit + 1)
            if len(content) > limit:
                raise RequestTooLarge()
            return super().parse(io.BytesIO(content), media_type, parser_context)
        return super().parse(stream, media_type, parser_context)
