"""The served schema tells the truth: every operation documented, every error declared.

The table at the bottom triggers one error of each kind through the real
views and checks that its status, and its ``code``, are declared for that
operation in the schema. A view that starts answering something new (or a
declaration that goes missing) fails here.
"""

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from attachments.models import Attachment
from attachments.tests.factories import PNG_BYTES, AttachmentFactory
from documents.tests.factories import DocumentAccessFactory, DocumentFactory
from project.apitags import API_TAGS
from project.schema import AUTH_ERROR_CODES

pytestmark = pytest.mark.django_db

METHODS = ("get", "put", "patch", "post", "delete")


@functools.cache
def schema() -> dict[str, Any]:
    """Return the generated schema (as served at ``/api/schema/``)."""
    return SchemaGenerator().get_schema(request=None, public=True)


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema()["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def declared_codes(response: dict[str, Any]) -> list[str] | None:
    content = response.get("content", {}).get("application/json", {})
    parts = content.get("schema", {}).get("allOf", [])
    if len(parts) != 2:
        return None
    return parts[1]["properties"]["code"]["enum"]


OPERATION_IDS = [f"{m.upper()} {p}" for m, p, _ in operations()]


@pytest.mark.parametrize(
    ("method", "path", "operation"), operations(), ids=OPERATION_IDS
)
def test_operation_has_one_area_tag_a_summary_and_a_description(
    method, path, operation
):
    """Each operation: one area tag, a one-line summary, a description for users."""
    assert operation.get("tags", [None])[0] in API_TAGS
    assert len(operation["tags"]) == 1
    summary = operation.get("summary", "")
    assert summary
    assert "\n" not in summary
    assert len(summary) <= 80
    assert not summary.endswith(".")
    description = operation.get("description", "")
    assert len(description) >= 40
    assert description != summary


def test_operation_descriptions_are_distinct():
    """No text is shared by two operations (a leaked docstring would be)."""
    descriptions = [op["description"] for _, _, op in operations()]
    assert len(set(descriptions)) == len(descriptions)


def test_schema_lists_every_area_tag_once_in_order():
    """The schema's tags are the API's areas, each with a description."""
    assert [tag["name"] for tag in schema()["tags"]] == list(API_TAGS)
    assert all(tag["description"] for tag in schema()["tags"])


@pytest.mark.parametrize(
    ("method", "path", "operation"), operations(), ids=OPERATION_IDS
)
def test_operation_errors_declare_their_codes(method, path, operation):
    """Every JSON error response narrows ``code`` to the values it may carry."""
    for status, response in operation["responses"].items():
        if int(status) < 400 or "content" not in response:
            continue
        codes = declared_codes(response)
        assert codes, f"{method} {path} {status} declares no error codes"


@pytest.mark.parametrize(
    ("method", "path", "operation"), operations(), ids=OPERATION_IDS
)
def test_operation_declares_common_errors(method, path, operation):
    """Token errors, the URL limit and a body's errors are on every operation."""
    responses = operation["responses"]
    if any(operation.get("security", [])):  # a token is read when sent
        assert set(declared_codes(responses["401"])) >= set(AUTH_ERROR_CODES)
    assert "url_too_long" in declared_codes(responses["414"])
    assert "429" in responses
    if "requestBody" in operation:
        assert {"invalid", "parse_error"} <= set(declared_codes(responses["400"]))


@pytest.mark.parametrize(
    ("method", "path", "operation"), operations(), ids=OPERATION_IDS
)
def test_operation_query_parameters_are_described(method, path, operation):
    """Every query (and path) parameter says what it is for."""
    for parameter in operation.get("parameters", []):
        assert parameter.get("description"), (method, path, parameter["name"])


# --- every error a view answers is declared -----------------------------------


@dataclass
class Cast:
    """The users and documents an error case plays with."""

    owner: Any
    editor: Any
    viewer: Any
    stranger: Any
    doc: Any
    client_for: Callable[..., APIClient]
    settings: Any

    def as_(self, name: str) -> APIClient:
        return self.client_for(getattr(self, name))


@pytest.fixture
def cast(client_for, settings) -> Cast:
    settings.AI_DB_THREAD_SENSITIVE = True  # the AI views' ORM work on this thread
    owner, editor, viewer, stranger = (UserFactory() for _ in range(4))
    doc = DocumentFactory(owner=owner, title="Plan", body="First draft.")
    DocumentAccessFactory(document=doc, user=editor, role="editor")
    DocumentAccessFactory(document=doc, user=viewer, role="viewer")
    return Cast(owner, editor, viewer, stranger, doc, client_for, settings)


D = "/api/v1/documents/{document_id}/"
A = "/api/v1/attachments/{attachment_id}/"


def _doc(c: Cast, suffix: str = "") -> str:
    return f"/api/v1/documents/{c.doc.pk}/{suffix}"


def _pending(c: Cast) -> Attachment:
    return AttachmentFactory(document=c.doc, status=Attachment.Status.PENDING)


def _create_reused_key(c: Cast):
    client = c.as_("owner")
    client.post(
        "/api/v1/documents/", {"title": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    return client.post(
        "/api/v1/documents/", {"title": "b"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )


def _create_too_large(c: Cast):
    c.settings.DOCUMENTS_MAX_BODY_BYTES = 10
    return c.as_("owner").post("/api/v1/documents/", {"body": "x" * 11}, format="json")


def _upload(name: str, data: bytes, content_type: str):
    return SimpleUploadedFile(name, data, content_type=content_type)


def _upload_too_large(c: Cast):
    c.settings.ATTACHMENT_MAX_BYTES = 10
    return c.as_("owner").post(
        _doc(c, "attachments/"),
        {"file": _upload("pixel.png", PNG_BYTES, "image/png")},
        format="multipart",
    )


def _rejected(c: Cast) -> Attachment:
    return AttachmentFactory(
        document=c.doc,
        status=Attachment.Status.REJECTED,
        rejection_code="unsupported_type",
    )


def _grant_stale_restore(c: Cast):
    return c.as_("owner").post(_doc(c, "revisions/1/restore/"), HTTP_IF_MATCH='"9"')


CASES: list[tuple[str, str, int, str, Callable[[Cast], Any]]] = [
    # (method, path template, status, code, request)
    (
        "get",
        "/api/v1/me",
        401,
        "not_authenticated",
        lambda c: APIClient().get("/api/v1/me"),
    ),
    (
        "get",
        "/api/v1/me",
        401,
        "token_invalid",
        lambda c: APIClient().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer x.y.z"),
    ),
    (
        "patch",
        "/api/v1/me",
        400,
        "invalid",
        lambda c: c.as_("owner").patch(
            "/api/v1/me", {"display_name": "x" * 151}, format="json"
        ),
    ),
    (
        "patch",
        "/api/v1/me",
        415,
        "unsupported_media_type",
        lambda c: c.as_("owner").patch("/api/v1/me", "x", content_type="text/plain"),
    ),
    (
        "get",
        "/api/v1/documents/",
        400,
        "invalid",
        lambda c: c.as_("owner").get("/api/v1/documents/?page_size=0"),
    ),
    (
        "get",
        "/api/v1/documents/",
        400,
        "invalid_cursor",
        lambda c: c.as_("owner").get("/api/v1/documents/?cursor=bm90LWpzb24"),
    ),
    (
        "post",
        "/api/v1/documents/",
        400,
        "invalid",
        lambda c: c.as_("owner").post(
            "/api/v1/documents/", {"title": 0}, format="json"
        ),
    ),
    (
        "post",
        "/api/v1/documents/",
        400,
        "parse_error",
        lambda c: c.as_("owner").post(
            "/api/v1/documents/", "{", content_type="application/json"
        ),
    ),
    (
        "post",
        "/api/v1/documents/",
        400,
        "idempotency_key_invalid",
        lambda c: c.as_("owner").post(
            "/api/v1/documents/", {}, format="json", HTTP_IDEMPOTENCY_KEY="a b"
        ),
    ),
    ("post", "/api/v1/documents/", 422, "idempotency_key_reused", _create_reused_key),
    ("post", "/api/v1/documents/", 413, "too_large", _create_too_large),
    (
        "get",
        "/api/v1/documents/",
        414,
        "url_too_long",
        lambda c: c.as_("owner").get("/api/v1/documents/?q=" + "a" * 9000),
    ),
    (
        "patch",
        "/api/v1/me",
        400,
        "invalid",
        lambda c: c.as_("owner").patch(
            "/api/v1/me", {"display_name": 0}, format="json"
        ),
    ),
    ("get", D, 404, "not_found", lambda c: c.as_("stranger").get(_doc(c))),
    (
        "patch",
        D,
        428,
        "precondition_required",
        lambda c: c.as_("owner").patch(_doc(c), {"body": "x"}, format="json"),
    ),
    (
        "patch",
        D,
        412,
        "precondition_failed",
        lambda c: c.as_("owner").patch(
            _doc(c), {"body": "x"}, format="json", HTTP_IF_MATCH='"9"'
        ),
    ),
    (
        "patch",
        D,
        400,
        "invalid_if_match",
        lambda c: c.as_("owner").patch(
            _doc(c), {"body": "x"}, format="json", HTTP_IF_MATCH="1"
        ),
    ),
    (
        "put",
        D,
        403,
        "read_only",
        lambda c: c.as_("viewer").put(
            _doc(c), {"title": "t", "body": "b"}, format="json", HTTP_IF_MATCH='"1"'
        ),
    ),
    ("delete", D, 403, "owner_only", lambda c: c.as_("editor").delete(_doc(c))),
    (
        "delete",
        D,
        409,
        "not_trashed",
        lambda c: c.as_("owner").delete(_doc(c) + "?permanent=true"),
    ),
    (
        "delete",
        D,
        400,
        "invalid",
        lambda c: c.as_("owner").delete(_doc(c) + "?permanent=maybe"),
    ),
    (
        "post",
        D + "restore/",
        409,
        "not_trashed",
        lambda c: c.as_("owner").post(_doc(c, "restore/")),
    ),
    (
        "get",
        D + "revisions/",
        404,
        "not_found",
        lambda c: c.as_("stranger").get(_doc(c, "revisions/")),
    ),
    (
        "get",
        D + "revisions/{number}/",
        404,
        "not_found",
        lambda c: c.as_("owner").get(_doc(c, "revisions/99/")),
    ),
    (
        "post",
        D + "revisions/{number}/restore/",
        412,
        "precondition_failed",
        _grant_stale_restore,
    ),
    (
        "post",
        D + "access/",
        409,
        "is_owner",
        lambda c: c.as_("owner").post(
            _doc(c, "access/"),
            {"email": c.owner.email, "role": "viewer"},
            format="json",
        ),
    ),
    (
        "post",
        D + "access/",
        403,
        "owner_only",
        lambda c: c.as_("editor").post(
            _doc(c, "access/"),
            {"email": "a@example.com", "role": "viewer"},
            format="json",
        ),
    ),
    (
        "patch",
        D + "access/{access_id}/",
        404,
        "not_found",
        lambda c: c.as_("owner").patch(
            _doc(c, f"access/{uuid.uuid4()}/"), {"role": "viewer"}, format="json"
        ),
    ),
    (
        "delete",
        D + "access/{access_id}/",
        403,
        "owner_only",
        lambda c: c.as_("editor").delete(
            _doc(c, f"access/{c.doc.accesses.get(user=c.viewer).pk}/")
        ),
    ),
    (
        "get",
        D + "attachments/",
        404,
        "not_found",
        lambda c: c.as_("stranger").get(_doc(c, "attachments/")),
    ),
    (
        "post",
        D + "attachments/",
        415,
        "multipart_required",
        lambda c: c.as_("owner").post(
            _doc(c, "attachments/"),
            {"filename": "a.png", "content_type": "image/png", "size": 3},
            format="json",
        ),
    ),
    (
        "post",
        D + "attachments/",
        400,
        "file_missing",
        lambda c: c.as_("owner").post(
            _doc(c, "attachments/"), {"x": "1"}, format="multipart"
        ),
    ),
    (
        "post",
        D + "attachments/",
        403,
        "read_only",
        lambda c: c.as_("viewer").post(
            _doc(c, "attachments/"), {"x": "1"}, format="multipart"
        ),
    ),
    (
        "get",
        A,
        404,
        "not_found",
        lambda c: c.as_("owner").get(f"/api/v1/attachments/{uuid.uuid4()}/"),
    ),
    (
        "delete",
        A,
        403,
        "read_only",
        lambda c: c.as_("viewer").delete(
            f"/api/v1/attachments/{AttachmentFactory(document=c.doc).pk}/"
        ),
    ),
    (
        "get",
        A + "download/",
        409,
        "not_ready",
        lambda c: c.as_("owner").get(f"/api/v1/attachments/{_pending(c).pk}/download/"),
    ),
    (
        "post",
        A + "complete/",
        409,
        "upload_missing",
        lambda c: c.as_("owner").post(
            f"/api/v1/attachments/{_pending(c).pk}/complete/"
        ),
    ),
    (
        "post",
        D + "attachments/",
        415,
        "unsupported_type",
        lambda c: c.as_("owner").post(
            _doc(c, "attachments/"),
            {"file": _upload("tool.exe", b"MZ\x90\x00", "application/x-msdownload")},
            format="multipart",
        ),
    ),
    ("post", D + "attachments/", 413, "too_large", _upload_too_large),
    (
        "post",
        A + "complete/",
        409,
        "upload_rejected",
        lambda c: c.as_("owner").post(
            f"/api/v1/attachments/{_rejected(c).pk}/complete/"
        ),
    ),
    (
        "post",
        D + "revisions/{number}/restore/",
        403,
        "read_only",
        lambda c: c.as_("viewer").post(_doc(c, "revisions/1/restore/")),
    ),
    (
        "get",
        D + "export",
        400,
        "invalid",
        lambda c: c.as_("owner").get(_doc(c, "export?format=exe")),
    ),
    (
        "get",
        D + "export",
        404,
        "not_found",
        lambda c: c.as_("stranger").get(_doc(c, "export?format=md")),
    ),
    (
        "post",
        D + "links/",
        400,
        "invalid_expiry",
        lambda c: c.as_("owner").post(
            _doc(c, "links/"),
            {
                "role": "viewer",
                "audience": "anyone",
                "expires_at": "2001-01-01T00:00:00Z",
            },
            format="json",
        ),
    ),
    (
        "get",
        D + "links/",
        403,
        "owner_only",
        lambda c: c.as_("editor").get(_doc(c, "links/")),
    ),
    (
        "get",
        "/api/v1/links/{secret}/",
        404,
        "not_found",
        lambda c: APIClient().get("/api/v1/links/no-such-secret/"),
    ),
    (
        "post",
        "/api/v1/documents/import",
        400,
        "file_missing",
        lambda c: c.as_("owner").post(
            "/api/v1/documents/import", {"title": "x"}, format="multipart"
        ),
    ),
    (
        "get",
        D + "attachments/",
        400,
        "invalid",
        lambda c: c.as_("owner").get(_doc(c, "attachments/?page_size=null")),
    ),
    (
        "get",
        "/api/v1/ai/models/{name}/",
        404,
        "not_found",
        lambda c: c.as_("owner").get("/api/v1/ai/models/%0A/"),
    ),
    (
        "get",
        "/api/v1/ai/models/{name}/",
        404,
        "model_not_found",
        lambda c: c.as_("owner").get("/api/v1/ai/models/no-such-model/"),
    ),
    (
        "post",
        "/api/v1/ai/chat/completions",
        400,
        "invalid",
        lambda c: c.as_("owner").post(
            "/api/v1/ai/chat/completions", {"messages": []}, format="json"
        ),
    ),
    (
        "post",
        "/api/v1/ai/chat/completions",
        400,
        "parse_error",
        lambda c: c.as_("owner").post(
            "/api/v1/ai/chat/completions", "{", content_type="application/json"
        ),
    ),
    (
        "post",
        "/api/v1/ai/chat/completions",
        401,
        "not_authenticated",
        lambda c: APIClient().post("/api/v1/ai/chat/completions", {}, format="json"),
    ),
    (
        "post",
        "/api/v1/documents/{document_id}/ai/{action}/",
        404,
        "action_not_found",
        lambda c: c.as_("owner").post(_doc(c, "ai/sing/"), {}, format="json"),
    ),
    (
        "post",
        "/api/v1/documents/{document_id}/ai/{action}/",
        404,
        "not_found",
        lambda c: c.as_("stranger").post(_doc(c, "ai/summarize/"), {}, format="json"),
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "send"),
    CASES,
    ids=[f"{m.upper()} {p} {s} {c}" for m, p, s, c, _ in CASES],
)
def test_error_answered_is_declared(cast, method, path, status, code, send):
    """The view answers this error, and its operation declares status and code."""
    response = send(cast)

    assert (response.status_code, response.json().get("code")) == (status, code)
    responses = schema()["paths"][path][method]["responses"]
    assert str(status) in responses, f"{status} not declared on {method} {path}"
    assert code in declared_codes(responses[str(status)])
