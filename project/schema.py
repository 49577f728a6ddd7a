"""OpenAPI pieces shared by every app: naming, error shapes, common errors.

The bearer scheme (``bearerAuth``) is declared next to the authentication
class, in ``accounts/schema.py``.

Each operation says what it is for and what it may answer with an
:class:`ApiDoc` on its view method, next to the ``extend_schema`` that
declares what it takes and returns::

    @ApiDoc(
        tag="documents",
        summary="Move a document to the trash",
        description="...written for API users...",
        errors={403: ["owner_only"], 404: ["not_found"]},
    )
    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request): ...

``errors`` lists each status the view itself may answer with its ``code``
values; :func:`add_error_responses` adds the ones every operation of a kind
shares (401 and 503 ``auth_not_configured`` with a token, 429, 414, a body's
400/413/415, ``Idempotency-Key``'s 400/409/422). Every error response is the
shared ``Error`` (``ValidationError`` for 400) component with its ``code``
narrowed to an enum. ``project/tests/test_schema_truth.py`` fails when an
operation has no tag, summary or description, and when a view answers a
status or code its operation does not declare. The schema stays
warning-free (``project/tests/test_schema.py`` runs ``spectacular --validate
--fail-on-warn``).
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from project.apitags import API_TAGS
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
    400: "Invalid input or a malformed request.",
    401: "No token, or an invalid, expired or revoked one (`WWW-Authenticate` "
    "says which).",
    403: "Signed in and able to see the resource, but not allowed to do this.",
    404: "Not found, or not visible to the caller (never a 403: no existence leaks).",
    405: "Method not allowed.",
    406: "The `Accept` header names no type this operation answers.",
    409: "Conflict with the resource's current state.",
    412: "Stale `If-Match`: the document changed. `current` carries the "
    "current version and the `ETag` header its tag.",
    413: "The request, the file or the document is too large, or a quota is used up.",
    414: "The URL (path and query string) is too long.",
    415: "The request's or the file's media type is not accepted here.",
    416: "The `Range` is outside the file (no body; `Content-Range` gives the size).",
    422: "`Idempotency-Key` reused with a different request.",
    428: "`If-Match` is required: send the `ETag` from a `GET`.",
    429: "Too many requests, or an AI quota is used up; wait `Retry-After` seconds.",
    500: "The server failed (`server_error`, nothing about it revealed), or a "
    "file conversion failed.",
    502: "The AI provider failed.",
    503: "A dependency (storage, identity, AI provider) is unavailable or not "
    "configured; `Retry-After` when it is worth retrying.",
    504: "The AI provider timed out.",
}

# Error codes any operation of a kind may answer; added by add_error_responses
# so that each view declares only what is its own.
AUTH_ERROR_CODES = (
    "not_authenticated",
    "token_invalid",
    "token_expired",
    "token_revoked",
    "user_inactive",
    "account_deleted",
)
BODY_ERROR_CODES = {
    400: ("invalid", "parse_error"),
    413: ("too_large",),
    415: ("unsupported_media_type",),
}
IDEMPOTENCY_ERROR_CODES = {
    400: ("idempotency_key_invalid",),
    409: ("idempotency_in_progress",),
    422: ("idempotency_key_reused",),
}
URL_TOO_LONG_CODE = "url_too_long"
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_RETRY_AFTER_STATUSES = {"429", "503"}


class ErrorSerializer(serializers.Serializer):
    """Every API error: a human ``detail`` and a machine-readable ``code``."""

    detail = serializers.CharField()
    code = serializers.CharField()


class ValidationErrorSerializer(ErrorSerializer):
    """A 400 ``invalid`` error: ``fields`` maps each field to its messages."""

    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def error_schema(
    codes: Iterable[str],
    *,
    status: int = 0,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the schema of an error whose ``code`` is one of ``codes``.

    The shared ``Error`` (``ValidationError`` for 400) component, narrowed to
    the operation's own codes; ``properties`` adds the extra members a code
    carries (``current`` of a 412, ``max_bytes`` of a 413...).
    """
    base = "ValidationError" if status == 400 else "Error"
    return {
        "allOf": [
            {"$ref": f"#/components/schemas/{base}"},
            {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": sorted(set(codes))},
                    **(properties or {}),
                },
            },
        ]
    }


