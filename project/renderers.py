"""The API's JSON renderer: DRF's ``JSONRenderer``, encoded by orjson.

Encoding a list page with the standard library's ``json`` cost 14 % of the
request's instructions (BENCHMARKS.md, "decisions and shortcuts"); orjson
encodes the same data in C, date-times and UUIDs included. The bytes are DRF's: compact separators, non-ASCII as UTF-8,
U+2028 and U+2029 escaped, ``Z`` for UTC, and anything orjson does not know
(lazy translations, decimals, …) converted by DRF's own encoder. What orjson
cannot write the same way (an ``indent`` asked for in ``Accept``, an
integer past 64 bits, nesting deeper than orjson's limit) goes through
DRF's renderer unchanged. In the test suite every API answer is rendered
both ways and compared (``project.testing.CheckedJSONRenderer``).
"""

from typing import Any

import orjson
from rest_framework import renderers

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
# DRF escapes these two so that the JSON is also valid JavaScript.
_LINE_SEPARATOR, _PARAGRAPH_SEPARATOR = "\u2028".encode(), "\u2029".encode()


class JSONRenderer(renderers.JSONRenderer):
    """Render like ``rest_framework.renderers.JSONRenderer``, with orjson."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        """Return ``data`` as DRF's compact JSON bytes (``b""`` for ``None``)."""
        if data is None:
            return b""
        if (
            self.ensure_ascii
            or not self.compact
            or not self.strict
            or self.get_indent(accepted_media_type, renderer_context or {}) is not None
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            content = orjson.dumps(data, default=_drf_default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if _LINE_SEPARATOR in content or _PARAGRAPH_SEPARATOR in content:
            content = content.replace(_LINE_SEPARATOR, b"\\u2028").replace(
                _PARAGRAPH_SEPARATOR, b"\\u2029"
            )
        return content


def _drf_default(value: Any) -> Any:
    """Convert what orjson does not know as DRF's encoder does."""
    return _DRF_ENCODER.default(value)


_DRF_ENCODER = renderers.JSONRenderer.encoder_class()
