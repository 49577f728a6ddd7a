"""Log lines on stdout for machines and people, request ids, redaction of secrets.

Every log record (Django's, gunicorn's, uvicorn's and ours) becomes one line
on stdout, formatted by structlog: one JSON object per line in production,
which Fargate's awslogs driver ships to CloudWatch Logs unchanged so Logs
Insights can query the fields directly; readable, coloured lines when a
person runs ``make run`` at a terminal (``LOG_FORMAT``).

This module is imported by ``gunicorn.conf.py`` before Django is set up, so
nothing here touches Django settings at import time.
"""

import contextvars
import datetime as dt
import json
import logging
import logging.config
import os
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import structlog

REDACTED = "[REDACTED]"

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
user_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "user_id", default=None
)

# Key names whose values never reach a log line, wherever they appear: as a
# ``key=value`` pair, a JSON/Python mapping entry, or an ``extra`` field.
_SENSITIVE_WORDS = (
    r"password|passwd|pwd|secret|token|api[_-]?key|"
    r"access[_-]?key|private[_-]?key|authorization|cookie|session|prompt|"
    r"signature|credential|code[_-]?verifier"
)
_SENSITIVE_KEY = rf"[A-Za-z0-9_-]*(?:{_SENSITIVE_WORDS})[A-Za-z0-9_-]*"
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
    # Share-link secrets are path segments: /api/v1/links/<secret>/ and the
    # web app's /s/<secret>.
    (re.compile(r"(/api/v\d+/links/|/s/)[^/\s?#\"']+"), rf"\1{REDACTED}"),
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


# Every pattern above needs one of these to match (the auth schemes, the JWT
# and key prefixes, the sensitive key names): text without any is left as it
# is after one search instead of six substitutions, which was most of what a
# request's log lines cost (bench/logformat.py). A test checks each pattern
# against it.
_TRIGGER = re.compile(
    rf"(?i)bearer|basic|eyJ|sk-|AKIA|ASIA|/links/|/s/|{_SENSITIVE_WORDS}"
)


def redact(text: str) -> str:
    """Return ``text`` with tokens, passwords, keys and prompts masked."""
    if _TRIGGER.search(text) is None:
        return text
    return _redact_all(text)


def _redact_all(text: str) -> str:
    """Apply every pattern (what :func:`redact` does when a trigger word is present)."""
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
    method, the path without query (share-link secrets masked), the status
    and timings are kept.
    """
    args = record.args
    if record.name == "gunicorn.access" and isinstance(args, Mapping):
        fields: dict[str, Any] = {
            "method": args.get("m"),
            "path": redact(str(args.get("U") or "")),
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
        path = redact(str(full_path).split("?", 1)[0])
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


def _timestamp(record: logging.LogRecord) -> str:
    """Return the record's creation time as ISO 8601 UTC with milliseconds."""
    return (
        dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _safe_message(record: logging.LogRecord) -> str:
    """Return the record's message; a bad format string must not lose the line."""
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001
        return f"{record.msg!r} {record.args!r}"


class _Fields:
    """The structlog processors that turn a log record into Quire's fields.

    They run for records from the standard library (Django, gunicorn,
    uvicorn, ``logging.getLogger``) and from ``structlog.get_logger`` alike:
    ``timestamp``, ``level``, ``logger``, the message (redacted), the safe
    fields of an access-log record, ``request_id``/``user_id`` of the
    request being served, every ``extra`` field (redacted), and the
    traceback (redacted).
    """

    def __init__(self, *, message_key: str, exception_key: str, level_upper: bool):
        self.message_key = message_key
        self.exception_key = exception_key
        self.level_upper = level_upper

    def __call__(self, logger: Any, method: str, event_dict: dict) -> dict:
        """Return the record's fields in order, secrets masked."""
        record: logging.LogRecord = event_dict["_record"]
        from_structlog = event_dict.get("_from_structlog", False)
        args = event_dict.pop("positional_args", ())
        out: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname if self.level_upper else record.levelname.lower(),
            "logger": record.name,
        }
        if from_structlog:
            access: dict[str, Any] = {}
            out[self.message_key] = redact(str(event_dict.get("event", "")))
        else:
            # ProcessorFormatter cleared its copy's args (they come back as
            # ``positional_args``): format with them, then clear them again,
            # as the base formatter formats the record once more at the end.
            record.args = args
            try:
                access = _access_fields(record)
                message = access.pop("message", None) or redact(_safe_message(record))
            finally:
                record.args = ()
            out[self.message_key] = message
        request_id = request_id_var.get()
        if request_id:
            out["request_id"] = request_id
        user_id = user_id_var.get()
        if user_id:
            out["user_id"] = user_id
        out.update(access)
        if from_structlog:
            extras = {
                k: v
                for k, v in event_dict.items()
                if k not in _STRUCTLOG_META and not k.startswith("_")
            }
        else:
            extras = {
                k: v
                for k, v in record.__dict__.items()
                if k not in _RECORD_ATTRS and not k.startswith("_")
            }
        for key, value in extras.items():
            out[key] = redact_value(key, value)
        exc_info = event_dict.get("exc_info") or record.exc_info
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        if isinstance(exc_info, tuple) and exc_info[0] is not None:
            out[self.exception_key] = redact(
                "".join(traceback.format_exception(*exc_info))
            )
        stack_info = event_dict.get("stack_info") or record.stack_info
        if isinstance(stack_info, str):
            out["stack_info"] = redact(stack_info)
        return out


