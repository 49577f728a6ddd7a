"""JSON log lines, request ids and redaction of secrets."""

import io
import json
import logging
import sys

from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

import pytest
import structlog

from accounts.tests.factories import UserFactory
from project.logging import (
    _PATTERNS,
    _TRIGGER,
    ConsoleFormatter,
    JsonFormatter,
    _redact_all,
    json_line,
    log_format,
    logging_config,
    redact,
)

pytestmark = pytest.mark.django_db

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtdXNlciJ9.c2lnbmF0dXJlLXNlY3JldA"
PASSWORD = "correct-horse-battery-staple"
API_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123"
PROMPT = "Summarise my confidential merger plan"


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _request_lines(text: str) -> list[dict]:
    return [line for line in _json_lines(text) if line.get("logger") == "quire.request"]


def test_request_log_every_line_is_one_json_object(api_client, capsys):
    """Every line written while serving a request parses as a JSON object."""
    api_client.get("/api/v1/does-not-exist")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines
    for line in lines:
        assert isinstance(json.loads(line), dict)


def test_request_log_line_has_request_fields(api_client, capsys):
    """The request line carries id, method, path, status, duration, level, logger."""
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 200
    (line,) = _request_lines(capsys.readouterr().out)
    assert line["request_id"] == "req-42"
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["level"] == "INFO"
    assert line["logger"] == "quire.request"


def test_request_log_line_carries_the_load_balancers_trace_id(api_client, capsys):
    """The ALB's ``X-Amzn-Trace-Id`` is the line's ``trace_id``."""
    trace = "Root=1-67891233-abcdef012345678912345678"
    api_client.get("/healthz", HTTP_X_AMZN_TRACE_ID=trace)
    (line,) = _request_lines(capsys.readouterr().out)
    assert line["trace_id"] == trace


def test_request_id_given_is_echoed(api_client):
    """A well-formed X-Request-ID is echoed on the response."""
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize("incoming", [None, "", "bad id with spaces", "x" * 300])
def test_request_id_missing_or_malformed_is_generated(api_client, incoming):
    """Without a usable X-Request-ID a fresh 32-hex id is generated and echoed."""
    headers = {} if incoming is None else {"HTTP_X_REQUEST_ID": incoming}
    response = api_client.get("/healthz", **headers)
    assert response.status_code == 200
    assert len(response["X-Request-ID"]) == 32
    assert response["X-Request-ID"] != incoming


def test_user_id_signed_in_user_is_its_pk(user):
    """The request line's user id is the signed-in user's primary key."""
    from project.middleware import _user_id

    request = RequestFactory().get("/")
    request.user = user
    assert _user_id(request) == str(user.pk)


def test_user_id_lazy_user_not_evaluated():
    """An untouched lazy session user is not loaded just to log it."""
    from django.utils.functional import SimpleLazyObject

    from project.middleware import _user_id

    def fail():
        raise AssertionError("the lazy user was evaluated")

    request = RequestFactory().get("/")
    request.user = SimpleLazyObject(fail)
    assert _user_id(request) is None


def test_request_log_admin_page_names_the_session_user(client, capsys):
    """A page that looked the session's user up logs that user's id."""
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    capsys.readouterr()

    assert client.get("/admin/").status_code == 200

    (line,) = _request_lines(capsys.readouterr().out)
    assert line["user_id"] == str(staff.pk)


def test_request_log_session_user_untouched_is_not_loaded(client, capsys):
    """A view that never reads request.user: no user query just to log it."""
    client.force_login(UserFactory())
    capsys.readouterr()

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/healthz").status_code == 200

    (line,) = _request_lines(capsys.readouterr().out)
    assert "user_id" not in line
    assert not [q for q in queries if "accounts_user" in q["sql"]]


def test_request_log_secrets_in_request_never_logged(api_client, capsys):
    """Tokens, passwords, keys and prompts sent by a client never reach the log."""
    api_client.post(
        f"/api/v1/missing/?api_key={API_KEY}&token={JWT}",
        data={"password": PASSWORD, "prompt": PROMPT},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {JWT}",
        HTTP_X_API_KEY=API_KEY,
    )
    api_client.get(
        f"/admin/login/?password={PASSWORD}", HTTP_AUTHORIZATION=f"Bearer {JWT}"
    )
    out = capsys.readouterr().out
    assert _request_lines(out)
    for secret in (JWT, PASSWORD, API_KEY, PROMPT):
        assert secret not in out


