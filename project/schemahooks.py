"""Schema postprocessing hooks: links between operations, empty query values.

Both say in the schema what the server already does, for clients (and
schemathesis' stateful phase, ``make api-fuzz``) that follow it:

- :func:`add_links`: OpenAPI links from the operations that answer a
  resource to the operations that take it: a created document's ``id`` to its
  read, edit, trash and sub-resources, its ``ETag`` to the ``If-Match`` of the
  next edit, a grant's, an attachment's and a revision's id to theirs.
- :func:`allow_empty_query_values`: DRF reads an empty query value
  (``?scope=``) of an optional serializer field as absent (the field's
  default), so every optional query parameter declares
  ``allowEmptyValue: true``.
- :func:`describe_upload_bodies`: the JSON body of an upload asks for a
  direct-to-S3 upload; where the storage takes only multipart (local files),
  it answers 415 ``multipart_required``, so this server's schema offers only
  multipart there.
"""

from typing import Any

DOCUMENT_ID = "$response.body#/id"
SAME_DOCUMENT = "$request.path.document_id"
ETAG = "$response.header.ETag"

# (target operationId, its parameters) per link name.
Link = tuple[str, dict[str, str]]


def _document_links(document_id: str) -> dict[str, Link]:
    """Return the links from an answer that carries a document (``id``, ``ETag``)."""
    document = {"document_id": document_id}
    with_etag = {**document, "header.If-Match": ETAG}
    return {
        "ReadDocument": ("document_detail_get", document),
        "EditDocument": ("document_detail_patch", with_etag),
        "ReplaceDocument": ("document_detail_put", with_etag),
        "TrashDocument": ("document_detail_delete", document),
        "RestoreDocument": ("document_restore_post", document),
        "ListRevisions": ("revision_list_get", document),
        "ListAccess": ("access_list_create_get", document),
        "GrantAccess": ("access_list_create_post", document),
        "ListAttachments": ("document_attachments_get", document),
        "UploadAttachment": ("document_attachments_post", document),
        "AskAi": ("documents_ai_action_create", document),
    }


def _attachment_links() -> dict[str, Link]:
    attachment = {"attachment_id": "$response.body#/id"}
    return {
        "ReadAttachment": ("attachment_detail_get", attachment),
        "CompleteUpload": ("attachment_complete_post", attachment),
        "DownloadAttachment": ("attachment_download_get", attachment),
        "DeleteAttachment": ("attachment_detail_delete", attachment),
    }


def _grant_links() -> dict[str, Link]:
    grant = {"document_id": SAME_DOCUMENT, "access_id": "$response.body#/id"}
    return {
        "ChangeGrant": ("access_detail_patch", grant),
        "RevokeGrant": ("access_detail_delete", grant),
    }


def _revision_links() -> dict[str, Link]:
    revision = {
        "document_id": SAME_DOCUMENT,
        "number": "$response.body#/results/0/number",
    }
    return {
        "ReadRevision": ("revision_detail_get", revision),
        "RestoreRevision": ("revision_restore_post", revision),
    }


# (source operationId, status) -> its links.
LINKS: dict[tuple[str, str], dict[str, Link]] = {
    ("document_list_create_post", "201"): _document_links(DOCUMENT_ID),
    ("document_detail_get", "200"): _document_links(DOCUMENT_ID),
    ("document_detail_patch", "200"): _document_links(DOCUMENT_ID),
    ("document_detail_put", "200"): _document_links(DOCUMENT_ID),
    ("document_restore_post", "200"): _document_links(DOCUMENT_ID),
    ("revision_restore_post", "200"): _document_links(DOCUMENT_ID),
    ("revision_list_get", "200"): _revision_links(),
    ("access_list_create_post", "201"): _grant_links(),
    ("document_attachments_post", "201"): _attachment_links(),
}


def _operations(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for path_item in result.get("paths", {}).values()
        for operation in path_item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def add_links(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Postprocessing hook: add :data:`LINKS` to the responses they start from.

    A link whose source or target operation is not in the schema (a filtered
    or partial schema) is left out.
    """
    operations = _operations(result)
    for (source, status), links in LINKS.items():
        response = operations.get(source, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, (target, parameters) in links.items():
            if target in operations:
                response.setdefault("links", {})[name] = {
                    "operationId": target,
                    "parameters": dict(parameters),
                }
    return result


def allow_empty_query_values(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Postprocessing hook: optional query parameters take an empty value.

    Every query parameter of this API is a field of a DRF filter serializer,
    which reads ``?name=`` of an optional field as absent.
    """
    for operation in _operations(result).values():
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
    return result


def describe_upload_bodies(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Postprocessing hook: no JSON upload body where uploads are multipart only."""
    from attachments.adapters.storage import attachment_storage

    if attachment_storage().is_direct_upload:
        return result
    upload = _operations(result).get("document_attachments_post", {})
    content = upload.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        content.pop("application/json", None)
    return result