# Keys of a structlog event dict that are not the caller's own fields.
_STRUCTLOG_META = frozenset({"event", "exc_info", "stack_info", "positional_args"})


def json_line(fields: dict[str, Any], **kwargs: Any) -> str:
    """Return ``fields`` as one compact JSON line (structlog's ``serializer`` hook).

    orjson writes it in C (``bench/logformat.py``: 33.8 → 30.4 µs per line);
    the text is ``json.dumps(fields, ensure_ascii=False, separators=(",",
    ":"))``'s but for floats under 10⁻⁴ (``1e-5``, not ``1e-05``). What orjson
    refuses (an integer past 64 bits) is written by ``json``: no line is lost.
    """
    try:
        return orjson.dumps(
            fields, default=str, option=orjson.OPT_NON_STR_KEYS
        ).decode()
    except orjson.JSONEncodeError:
        return json.dumps(
            fields, default=str, ensure_ascii=False, separators=(",", ":")
        )


class JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """Format each record as one JSON object on one line, secrets masked.

    This is production's format: CloudWatch Logs Insights reads the fields
    directly (``fields status, path | filter logger = "quire.request"``).
    """

    def __init__(self) -> None:  # noqa: D107
        super().__init__(
            processors=[
                _Fields(
                    message_key="message", exception_key="exc_info", level_upper=True
                ),
                structlog.processors.JSONRenderer(serializer=json_line),
            ],
            pass_foreign_args=True,
            use_get_message=False,
        )


class ConsoleFormatter(structlog.stdlib.ProcessorFormatter):
    """Format each record as one readable line, coloured at a terminal.

    The same fields as the JSON lines (and the same redaction), laid out by
    structlog's ``ConsoleRenderer`` for a person watching ``make run``.
    """

    def __init__(self, colors: bool | None = None) -> None:  # noqa: D107
        if colors is None:
            colors = _wants_colour(sys.stdout)
        super().__init__(
            processors=[
                _Fields(
                    message_key="event", exception_key="exception", level_upper=False
                ),
                structlog.dev.ConsoleRenderer(colors=colors, sort_keys=False),
            ],
            pass_foreign_args=True,
            use_get_message=False,
        )


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _wants_colour(stream: Any) -> bool:
    """Return whether ``stream`` is a terminal that may be coloured (no ``NO_COLOR``)."""
    return _is_terminal(stream) and not os.environ.get("NO_COLOR")


def log_format(requested: str | None = None) -> str:
    """Return ``"json"`` or ``"console"`` for ``LOG_FORMAT`` (``auto`` by default).

    ``auto`` means readable lines when standard output is a terminal (a
    person running ``make run``) and JSON otherwise (a container, a pipe, a
    test); production settings always mean JSON unless told otherwise.
    """
    value = (requested or os.environ.get("LOG_FORMAT") or "auto").strip().lower()
    if value not in {"auto", "json", "console"}:
        raise ValueError(f"LOG_FORMAT must be auto, json or console, not {value!r}")
    if value != "auto":
        return value
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "")
    if settings_module.endswith(".production"):
        return "json"
    return "console" if _is_terminal(sys.stdout) else "json"


class RedactingFilter(logging.Filter):
    """Mask secrets in a record's message for handlers that are not JSON.

    The JSON formatter already redacts; this filter protects any other
    handler (a developer's own formatter, a third-party handler).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message redacted; never drop the record."""
        if _access_fields(record) or _is_structlog_record(record):
            # Formatted field by field, and redacted, by our formatters.
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001
            return True
        record.msg = redact(message)
        record.args = ()
        return True


def _is_structlog_record(record: logging.LogRecord) -> bool:
    """Return whether ``record`` carries a structlog event dict as its message."""
    return isinstance(record.msg, dict) and hasattr(record, "_logger")


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


def logging_config(level: str = "INFO", fmt: str | None = None) -> dict[str, Any]:
    """Return the ``dictConfig`` that makes every logger write to stdout.

    Lines are JSON or readable per :func:`log_format` (``fmt``, else the
    ``LOG_FORMAT`` environment variable). Used by Django's ``LOGGING`` and
    gunicorn's ``logconfig_dict`` alike. The handler keeps its name, ``json``,
    whatever the format.
    """
    formatter = {
        "json": {"()": "project.logging.JsonFormatter"},
        "console": {"()": "project.logging.ConsoleFormatter"},
    }[log_format(fmt)]
    handler = {"handlers": ["json"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "project.logging.RedactingFilter"}},
        "formatters": {"json": formatter},
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
    """Apply ``config``, route warnings through logging, and set up structlog.

    ``structlog.get_logger(name)`` then writes through the same handlers and
    formatters as ``logging.getLogger(name)``: keyword arguments become
    fields, redacted like ``extra``.
    """
    logging.config.dictConfig(config)
    logging.captureWarnings(True)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def new_request_id(incoming: str | None) -> str:
    """Return the caller's ``X-Request-ID`` if well-formed, else a fresh one."""
    if incoming and _REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestContext:
    """Hold the request-scoped logging context for one request."""

    def __init__(self, request: Any) -> None:  # noqa: D107
        self.request = request
        # META, not request.headers: the header mapping is built from all
        # of META on first use, and nothing else on an API call needs it.
        self.request_id = new_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = self.request_id
        self.started = time.perf_counter()
        self._token = request_id_var.set(self.request_id)
        self._user_token = user_id_var.set(None)

    def close(self) -> None:
        """Restore the context that was active before the request."""
        request_id_var.reset(self._token)
        user_id_var.reset(self._user_token)
