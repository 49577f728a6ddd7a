"""JSON log lines on stdout, request ids, and redaction of secrets.

Every log record (Django's, gunicorn's, uvicorn's and ours) becomes one JSON
object per line on stdout, which Fargate's awslogs driver ships to CloudWatch
Logs unchanged, so Logs Insights can query the fields directly.

This module is imported by ``gunicorn.conf.py`` before Django is set up, so
nothing here touches Django settings at import time.
"""

import contextvars
import datetime as dt
import json
import logging
import logging.config
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from typing import Any

REDACTED = "[REDACTED]"

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
user_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "user_id", default=None
)

# Key names whose values never reach a log line, wherever they appear: as a
# ``key=value`` pair, a JSON/Python mapping entry, or an ``extra`` field.
_SENSITIVE_KEY = (
    r"[A-Za-z0-9_-]*(?:password|passwd|pwd|secret|token|api[_-]?key|"
    r"access[_-]?key|private[_-]?key|authorization|cookie|session|prompt|"
    r"signature|credential|code[_-]?verifier)[A-Za-z0-9_-]*"
)
_SENSITIVE_NAME = re.compile(rf"^{_SENSITIVE_KEY}$", re.IGNORECASE)
_PATTERNS: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # Bearer and Basic credentials, e.g. in an Authorization header.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # JSON Web Tokens anywhere (header.payload.signature, base64url).
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    # Quoted mapping entries with a sensitive key (JSON, Python reprs).
    (
        re.compile(
            rf"""(?i)(["']?\b{_SENSITIVE_KEY}["']?\s*[:=]\s*)(["']).*?(?<!\\)\2"""
        ),
        rf"\1\2{REDACTED}\2",
    ),
    # Unquoted key=value or key: value pairs (query strings, kwargs).
    (
        re.compile(
            rf"""(?i)\b({_SENSITIVE_KEY})(\s*[=:]\s*)(?!["'\[{{])[^\s&,;"')]+"""
        ),
        rf"\1\2{REDACTED}",
    ),
    # Provider and AWS key shapes that may appear without a key name.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")

# Attributes every LogRecord has; anything else was passed with ``extra=``.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "taskName", "color_message"}
)


