"""The OpenAI chat-completions wire format: parse requests, shape answers.

Parsing checks every field a client may send and names the offending one in
a 400 (``fields``), so a malformed request changes nothing and reaches no
provider. Shaping builds the JSON of a ``chat.completion`` and the SSE events
of a ``chat.completion.chunk`` stream.
"""

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from rest_framework.exceptions import ValidationError

from aiproxy.adapters.base import Usage
from project.exceptions import ApplicationError

ROLES = {"system", "developer", "user", "assistant"}
UNSUPPORTED = ("tools", "tool_choice", "functions", "function_call")
PASSTHROUGH = ("presence_penalty", "frequency_penalty", "seed", "user")
MAX_STOP = 4


@dataclass(frozen=True)
class ChatParams:
    """A validated chat-completions request, before the model is resolved."""

    model: str
    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    stream: bool = False
    include_usage: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _invalid(name: str, message: str) -> ValidationError:
    return ValidationError({name: [str(message)]})


def _number(data: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(name, _("Must be a number."))
    if not low <= value <= high:
        raise _invalid(
            name,
            _("Must be between %(low)s and %(high)s.") % {"low": low, "high": high},
        )
    return float(value)


def _content(index: int, role: str, content: Any) -> str | list[dict[str, Any]]:
    name = f"messages[{index}].content"
    if isinstance(content, str):
        return content
    if content is None and role == "assistant":
        return ""
    if isinstance(content, list) and content:
        for part_index, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise _invalid(
                    f"{name}[{part_index}]", _("Only text parts are supported.")
                )
            if not isinstance(part.get("text"), str):
                raise _invalid(f"{name}[{part_index}].text", _("Must be a string."))
        return [{"type": "text", "text": part["text"]} for part in content]
    raise _invalid(name, _("Must be a string or a list of text parts."))


def _messages(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise _invalid("messages", _("Must be a non-empty list."))
    if len(raw) > settings.AI_MAX_MESSAGES:
        detail = str(_("At most %(count)s messages are allowed.")) % {
            "count": settings.AI_MAX_MESSAGES
        }
        raise ApplicationError(
            detail, code="too_many_messages", extra={"fields": {"messages": [detail]}}
        )
    messages = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise _invalid(f"messages[{index}]", _("Must be an object."))
        role = message.get("role")
        # Not a string (an object, a list) is unhashable: no set lookup.
        if not isinstance(role, str) or role not in ROLES:
            raise _invalid(
                f"messages[{index}].role",
                _("Must be one of: %(roles)s.") % {"roles": ", ".join(sorted(ROLES))},
            )
        if "content" not in message:
            raise _invalid(f"messages[{index}].content", _("This field is required."))
        cleaned: dict[str, Any] = {
            "role": role,
            "content": _content(index, role, message["content"]),
        }
        name = message.get("name")
        if name is not None:
            if not isinstance(name, str) or not 0 < len(name) <= 64:
                raise _invalid(
                    f"messages[{index}].name", _("Must be 1 to 64 characters.")
                )
            cleaned["name"] = name
        messages.append(cleaned)
    return messages


def chat_params_parse(data: Any) -> ChatParams:
    """Return the validated request, or raise a 400 naming the bad field."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [str(_("Expected a JSON object."))]})
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model", _("This field is required."))
    for name in UNSUPPORTED:
        if data.get(name):
            raise _invalid(name, _("Not supported by this gateway."))
    if data.get("n") not in (None, 1):
        raise _invalid("n", _("Only n=1 is supported."))
    messages = _messages(data.get("messages"))
    max_tokens = None
    for name in ("max_completion_tokens", "max_tokens"):
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _invalid(name, _("Must be a positive integer."))
        if value > settings.AI_MAX_TOKENS_CAP:
            raise _invalid(
                name,
                _("Must be at most %(cap)s.") % {"cap": settings.AI_MAX_TOKENS_CAP},
            )
        max_tokens = value
        break
    stop = data.get("stop")
    if stop is not None:
        if isinstance(stop, str):
            stop = [stop]
        if (
            not isinstance(stop, list)
            or len(stop) > MAX_STOP
            or not all(isinstance(item, str) and item for item in stop)
        ):
            raise _invalid("stop", _("Must be a string or up to 4 strings."))
    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _invalid("stream", _("Must be a boolean."))
    # null is left out, as every optional field; false, 0 or "" is no object.
    options = data.get("stream_options")
    if options is None:
        options = {}
    if not isinstance(options, dict) or not isinstance(
        options.get("include_usage", False), bool
    ):
        raise _invalid("stream_options", _("Must be an object with include_usage."))
    extra = {}
    for name in PASSTHROUGH:
        if data.get(name) is not None:
            extra[name] = data[name]
    for name in ("presence_penalty", "frequency_penalty"):
        _number(data, name, -2.0, 2.0)
    if "seed" in extra and (
        isinstance(extra["seed"], bool) or not isinstance(extra["seed"], int)
    ):
        raise _invalid("seed", _("Must be an integer."))
    if "user" in extra and not isinstance(extra["user"], str):
        raise _invalid("user", _("Must be a string."))
    return ChatParams(
        model=model.strip(),
        messages=messages,
        max_tokens=max_tokens,
        temperature=_number(data, "temperature", 0.0, 2.0),
        top_p=_number(data, "top_p", 0.0, 1.0),
        stop=stop,
        stream=stream,
        include_usage=bool(options.get("include_usage", False)),
        extra=extra,
    )


# -- answers ---------------------------------------------------------------------


def completion_id() -> str:
    """Return a new OpenAI-style completion id."""
    return "chatcmpl-" + uuid.uuid4().hex


def usage_json(usage: Usage) -> dict[str, int]:
    """Return OpenAI's ``usage`` object."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def completion_json(
    *, id: str, model: str, content: str, finish_reason: str, usage: Usage
) -> dict[str, Any]:
    """Return a non-streamed ``chat.completion`` object."""
    return {
        "id": id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage_json(usage),
    }


class ChunkWriter:
    """Shape the SSE events of one streamed completion."""

    def __init__(self, *, id: str, model: str) -> None:
        self.head = {
            "id": id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

    def _event(self, body: dict[str, Any]) -> bytes:
        return (
            b"data: "
            + json.dumps({**self.head, **body}, separators=(",", ":")).encode()
            + b"\n\n"
        )

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        """Return one chunk carrying ``delta``."""
        return self._event(
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ]
            }
        )

    def usage(self, usage: Usage) -> bytes:
        """Return the final usage chunk (``stream_options.include_usage``)."""
        return self._event({"choices": [], "usage": usage_json(usage)})

    @staticmethod
    def error(message: str, code: str) -> bytes:
        """Return an error event: the status line was already sent."""
        body = {"error": {"message": message, "type": code, "code": code}}
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    @staticmethod
    def done() -> bytes:
        """Return the terminating event."""
        return b"data: [DONE]\n\n"
