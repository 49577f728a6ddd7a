"""OpenAPI for the async AI routes, which drf-spectacular cannot see.

Chat completions and document actions are async Django views (served on the
ASGI worker, not DRF views), so the generator finds no operation for them.
This postprocessing hook adds both, described by hand from the OpenAI wire
format we accept (``aiproxy.wire``) and the document action options
(``aiproxy.views.DocumentActionApi``). It runs after
``project.schema.add_error_responses`` and declares the errors of these
views itself (their :class:`~project.schema.ApiDoc` plus the common ones
of a plain, non-DRF view).
"""

from typing import Any

from django.conf import settings

from aiproxy.prompts import LENGTHS, TASKS, TONES
from project.schema import ApiDoc, add_common_errors, sort_responses

_MESSAGE = {
    "type": "object",
    "properties": {
        "role": {
            "type": "string",
            "enum": ["system", "developer", "user", "assistant"],
        },
        "content": {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "enum": ["text"]},
                            "text": {"type": "string"},
                        },
                        "required": ["type", "text"],
                    },
                    "minItems": 1,
                },
            ]
        },
        "name": {"type": "string", "minLength": 1, "maxLength": 64, "nullable": True},
    },
    "required": ["role", "content"],
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _chat_request() -> dict[str, Any]:
    """Return the chat-completions request, with this server's limits.

    As in OpenAI's API, an optional field sent as ``null`` is taken as left
    out (``aiproxy.wire``), so each one is ``nullable``.
    """
    max_tokens = {
        "type": "integer",
        "minimum": 1,
        "maximum": settings.AI_MAX_TOKENS_CAP,
    }
    stop = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "description": "OpenAI chat-completions request (`n` must be 1; tools, "
        "functions and logprobs are refused with 400).",
        "properties": {
            "model": {
                "type": "string",
                "pattern": r"\S",
                "description": "A name from `GET /ai/models`.",
            },
            "messages": {
                "type": "array",
                "items": _MESSAGE,
                "minItems": 1,
                "maxItems": settings.AI_MAX_MESSAGES,
            },
            "stream": _nullable({"type": "boolean", "default": False}),
            "stream_options": _nullable(
                {
                    "type": "object",
                    "properties": {"include_usage": {"type": "boolean"}},
                }
            ),
            "max_tokens": _nullable(max_tokens),
            "max_completion_tokens": _nullable(max_tokens),
            "temperature": _nullable({"type": "number", "minimum": 0, "maximum": 2}),
            "top_p": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
            "stop": _nullable(
                {"oneOf": [stop, {"type": "array", "items": stop, "maxItems": 4}]}
            ),
            "user": _nullable({"type": "string"}),
        },
        "required": ["model", "messages"],
        "example": {
            "model": "quire-mock",
            "messages": [
                {"role": "system", "content": "You are a concise editor."},
                {
                    "role": "user",
                    "content": "Suggest a title for a plan to ship the docs.",
                },
            ],
            "max_tokens": 60,
            "temperature": 0.7,
        },
    }


_USAGE = {
    "type": "object",
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
    },
}

_CHAT_COMPLETION = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["chat.completion"]},
        "created": {"type": "integer"},
        "model": {"type": "string"},
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "message": {
                        "type": "object",
                        "properties": {
                            "role": {"type": "string", "enum": ["assistant"]},
                            "content": {"type": "string"},
                        },
                    },
                    "finish_reason": {"type": "string", "nullable": True},
                },
            },
        },
        "usage": {"$ref": "#/components/schemas/ChatCompletionUsage"},
    },
}

_ACTION_ANSWER = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": sorted(TASKS)},
        "document": {"type": "string", "format": "uuid"},
        "version": {
            "type": "integer",
            "description": "The document version the answer was made from.",
        },
        "model": {"type": "string"},
        "content": {"type": "string", "description": "The AI's answer."},
        "finish_reason": {"type": "string", "nullable": True},
        "usage": {"$ref": "#/components/schemas/ChatCompletionUsage"},
    },
    "required": [
        "action",
        "document",
        "version",
        "model",
        "content",
        "finish_reason",
        "usage",
    ],
    "example": {
        "action": "summarize",
        "document": "0f8c3f8e-4f4e-4b7a-9d55-2b8f3a1c6d21",
        "version": 3,
        "model": "quire-mock",
        "content": "The plan ships the API docs this week.",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 112, "completion_tokens": 9, "total_tokens": 121},
    },
}

_ACTION_REQUEST = {
    "type": "object",
    "properties": {
        "model": {"type": "string", "pattern": r"\S", "maxLength": 100},
        "stream": {"type": "boolean", "default": False},
        "max_tokens": {"type": "integer", "minimum": 1},
        "target_language": {
            "type": "string",
            "pattern": r"\S",
            "maxLength": 50,
            "description": "Required to translate.",
        },
        "tone": {"type": "string", "enum": list(TONES), "default": "neutral"},
        "length": {"type": "string", "enum": list(LENGTHS), "default": "medium"},
        "instructions": {"type": "string", "maxLength": 500},
    },
    "example": {"max_tokens": 200, "length": "short", "tone": "neutral"},
}

