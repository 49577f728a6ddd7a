"""DRF content negotiation with a shortcut for the requests every client sends.

DRF's ``DefaultContentNegotiation`` parses the ``Accept`` header into media
types and matches them against each renderer on every request: ~6 % of an
authenticated document read's Python time (BENCHMARKS.md, "docspeed"). Nearly
every API request sends no ``Accept`` header, ``*/*`` or exactly the first
renderer's media type, and no ``?format=``; for those DRF's answer is always
the first renderer with its own media type, which is returned here without
parsing. Any other request (a list of types, parameters, quality values, a
format override or suffix, an empty header) is negotiated by DRF as before,
406 included.
"""

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation; the common ``Accept`` values skip the parsing."""

    def select_renderer(
        self,
        request: Request,
        renderers: list[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        """Return ``(renderer, media type)`` as DRF would, directly when obvious."""
        if renderers and format_suffix is None:
            first = renderers[0]
            media_type: Any = first.media_type
            accept = request.META.get("HTTP_ACCEPT")
            if (
                (accept is None or accept in ("*/*", media_type))
                and ";" not in media_type
                and "*" not in media_type
                and not self._format_requested(request)
            ):
                return first, media_type
        return super().select_renderer(request, renderers, format_suffix)

    def _format_requested(self, request: Request) -> bool:
        """Return whether the query string may name a format (``?format=``)."""
        if not request.META.get("QUERY_STRING"):
            return False
        return bool(request.query_params.get(self.settings.URL_FORMAT_OVERRIDE))
