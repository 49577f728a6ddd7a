"""The test suite's JSON renderer: production's, checked against DRF's on every answer.

``project.renderers.JSONRenderer`` encodes with orjson where DRF encodes with
the standard library. Every API answer the suite renders goes through both;
a different JSON value fails the test that made the request, whichever it
is. The bytes may differ only where JSON allows two spellings of one value
(orjson writes ``1e-5`` where Python writes ``1e-05``).
"""

import json
from typing import Any

from rest_framework import renderers

from project.renderers import JSONRenderer


class RendererDrift(AssertionError):
    """The fast renderer wrote other bytes than DRF's for the same data."""


class CheckedJSONRenderer(JSONRenderer):
    """Render with production's renderer; fail if DRF's renders other bytes."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        """Return production's bytes after comparing them with DRF's."""
        fast = super().render(data, accepted_media_type, renderer_context)
        slow = renderers.JSONRenderer().render(
            data, accepted_media_type, renderer_context
        )
        if fast != slow and json.loads(fast) != json.loads(slow):
            raise RendererDrift(f"orjson wrote {fast[:300]!r}, DRF {slow[:300]!r}")
        return fast
