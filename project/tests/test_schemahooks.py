"""The schema's links and empty query values say what the server does."""

import pytest

from documents.models import Document
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client) -> dict:
    return api_client.get("/api/schema/?format=json").json()


def _operations(schema: dict) -> dict[str, dict]:
    return {
        operation["operationId"]: operation
        for path_item in schema["paths"].values()
        for operation in path_item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def _links(schema: dict):
    for source, operation in _operations(schema).items():
        for status, response in operation["responses"].items():
            for name, link in response.get("links", {}).items():
                yield source, status, name, link


def test_every_link_names_an_operation_and_its_parameters(schema):
    """Each link's target exists and takes every parameter the link sets."""
    operations = _operations(schema)
    links = list(_links(schema))
    assert len(links) > 20
    for source, status, name, link in links:
        target = operations[link["operationId"]]
        taken = {(p["in"], p["name"]) for p in target.get("parameters", [])}
        for key in link["parameters"]:
            location, _, parameter = key.rpartition(".")
            assert (location or "path", parameter) in taken, (source, status, name)


def test_following_the_links_creates_reads_and_edits_a_document(
    schema, user, client_for
):
    """create -> read (its id) -> edit (its ETag as If-Match), as the links say."""
    create = _operations(schema)["document_list_create_post"]["responses"]["201"]
    read = create["links"]["ReadDocument"]["parameters"]
    edit = _operations(schema)["document_detail_get"]["responses"]["200"]["links"][
        "EditDocument"
    ]["parameters"]
    assert read == {"document_id": "$response.body#/id"}
    assert edit == {
        "document_id": "$response.body#/id",
        "header.If-Match": "$response.header.ETag",
    }
    client = client_for(user)
    created = client.post("/api/v1/documents/", {"title": "A"}, format="json")

    fetched = client.get(f"/api/v1/documents/{created.json()['id']}/")
    edited = client.patch(
        f"/api/v1/documents/{fetched.json()['id']}/",
        {"title": "B"},
        format="json",
        HTTP_IF_MATCH=fetched["ETag"],
    )

    assert edited.status_code == 200
    assert edited.json()["version"] == 2


def test_optional_query_parameters_allow_an_empty_value(schema):
    """Every optional query parameter declares allowEmptyValue."""
    query = [
        parameter
        for operation in _operations(schema).values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    ]
    assert query
    assert all(p.get("allowEmptyValue") for p in query if not p.get("required"))


def test_empty_list_filters_read_as_absent(user, client_for):
    """``?scope=&ordering=&q=&cursor=&page_size=`` lists as no filter does."""
    DocumentFactory(owner=user)
    client = client_for(user)

    plain = client.get("/api/v1/documents/")
    empty = client.get("/api/v1/documents/?scope=&ordering=&q=&cursor=&page_size=")

    assert empty.status_code == 200
    assert empty.json() == plain.json()


def test_empty_revision_filters_read_as_absent(user, client_for):
    """``?cursor=&page_size=`` on revisions lists as no filter does."""
    document = DocumentFactory(owner=user)
    client = client_for(user)
    url = f"/api/v1/documents/{document.pk}/revisions/"

    empty = client.get(url + "?cursor=&page_size=")

    assert empty.status_code == 200
    assert empty.json() == client.get(url).json()


def test_empty_permanent_reads_as_absent(user, client_for):
    """``DELETE ?permanent=`` moves the document to the trash, as no flag does."""
    document = DocumentFactory(owner=user)

    response = client_for(user).delete(f"/api/v1/documents/{document.pk}/?permanent=")

    assert response.status_code == 204
    assert Document.objects.get(pk=document.pk).trashed_at is not None


def test_local_storage_upload_offers_only_multipart(schema, user, client_for):
    """With local files the upload takes multipart only; JSON is 415, as declared."""
    upload = _operations(schema)["document_attachments_post"]["requestBody"]
    document = DocumentFactory(owner=user)

    response = client_for(user).post(
        f"/api/v1/documents/{document.pk}/attachments/",
        {"filename": "a.txt", "content_type": "text/plain", "size": 1},
        format="json",
    )

    assert set(upload["content"]) == {"multipart/form-data"}
    assert response.status_code == 415
    assert response.json()["code"] == "multipart_required"
