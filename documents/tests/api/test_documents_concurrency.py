import threading

from django.db import connection

import pytest

from documents.models import Document

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 20


@pytest.mark.slow
@pytest.mark.postgresql  # row locking; SQLite serialises writers
def test_document_patch_concurrent_same_if_match_exactly_one_wins(client_for):
    """20 threads PATCH with the same If-Match: one 200, nineteen 412 (PostgreSQL)."""
    from accounts.tests.factories import UserFactory
    from documents.tests.factories import DocumentFactory

    owner = UserFactory()
    doc = DocumentFactory(owner=owner, body="start")
    url = f"/api/v1/documents/{doc.pk}/"
    barrier = threading.Barrier(WRITERS, timeout=30)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        client = client_for(owner)
        try:
            barrier.wait()
            response = client.patch(
                url, {"body": f"writer {n}"}, format="json", HTTP_IF_MATCH='"1"'
            )
            with lock:
                results.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [412] * (WRITERS - 1)
    winner = next(body for status, body in results if status == 200)
    doc.refresh_from_db()
    assert doc.version == 2
    assert doc.body == winner["body"]
    assert all(
        body["current"]["body"] == winner["body"]
        for status, body in results
        if status == 412
    )
    assert Document.objects.get(pk=doc.pk).revisions.count() <= 2