def test_json_formatter_logged_secrets_are_redacted(capsys):
    """Secrets passed to a logger in messages, extras or exceptions are masked."""
    logger = logging.getLogger("quire.test")
    logger.warning("auth header Bearer %s password=%s", JWT, PASSWORD)
    logger.warning(
        "call", extra={"api_key": API_KEY, "payload": {"prompt": PROMPT, "n": 1}}
    )
    try:
        raise ValueError(f"upstream refused key {API_KEY} token={JWT}")
    except ValueError:
        logger.exception("upstream failed")
    out = capsys.readouterr().out
    lines = _json_lines(out)
    assert len(lines) == 3
    assert lines[1]["payload"] == {"prompt": "[REDACTED]", "n": 1}
    assert "exc_info" in lines[2]
    for secret in (JWT, PASSWORD, API_KEY, PROMPT):
        assert secret not in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /x?token=abc&page=2", "GET /x?token=[REDACTED]&page=2"),
        ('{"password": "p4ss", "a": 1}', '{"password": "[REDACTED]", "a": 1}'),
        ("client_secret: xyz", "client_secret: [REDACTED]"),
        # AWS's documented example key id, split so secret scanners pass over it.
        ("key AKIA" + "IOSFODNN7EXAMPLE used", "key [REDACTED] used"),
        ("tokens_valid_after updated", "tokens_valid_after updated"),
        ("GET /api/v1/documents/ 200", "GET /api/v1/documents/ 200"),
        ("GET /api/v1/links/abc-_9/ 200", "GET /api/v1/links/[REDACTED]/ 200"),
        ("Not Found: /s/abc-_9", "Not Found: /s/[REDACTED]"),
        ("https://q.example/s/abc?x=1", "https://q.example/s/[REDACTED]?x=1"),
        ("GET /api/v1/documents/1/links/ 200", "GET /api/v1/documents/1/links/ 200"),
    ],
)
def test_redact_known_shapes_masked_and_plain_text_kept(text, expected):
    """Secret shapes are masked; ordinary text is left alone."""
    assert redact(text) == expected


def test_json_formatter_gunicorn_access_record_keeps_only_safe_fields():
    """The gunicorn access record never carries request headers or the query."""
    atoms = {
        "m": "GET",
        "U": "/api/v1/me",
        "q": f"token={JWT}",
        "s": "200",
        "D": 1500,
        "B": 10,
        "h": "10.0.0.1",
        "a": "curl/8",
        "{authorization}i": f"Bearer {JWT}",
        "{x-request-id}o": "rid-1",
    }
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, "%(r)s", (atoms,), None
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /api/v1/me 200"
    assert line["path"] == "/api/v1/me"
    assert line["status"] == 200
    assert line["duration_ms"] == 1.5
    assert line["request_id"] == "rid-1"
    assert JWT not in json.dumps(line)


def _record(msg: str, *args, name: str = "quire.test", **extra) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_console_formatter_line_is_readable_with_the_same_fields():
    """At a terminal a record is one plain line: time, level, message, logger, fields."""
    line = ConsoleFormatter(colors=False).format(
        _record("upload %s done", "a.png", name="quire.attachments", size=12)
    )
    assert "\n" not in line
    assert not line.startswith("{")
    assert "warning" in line
    assert "upload a.png done" in line
    assert "quire.attachments" in line
    assert "size=12" in line
    assert "\x1b[" not in line


def test_console_formatter_colours_when_asked():
    """Colours are ANSI escapes, only when the formatter is told to use them."""
    line = ConsoleFormatter(colors=True).format(_record("hello"))
    assert "\x1b[" in line


def test_console_formatter_secrets_are_redacted():
    """Readable lines mask tokens, passwords, keys and prompts as JSON lines do."""
    try:
        raise ValueError(f"upstream refused key {API_KEY}")
    except ValueError:
        record = _record("Bearer %s password=%s", JWT, PASSWORD, prompt=PROMPT)
        record.exc_info = sys.exc_info()
    text = ConsoleFormatter(colors=False).format(record)
    assert "ValueError" in text
    for secret in (JWT, PASSWORD, API_KEY, PROMPT):
        assert secret not in text


def test_json_formatter_bad_format_string_keeps_the_line():
    """A message whose arguments do not fit its format is still written."""
    line = json.loads(JsonFormatter().format(_record("%s and %s", "one")))
    assert line["message"] == "'%s and %s' ('one',)"
    assert line["level"] == "WARNING"


