"""OpenAPI pieces shared by every app: naming, error shapes, common errors.

The bearer scheme (``bearerAuth``) is declared next to the authentication
class, in ``accounts/schema.py``.

Other apps keep the schema warning-free (``project/tests/test_schema.py``
runs ``spectacular --validate --fail-on-warn``) by declaring what their
``APIView`` methods take and return::

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer,
                   **error_responses(404, 409)})
    def post(self, request): ...

Every operation gets the ``Error`` component for 429 (throttled), and 401 when
it requires a token, 400 ``ValidationError`` when it has a body; add the
status codes specific to an operation with ``error_responses(...)``.
"""

import re
from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from project.idempotency import KEY_PATTERN

IDEMPOTENCY_HEADER_DOC = (
    "Optional, at most 255 printable ASCII characters. A retry with the same key "
    "and the same request returns the first response (header "
    "`Idempotent-Replayed: true`) instead of running it again; the same key "
    "with a different request is 422 `idempotency_key_reused`; while the first "
    "request is still running, 409 `idempotency_in_progress`. Keys expire "
    "after 24 hours."
)

ERROR_DESCRIPTIONS = {
    400: "Invalid input or malformed request (codes: invalid, parse_error, ...).",
    401: "No token, or an invalid, expired or revoked one.",
    403: "Signed in but not allowed.",
    404: "Not found, or not visible to the caller.",
    405: "Method not allowed.",
    409: "Conflict with the current state (e.g. idempotency_in_progress).",
    412: "Stale If-Match; the body carries the current version.",
    413: "Request or file too large.",
    415: "Unsupported media type.",
    422: "Idempotency-Key reused with a different request.",
    428: "If-Match required.",
    429: "Rate or quota exceeded; see Retry-After.",
    502: "Upstream failed.",
    503: "A dependency is down or a feature is not configured.",
    504: "Upstream timed out.",
}


class ErrorSerializer(serializers.Serializer):
    """Every API error: a human ``detail`` and a machine-readable ``code``."""

    detail = serializers.CharField()
    code = serializers.CharField()


class ValidationErrorSerializer(ErrorSerializer):
    """A 400 ``invalid`` error: ``fields`` maps each field to its messages."""

    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Return ``extend_schema(responses=...)`` entries for error status codes."""
    return {
        status: OpenApiResponse(
            response=ValidationErrorSerializer if status == 400 else ErrorSerializer,
            description=ERROR_DESCRIPTIONS.get(status, "Error."),
        )
        for status in statuses
    }


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class AutoSchema(SpectacularAutoSchema):
    """Name things after our API classes; document ``Idempotency-Key``.

    The style guide nests ``InputSerializer``/``OutputSerializer`` in every API
    class, so components are named after the enclosing class
    (``DocumentCreateApi.InputSerializer`` -> ``DocumentCreateInput``), and
    operation ids after the class and method (``document_create_post``).
    """

    def get_serializer_name(self, serializer: Any, direction: str) -> str:
        """Prefix nested serializer names with their enclosing classes.

        ``UsageApi.OutputSerializer.ModelUsage`` -> ``UsageOutputModelUsage``.
        """
        *outer, inner = serializer.__class__.__qualname__.split(".")
        if outer and "<locals>" not in outer:
            prefix = "".join(
                part.removesuffix("Api").removesuffix("Serializer") for part in outer
            )
            return prefix + inner
        return super().get_serializer_name(serializer, direction)

    def get_operation_id(self) -> str:
        """Return ``<api class in snake_case>_<method>`` for our API classes."""
        name = self.view.__class__.__name__
        if name.endswith("Api"):
            return f"{_snake(name.removesuffix('Api'))}_{self.method.lower()}"
        return super().get_operation_id()

    def get_override_parameters(self) -> list[Any]:
        """Return the view's parameters plus ``Idempotency-Key`` when honoured."""
        parameters = list(super().get_override_parameters())
        handler = getattr(self.view, self.method.lower(), None)
        if getattr(handler, "idempotent", False):
            parameters.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    str,
                    OpenApiParameter.HEADER,
                    required=False,
                    description=IDEMPOTENCY_HEADER_DOC,
                    pattern=KEY_PATTERN,
                )
            )
        return parameters


_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
}
_VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        **_ERROR_SCHEMA["properties"],
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["detail", "code"],
}


def _error_ref(name: str, status: int) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
        },
    }


def add_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Postprocessing hook: add the shared error components and common errors."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", _ERROR_SCHEMA)
    schemas.setdefault("ValidationError", _VALIDATION_ERROR_SCHEMA)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "put", "patch", "post", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("400", _error_ref("ValidationError", 400))
            security = operation.get("security", [])
            if security and {} not in security:
                responses.setdefault("401", _error_ref("Error", 401))
            responses.setdefault("429", _error_ref("Error", 429))
    return result