def error_codes(
    declared: dict[int, Iterable[str]],
    *,
    properties: dict[int, dict[str, Any]] | None = None,
) -> dict[int, OpenApiResponse]:
    """Return ``extend_schema(responses=...)`` entries: each status, its codes.

    For views that declare their texts in ``extend_schema`` itself;
    :class:`ApiDoc` ``errors`` is the same thing.
    """
    properties = properties or {}
    return {
        status: OpenApiResponse(
            response=error_schema(
                codes, status=status, properties=properties.get(status)
            ),
            description=ERROR_DESCRIPTIONS.get(status, "Error."),
        )
        for status, codes in declared.items()
    }


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Return error entries whose ``code`` is not narrowed (any string)."""
    return {
        status: OpenApiResponse(
            response=ValidationErrorSerializer if status == 400 else ErrorSerializer,
            description=ERROR_DESCRIPTIONS.get(status, "Error."),
        )
        for status in statuses
    }


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class ApiDoc:
    """What an operation is for and which errors it answers (see module doc).

    ``errors`` maps each status the view itself may answer to its ``code``
    values; ``error_properties`` the extra members an error body carries,
    per status (e.g. ``current`` of a 412).
    """

    tag: str
    summary: str
    description: str
    errors: dict[int, tuple[str, ...] | list[str]] = field(default_factory=dict)
    error_properties: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tag not in API_TAGS:
            raise ValueError(f"Unknown OpenAPI tag {self.tag!r}")

    def __call__(self, view_method: Callable[..., Any]) -> Callable[..., Any]:
        """Attach this documentation to a view method (returned unchanged)."""
        view_method.api_doc = self  # type: ignore[attr-defined]
        return view_method

    def apply(self, operation: dict[str, Any]) -> None:
        """Write the tag, texts and declared errors into an OpenAPI operation."""
        operation["tags"] = [self.tag]
        operation["summary"] = self.summary
        operation["description"] = self.description
        responses = operation.setdefault("responses", {})
        for status, codes in self.errors.items():
            add_error_codes(
                responses,
                status,
                codes,
                properties=self.error_properties.get(status),
            )


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

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        """Return the operation with its :class:`ApiDoc` applied, if it has one."""
        operation = super().get_operation(*args, **kwargs)
        handler = getattr(self.view, self.method.lower(), None)
        doc = getattr(handler, "api_doc", None)
        if operation is not None and doc is not None:
            doc.apply(operation)
        return operation

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
    "description": "Every API error: a human `detail` and a machine-readable "
    "`code` (each operation lists the codes it may answer).",
    "properties": {
        "detail": {"type": "string", "example": "Document not found."},
        "code": {"type": "string", "example": "not_found"},
    },
    "required": ["detail", "code"],
}
_VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "A 400: `fields` maps each invalid field to its messages.",
    "properties": {
        **_ERROR_SCHEMA["properties"],
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["detail", "code"],
}
_METHODS = ("get", "put", "patch", "post", "delete")


def _codes_enum(response: dict[str, Any]) -> list[str] | None:
    """Return the (mutable) ``code`` enum of an error response, if narrowed."""
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if not isinstance(schema, dict) or len(schema.get("allOf", ())) != 2:
        return None
    return schema["allOf"][1].get("properties", {}).get("code", {}).get("enum")


def add_error_codes(
    responses: dict[str, Any],
    status: int,
    codes: Iterable[str],
    *,
    properties: dict[str, Any] | None = None,
) -> None:
    """Declare ``codes`` for ``status``: a new response, or more codes on one."""
    key = str(status)
    if key not in responses:
        schema = error_schema(codes, status=status, properties=properties)
        responses[key] = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": schema}},
        }
    else:
        enum = _codes_enum(responses[key])
        if enum is not None:
            enum[:] = sorted(set(enum) | set(codes))
        else:
            _narrow(responses[key], codes)
    if key in _RETRY_AFTER_STATUSES:
        responses[key].setdefault("headers", {}).update(RETRY_AFTER_HEADER)


def _narrow(response: dict[str, Any], codes: Iterable[str]) -> None:
    """Narrow ``code`` of a response the view declared with its own shape.

    A view may declare an error body of its own (a 412 carrying the current
    document and merge conflicts); its codes are added as for any error.
    """
    media = response.get("content", {}).get("application/json")
    if media is None or "schema" not in media:
        return
    codes_schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "enum": sorted(set(codes))}},
    }
    media["schema"] = {"allOf": [media["schema"], codes_schema]}


def is_secured(operation: dict[str, Any]) -> bool:
    """Return whether the operation needs a token (no anonymous alternative)."""
    security = operation.get("security", [])
    return bool(security) and {} not in security


def takes_token(operation: dict[str, Any]) -> bool:
    """Return whether the operation reads a token if one is sent (bad: 401)."""
    return any(operation.get("security", []))


def add_common_errors(operation: dict[str, Any], *, drf: bool = True) -> None:
    """Declare the errors every operation of its kind may answer.

    404 ``not_found`` with path parameters (an unmatched path); 401 and 503
    ``auth_not_configured`` when it reads a token; 414 for an
    overlong URL; for a DRF view (``drf``), 429 ``throttled`` and for a body
    the parsers' 400/413/415 (a plain view's body only its 400); for an
    ``Idempotency-Key``, its 400/409/422.
    """
    responses = operation.setdefault("responses", {})
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        # A path the URL patterns do not match (Django's 404, JSON under /api/).
        add_error_codes(responses, 404, ["not_found"])
    if takes_token(operation):
        add_error_codes(responses, 401, AUTH_ERROR_CODES)
        add_error_codes(responses, 503, ["auth_not_configured"])
    if drf:
        add_error_codes(responses, 429, ["throttled"])
    add_error_codes(responses, 414, [URL_TOO_LONG_CODE])
    if "requestBody" in operation:
        for status, codes in BODY_ERROR_CODES.items():
            if drf or status == 400:
                add_error_codes(responses, status, codes)
    names = {p.get("name") for p in operation.get("parameters", [])}
    if "Idempotency-Key" in names:
        for status, codes in IDEMPOTENCY_ERROR_CODES.items():
            add_error_codes(responses, status, codes)


def add_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Postprocessing hook: the shared error components and common errors.

    Runs over the operations drf-spectacular found (DRF views); the async AI
    operations are added complete by ``aiproxy.schema.add_ai_operations``.
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", _ERROR_SCHEMA)
    schemas.setdefault("ValidationError", _VALIDATION_ERROR_SCHEMA)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in _METHODS:
                add_common_errors(operation)
                describe_path_parameters(operation)
                sort_responses(operation)
    return result


PATH_PARAMETER_DOCS = {
    "document_id": "The document's id (a UUID, as in its `id`).",
    "attachment_id": "The attachment's id (a UUID, as in its `id`).",
    "access_id": "The grant's id (a UUID, as in its `id`).",
    "number": "The revision's number (1 is the document's first version).",
    "name": "The model's name, as listed by `GET /ai/models`.",
    "link_id": "The share link's id (a UUID, as in its `id`).",
    "secret": "The link's secret, as returned once when the link was created.",
}


def describe_path_parameters(operation: dict[str, Any]) -> None:
    """Describe the path parameters that the URL converters leave bare."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and not parameter.get("description"):
            parameter["description"] = PATH_PARAMETER_DOCS.get(parameter["name"], "")


def sort_responses(operation: dict[str, Any]) -> None:
    """Order an operation's responses by status code."""
    responses = operation.get("responses", {})
    operation["responses"] = dict(sorted(responses.items()))