def test_structlog_logger_writes_redacted_json(capsys):
    """``structlog.get_logger`` writes the same JSON lines; keyword fields are redacted."""
    structlog.get_logger("quire.test").warning(
        "called upstream", api_key=API_KEY, attempts=3
    )
    (line,) = _json_lines(capsys.readouterr().out)
    assert line["logger"] == "quire.test"
    assert line["message"] == "called upstream"
    assert line["level"] == "WARNING"
    assert line["api_key"] == "[REDACTED]"
    assert line["attempts"] == 3


@pytest.mark.parametrize(
    ("requested", "settings_module", "tty", "expected"),
    [
        ("auto", "project.settings.local", True, "console"),
        ("auto", "project.settings.local", False, "json"),
        ("auto", "project.settings.production", True, "json"),
        ("json", "project.settings.local", True, "json"),
        ("console", "project.settings.production", False, "console"),
    ],
)
def test_log_format_readable_only_for_a_person_at_a_terminal(
    monkeypatch, requested, settings_module, tty, expected
):
    """``auto`` is readable at a terminal outside production; an explicit choice wins."""
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", settings_module)
    monkeypatch.setattr(sys, "stdout", _Stream(tty))
    assert log_format(requested) == expected


def test_log_format_unknown_value_is_refused():
    """A mistyped LOG_FORMAT stops start-up instead of guessing."""
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        log_format("xml")


def test_logging_config_console_format_uses_console_formatter():
    """The handler keeps its name; only its formatter changes with the format."""
    config = logging_config("INFO", "console")
    assert config["formatters"]["json"] == {"()": "project.logging.ConsoleFormatter"}
    assert logging_config("INFO", "json")["formatters"]["json"] == {
        "()": "project.logging.JsonFormatter"
    }


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


# Texts that each pattern masks, and plain ones: the trigger word check in
# ``redact`` must never let one of them through unmasked.
REDACTION_CORPUS = [
    f"Authorization: Bearer {JWT}",
    "basic dXNlcjpwYXNz",
    f"token {JWT} seen",
    '{"password": "p4ss", "a": 1}',
    "{'client_secret': 'xyz'}",
    "GET /x?token=abc&page=2",
    "PWD=hunter2",
    "x-api-key: abc123",
    "Access_Key=AKIA0000",
    "private-key=----",
    "cookie: sessionid=abc",
    "code_verifier=abc",
    "Signature=abc&Credential=def",
    f"upstream said {API_KEY}",
    "key AKIA" + "IOSFODNN7EXAMPLE used",
    "temp ASIA" + "IOSFODNN7EXAMPLE used",
    f"prompt={PROMPT}",
    "GET /api/v1/documents/ 200",
    "PATCH /api/v1/links/abc-_9/ 200",
    "<WSGIRequest: GET '/s/abc-_9'>",
    "GET /api/v1/documents/1/links/ 200",
    "Starting gunicorn 27.0.1",
    "tokens_valid_after updated",
    "",
]


@pytest.mark.parametrize("text", REDACTION_CORPUS)
def test_redact_trigger_check_matches_every_pattern(text):
    """Skipping texts without a trigger word gives what all the patterns give."""
    assert redact(text) == _redact_all(text)


def test_redact_trigger_words_cover_every_pattern():
    """Whatever a pattern matches contains a trigger word (the check cannot drift)."""
    for text in REDACTION_CORPUS:
        for pattern, _replacement in _PATTERNS:
            for match in pattern.finditer(text):
                assert _TRIGGER.search(match.group(0)), (pattern.pattern, text)


def test_json_line_writes_what_the_standard_library_writes():
    """orjson's line is the standard library's compact line, byte for byte."""
    fields = {
        "timestamp": "2026-12-04T02:50:46.285Z",
        "message": "GET /api/v1/documents/ 200 é \u2028 \x00",
        "status": 200,
        "duration_ms": 2.108,
        "trace_id": None,
        "ok": True,
        "nested": {"a": [1, "b", {"c": None}]},
    }
    compact = json.dumps(fields, default=str, ensure_ascii=False, separators=(",", ":"))
    assert json_line(fields) == compact


def test_json_line_keeps_what_orjson_refuses():
    """An integer past 64 bits is written by ``json``: the line is not lost."""
    assert json_line({"big": 2**70}) == '{"big":1180591620717411303424}'