# One event of the stream, as a client (and schemathesis, and OpenAPI 3.2's
# itemSchema) reads it: each `data:` payload is a JSON object, the last one
# `[DONE]`.
_SSE = {
    "text/event-stream": {
        "schema": {
            "type": "object",
            "description": "Each server-sent event: `data: {chat.completion.chunk}` "
            'events (after a failure mid-stream, `data: {"error": {...}}`), then '
            "`data: [DONE]`.",
            "required": ["data"],
            "properties": {
                "event": {"type": "string"},
                "data": {"type": "string", "pattern": r"^(\[DONE\]|\{.*\})$"},
            },
        }
    }
}


_AI_ERRORS = {
    400: ("invalid", "context_length_exceeded"),
    404: ("model_not_found",),
    413: ("request_too_large",),
    429: ("quota_exceeded", "rate_limited"),
    502: ("upstream_error",),
    503: ("ai_not_configured",),
    504: ("upstream_timeout",),
}
_QUOTA = {
    "tokens_remaining": {
        "type": "integer",
        "description": "Tokens left this month (quota_exceeded).",
    },
    "tokens_requested": {
        "type": "integer",
        "description": "Tokens the request would need (quota_exceeded).",
    },
}

CHAT_COMPLETION = ApiDoc(
    tag="ai",
    summary="Create a chat completion",
    description=(
        "OpenAI's chat-completions wire format: point the official `openai` "
        "SDK's `base_url` at `/api/v1/ai` with your Quire token as the key. "
        "`model` is a name from `GET /ai/models`. With `stream: true` the "
        "answer is a server-sent event stream of `chat.completion.chunk` "
        "events ending with `data: [DONE]`. Each request reserves tokens "
        "from the caller's monthly quota (`GET /ai/usage`); tools, functions, "
        "logprobs and `n` other than 1 are refused."
    ),
    errors={**_AI_ERRORS, 400: (*_AI_ERRORS[400], "too_many_messages")},
    error_properties={429: _QUOTA},
)
DOCUMENT_ACTION = ApiDoc(
    tag="ai",
    summary="Run an AI action on a document",
    description=(
        "Summarize, rewrite, translate or continue a document the caller can "
        "read, from its current text. The answer is returned, never written "
        "into the document: save it with `PATCH /documents/{id}/` if wanted. "
        "`translate` needs `target_language`. With `stream: true` the answer "
        "is a server-sent event stream, as from chat completions."
    ),
    errors={
        **_AI_ERRORS,
        404: ("not_found", "action_not_found", "model_not_found"),
        413: ("request_too_large", "document_too_large"),
    },
    error_properties={429: _QUOTA},
)


def _operation(
    *, operation_id: str, doc: ApiDoc, body: dict, answer: dict
) -> dict[str, Any]:
    operation = {
        "operationId": operation_id,
        "security": [{"bearerAuth": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": body}},
        },
        "responses": {
            "200": {
                "description": "The whole answer, or with `stream: true` an SSE stream.",
                "content": {"application/json": {"schema": answer}, **_SSE},
            },
        },
    }
    doc.apply(operation)
    add_common_errors(operation, drf=False)
    sort_responses(operation)
    return operation


def _path_parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", **schema},
    }


def add_ai_operations(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Postprocessing hook: describe the async AI POST routes."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ChatCompletionRequest", _chat_request())
    schemas.setdefault("ChatCompletionUsage", _USAGE)
    schemas.setdefault("ChatCompletion", _CHAT_COMPLETION)
    schemas.setdefault("DocumentActionRequest", _ACTION_REQUEST)
    paths = result.setdefault("paths", {})
    schemas.setdefault("DocumentActionAnswer", _ACTION_ANSWER)
    paths["/api/v1/ai/chat/completions"] = {
        "post": _operation(
            operation_id="ai_chat_completions_create",
            doc=CHAT_COMPLETION,
            body={"$ref": "#/components/schemas/ChatCompletionRequest"},
            answer={"$ref": "#/components/schemas/ChatCompletion"},
        )
    }
    action = _operation(
        operation_id="documents_ai_action_create",
        doc=DOCUMENT_ACTION,
        body={"$ref": "#/components/schemas/DocumentActionRequest"},
        answer={"$ref": "#/components/schemas/DocumentActionAnswer"},
    )
    # Every option has a default: no body at all runs the action as is.
    action["requestBody"]["required"] = False
    action["parameters"] = [
        _path_parameter("document_id", "The document.", format="uuid"),
        _path_parameter("action", "What to do.", enum=sorted(TASKS)),
    ]
    paths["/api/v1/documents/{document_id}/ai/{action}/"] = {"post": action}
    result["paths"] = dict(sorted(paths.items()))
    return result
