import threading
from collections.abc import Callable

from django.db import connection

import pytest

from documents.models import Document

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 20


def run_writers_at_once(write: Callable[[int, Callable[[], None]], None]) -> None:
    """Run ``write(n, start)`` for each writer in its own thread, and wait.

    Each calls ``start()`` when ready to send: all are released together.
    Each thread's database connection is closed when it ends.
    """
    barrier = threading.Barrier(WRITERS, timeout=30)

    def run(n: int) -> None:
        try:
            write(n, barrier.wait)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


@pytest.mark.slow
@pytest.mark.postgresql  # row locking; SQLite serialises writers
def test_document_patch_concurrent_same_if_match_exactly_one_wins(client_for):
    """20 threads PATCH with the same If-Match: one 200, nineteen 412 (PostgreSQL)."""
    from accounts.tests.factories import UserFactory
    from documents.tests.factories import DocumentFactory

    owner = UserFactory()
    doc = DocumentFactory(owner=owner, body="start")
    url = f"/api/v1/documents/{doc.pk}/"
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def write(n: int, start: Callable[[], None]) -> None:
        client = client_for(owner)
        start()
        response = client.patch(
            url, {"body": f"writer {n}"}, format="json", HTTP_IF_MATCH='"1"'
        )
        with lock:
            results.append((response.status_code, response.json()))

    run_writers_at_once(write)

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


@pytest.mark.slow
@pytest.mark.postgresql  # row locking; SQLite serialises writers
def test_document_patch_concurrent_stale_merges_lose_no_accepted_edit(client_for):
    """Writers of different lines, all from version 1 with Prefer: merge, at once.

    Each answer is a 200 (merged, perhaps after retries) or a 412 (writers
    kept getting in first); every edit answered 200 is in the final body,
    no edit answered 412 is, and each 200 made exactly one version.
    """
    from accounts.tests.factories import UserFactory
    from documents.tests.factories import DocumentFactory

    owner = UserFactory()
    lines = [f"line {n}\n" for n in range(WRITERS)]
    doc = DocumentFactory(owner=owner, body="\n".join(lines))
    url = f"/api/v1/documents/{doc.pk}/"
    results: dict[int, int] = {}
    lock = threading.Lock()

    def write(n: int, start: Callable[[], None]) -> None:
        client = client_for(owner)
        edited = list(lines)
        edited[n] = f"line {n} edited by writer {n}\n"
        start()
        response = client.patch(
            url,
            {"body": "\n".join(edited)},
            format="json",
            HTTP_IF_MATCH='"1"',
            HTTP_PREFER="merge",
        )
        with lock:
            results[n] = response.status_code

    run_writers_at_once(write)

    assert len(results) == WRITERS
    assert set(results.values()) <= {200, 412}
    doc.refresh_from_db()
    accepted = [n for n, status in results.items() if status == 200]
    assert accepted
    assert doc.version == 1 + len(accepted)
    for n, status in results.items():
        edit = f"line {n} edited by writer {n}\n"
        assert (edit in doc.body) is (status == 200), (n, status, doc.body)