def redact(text: str) -> str:
    """Return ``text`` with tokens, passwords, keys and prompts masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    """Return a JSON-safe, redacted copy of the ``extra`` field ``key``."""
    if _SENSITIVE_NAME.match(key):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact_value("", item) for item in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return redact(str(value))


def _access_fields(record: logging.LogRecord) -> dict[str, Any]:
    """Pick the safe fields of a gunicorn or uvicorn access-log record.

    gunicorn passes every request header (``Authorization`` included) in the
    record's args, and uvicorn the path with its query string: only the
    method, the path without query, the status and timings are kept.
    """
    args = record.args
    if record.name == "gunicorn.access" and isinstance(args, Mapping):
        fields: dict[str, Any] = {
            "method": args.get("m"),
            "path": args.get("U"),
            "status": _int_or_none(args.get("s")),
            "duration_ms": round(int(args.get("D") or 0) / 1000, 3),
            "bytes": args.get("B"),
            "remote_addr": args.get("h"),
            "user_agent": redact(str(args.get("a") or "")),
        }
        request_id = args.get("{x-request-id}o")
        if request_id and request_id != "-":
            fields["request_id"] = request_id
        fields["message"] = "{} {} {}".format(
            fields["method"], fields["path"], fields["status"]
        )
        return fields
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        client, method, full_path, _http_version, status = args
        path = str(full_path).split("?", 1)[0]
        return {
            "method": method,
            "path": path,
            "status": _int_or_none(status),
            "remote_addr": client,
            "message": f"{method} {path} {status}",
        }
    return {}


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object on one line, secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        payload: dict[str, Any] = {
            "timestamp": dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
        }
        access = _access_fields(record)
        if access:
            payload["message"] = access.pop("message")
        else:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a bad format must not lose the line
                message = f"{record.msg!r} {record.args!r}"
            payload["message"] = redact(message)
        request_id = request_id_var.get()
        if request_id:
            payload["request_id"] = request_id
        user_id = user_id_var.get()
        if user_id:
            payload["user_id"] = user_id
        for key, value in access.items():
            payload[key] = value
        for key, value in record.__dict__.items():
            if key in _RECORD_ATTRS or key.startswith("_"):
                continue
            payload[key] = redact_value(key, value)
        if record.exc_info:
            payload["exc_info"] = redact(
                "".join(traceback.format_exception(*record.exc_info))
            )
        elif record.exc_text:
            payload["exc_info"] = redact(record.exc_text)
        if record.stack_info:
            payload["stack_info"] = redact(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class RedactingFilter(logging.Filter):
    """Mask secrets in a record's message for handlers that are not JSON.

    The JSON formatter already redacts; this filter protects any other
    handler (a developer's own formatter, a third-party handler).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message redacted; never drop the record."""
        if _access_fields(record):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001
            return True
        record.msg = redact(message)
        record.args = ()
        return True


class StdoutHandler(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stdout`` is now.

    Binding the stream at emit time (as ``logging.lastResort`` does for
    stderr) keeps output capturable by tests and survives stream swaps.
    """

    def __init__(self, level: int = logging.NOTSET) -> None:  # noqa: D107
        logging.Handler.__init__(self, level)

    @property
    def stream(self):  # type: ignore[override]
        """Return the current standard output."""
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        """Ignore: the stream is always the current standard output."""


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """Return the ``dictConfig`` that makes every logger write JSON to stdout.

    Used by Django's ``LOGGING`` and gunicorn's ``logconfig_dict`` alike.
    """
    handler = {"handlers": ["json"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "project.logging.RedactingFilter"}},
        "formatters": {"json": {"()": "project.logging.JsonFormatter"}},
        "handlers": {
            "json": {
                "class": "project.logging.StdoutHandler",
                "formatter": "json",
                "filters": ["redact"],
            },
            # gunicorn's default config names these; point them at JSON too.
            "console": {
                "class": "project.logging.StdoutHandler",
                "formatter": "json",
                "filters": ["redact"],
            },
            "error_console": {
                "class": "project.logging.StdoutHandler",
                "formatter": "json",
                "filters": ["redact"],
            },
        },
        "root": {"handlers": ["json"], "level": level},
        "loggers": {
            "django": {**handler, "level": level},
            "django.server": {**handler, "level": level},
            "django.request": {**handler, "level": level},
            # SQL with parameters is logged at DEBUG: never in our output.
            "django.db.backends": {**handler, "level": "INFO"},
            "gunicorn.error": {**handler, "level": level},
            "gunicorn.access": {**handler, "level": "INFO"},
            "uvicorn": {**handler, "level": level},
            "uvicorn.error": {**handler, "level": level},
            "uvicorn.access": {**handler, "level": "INFO"},
            "botocore": {**handler, "level": "WARNING"},
            "boto3": {**handler, "level": "WARNING"},
            "py.warnings": {**handler, "level": "WARNING"},
            "urllib3": {**handler, "level": "WARNING"},
            "werkzeug": {**handler, "level": "WARNING"},
            "httpx": {**handler, "level": "WARNING"},
            "httpcore": {**handler, "level": "WARNING"},
        },
    }


def configure(config: dict[str, Any]) -> None:
    """Apply ``config`` and route Python warnings through logging (JSON)."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


def new_request_id(incoming: str | None) -> str:
    """Return the caller's ``X-Request-ID`` if well-formed, else a fresh one."""
    if incoming and _REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestContext:
    """Hold the request-scoped logging context for one request."""

    def __init__(self, request: Any) -> None:  # noqa: D107
        self.request = request
        self.request_id = new_request_id(request.headers.get("X-Request-ID"))
        request.request_id = self.request_id
        self.started = time.perf_counter()
        self._token = request_id_var.set(self.request_id)
        self._user_token = user_id_var.set(None)

    def close(self) -> None:
        """Restore the context that was active before the request."""
        request_id_var.reset(self._token)
        user_id_var.reset(self._user_token)
