"""OpenAPI for the async AI routes, which drf-spectacular cannot see.

Chat completions and document actions are async Django views (served on the
ASGI worker, not DRF views), so the generator finds no operation for them.
This postprocessing hook adds both, described by hand from the OpenAI wire
format we accept (``aiproxy.wire``) and the document action options
(``aiproxy.views.DocumentActionApi``). It runs before
``project.schema.add_error_responses``, which adds the shared 400/401/429.
"""

from typing import Any

from aiproxy.prompts import LENGTHS, TASKS, TONES
from project.schema import ERROR_DESCRIPTIONS

_ERROR = {"$ref": "#/components/schemas/Error"}

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
                },
            ]
        },
        "name": {"type": "string"},
    },
    "required": ["role", "content"],
}

_CHAT_REQUEST = {
    "type": "object",
    "description": "OpenAI chat-completions request (`n` must be 1; tools, "
    "functions and logprobs are refused with 400).",
    "properties": {
        "model": {
            "type": "string",
            "pattern": r"\S",
            "description": "A name from `GET /ai/models`.",
        },
        "messages": {"type": "array", "items": _MESSAGE, "minItems": 1},
        "stream": {"type": "boolean", "default": False},
        "stream_options": {
            "type": "object",
            "properties": {"include_usage": {"type": "boolean"}},
        },
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "stop": {
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "maxItems": 4},
            ]
        },
        "user": {"type": "string"},
    },
    "required": ["model", "messages"],
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


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for status in statuses
    }


def _operation(
    *, operation_id: str, summary: str, body: dict, tags: list[str]
) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": tags,
        "security": [{"bearerAuth": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": body}},
        },
        "responses": {
            "200": {
                "description": "The whole answer, or with `stream: true` an SSE stream.",
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ChatCompletion"}
                    },
                    **_SSE,
                },
            },
            **_errors(404, 413, 502, 504),
        },
    }


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
    schemas.setdefault("ChatCompletionRequest", _CHAT_REQUEST)
    schemas.setdefault("ChatCompletionUsage", _USAGE)
    schemas.setdefault("ChatCompletion", _CHAT_COMPLETION)
    schemas.setdefault("DocumentActionRequest", _ACTION_REQUEST)
    paths = result.setdefault("paths", {})
    paths["/api/v1/ai/chat/completions"] = {
        "post": _operation(
            operation_id="ai_chat_completions_create",
            summary="Chat completion (OpenAI wire format, streaming or not).",
            body={"$ref": "#/components/schemas/ChatCompletionRequest"},
            tags=["ai"],
        )
    }
    action = _operation(
        operation_id="documents_ai_action_create",
        summary="Run an AI action on a document the caller can read; the answer "
        "is returned, never written into the document.",
        body={"$ref": "#/components/schemas/DocumentActionRequest"},
        tags=["documents"],
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
