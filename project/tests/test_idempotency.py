"""``Idempotency-Key``: retries replay the first response instead of re-running."""

import io
import threading
from datetime import timedelta

from django.core.management import call_command
from django.db import connection
from django.utils import timezone

import pytest
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from accounts.tests.factories import UserFactory
from project.idempotency import request_fingerprint
from project.models import IdempotencyKey
from project.tests import views

pytestmark = [pytest.mark.django_db, pytest.mark.urls("project.tests.urls")]

URL = "/api/test/things"


@pytest.fixture(autouse=True)
def _reset_view_state():
    views.ATTEMPTS.clear()
    views.CREATED.clear()
    views.STARTED.clear()
    views.RELEASE.clear()
    yield
    views.RELEASE.set()


def post(client, body, key="key-1", url=URL):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(url, data=body, format="json", headers=headers)


def test_idempotent_without_key_runs_every_time(auth_client):
    """Without the header every POST creates a new thing."""
    first = post(auth_client, {"title": "a"}, key=None)
    second = post(auth_client, {"title": "a"}, key=None)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert len(views.CREATED) == 2
    assert IdempotencyKey.objects.count() == 0


def test_idempotent_retry_same_request_replays_first_response(auth_client):
    """A retry gets the first status, body and Location; the view runs once."""
    first = post(auth_client, {"title": "a"})
    retry = post(auth_client, {"title": "a"})
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert retry.status_code == 201
    assert retry.json() == first.json() == {"id": views.CREATED[0], "title": "a"}
    assert retry["Location"] == first["Location"]
    assert retry["Idempotent-Replayed"] == "true"
    assert "X-Other" not in retry
    assert [first.json()["id"]] == views.CREATED


def test_idempotent_retry_replays_byte_identical_body(auth_client):
    """The replayed body is the same JSON text as the first one."""
    first = post(auth_client, {"title": "ü"})
    retry = post(auth_client, {"title": "ü"})
    assert retry.content == first.content


def test_idempotent_same_key_different_body_answers_422(auth_client):
    """Reusing a key for another request is 422 and runs nothing."""
    post(auth_client, {"title": "a"})
    response = post(auth_client, {"title": "b"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": "This Idempotency-Key was used for a different request.",
        "code": "idempotency_key_reused",
    }
    assert views.ATTEMPTS == ["a"]


def test_idempotent_same_key_other_path_answers_422(auth_client):
    """The path (with query string) is part of the request's identity."""
    post(auth_client, {"title": "a"})
    response = post(auth_client, {"title": "a"}, url=URL + "?draft=1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert views.ATTEMPTS == ["a"]


def test_idempotent_keys_are_per_user(client_for):
    """Two users may use the same key independently."""
    first = post(client_for(UserFactory()), {"title": "a"})
    second = post(client_for(UserFactory()), {"title": "a"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert "Idempotent-Replayed" not in second


@pytest.mark.parametrize("key", ["", "a" * 256, "has space", "clé", "tab\tkey"])
def test_idempotent_invalid_key_answers_400(auth_client, key):
    """An empty, too long or non-printable-ASCII key is 400; nothing runs."""
    response = post(auth_client, {"title": "a"}, key=key)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Idempotency-Key must be 1 to 255 printable ASCII characters.",
        "code": "idempotency_key_invalid",
    }
    assert views.ATTEMPTS == []


def test_idempotent_longest_valid_key_is_accepted(auth_client):
    """A 255-character key works."""
    response = post(auth_client, {"title": "a"}, key="k" * 255)
    assert response.status_code == 201
    assert IdempotencyKey.objects.get().key == "k" * 255


def test_idempotent_validation_error_is_final_and_replayed(auth_client):
    """A 4xx outcome such as invalid input is stored and replayed."""
    first = post(auth_client, {"title": ""})
    retry = post(auth_client, {"title": ""})
    assert first.status_code == retry.status_code == 400
    assert (
        retry.json()
        == first.json()
        == {
            "detail": "Invalid input.",
            "code": "invalid",
            "fields": {"title": ["This field may not be blank."]},
        }
    )
    assert retry["Idempotent-Replayed"] == "true"


def test_idempotent_transient_conflict_is_not_stored(auth_client):
    """A 409 from the view frees the key: the retry runs the view again."""
    first = post(auth_client, {"title": "busy"})
    retry = post(auth_client, {"title": "busy"})
    assert first.status_code == retry.status_code == 409
    assert retry.json() == {"detail": "Busy.", "code": "busy"}
    assert "Idempotent-Replayed" not in retry
    assert views.ATTEMPTS == ["busy", "busy"]
    assert IdempotencyKey.objects.count() == 0


def test_idempotent_server_error_is_not_stored(user):
    """A crash (500) frees the key: the retry runs the view again."""
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user=user)
    first = post(client, {"title": "crash"})
    retry = post(client, {"title": "crash"})
    assert first.status_code == retry.status_code == 500
    assert retry.json() == {
        "detail": "A server error occurred.",
        "code": "server_error",
    }
    assert views.ATTEMPTS == ["crash", "crash"]
    assert IdempotencyKey.objects.count() == 0


def test_idempotent_retry_while_first_runs_answers_409(auth_client):
    """A retry that arrives while the first request runs is 409 in_progress."""
    response = post(auth_client, {"title": "reenter"})
    assert response.status_code == 201
    assert response.json()["nested"] == {
        "status": 409,
        "body": {
            "detail": "A request with this Idempotency-Key is still being processed.",
            "code": "idempotency_in_progress",
        },
    }
    assert len(views.CREATED) == 1


def test_idempotent_expired_key_runs_again(auth_client):
    """After the TTL the key is forgotten: the same request runs anew."""
    first = post(auth_client, {"title": "a"})
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    retry = post(auth_client, {"title": "a"})
    assert retry.status_code == 201
    assert retry.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in retry
    assert IdempotencyKey.objects.count() == 1


def test_idempotent_key_stored_for_ttl(auth_client, settings):
    """The key expires IDEMPOTENCY_KEY_TTL seconds after the first request."""
    before = timezone.now()
    post(auth_client, {"title": "a"})
    record = IdempotencyKey.objects.get()
    ttl = timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)
    assert settings.IDEMPOTENCY_KEY_TTL == 24 * 3600
    assert before + ttl <= record.expires_at <= timezone.now() + ttl
    assert record.response_status == 201


def test_idempotent_abandoned_in_progress_key_is_taken_over(user, auth_client):
    """A key left "in progress" by a dead process is reclaimed after the timeout."""
    request = APIRequestFactory().post(
        URL, data={"title": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="key-1"
    )
    stuck = IdempotencyKey.objects.create(
        user=user,
        key="key-1",
        request_hash=request_fingerprint(Request(request)),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    IdempotencyKey.objects.filter(pk=stuck.pk).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    response = post(auth_client, {"title": "a"})
    assert response.status_code == 201
    stuck.refresh_from_db()
    assert stuck.response_status == 201


def test_idempotent_anonymous_request_is_not_tracked(api_client):
    """Anonymous requests are refused by the view's auth before any key is kept."""
    response = post(api_client, {"title": "a"})
    assert response.status_code == 401
    assert IdempotencyKey.objects.count() == 0


def test_idempotent_keys_deleted_with_their_user(user, auth_client):
    """Stored responses are user data: deleting the user deletes them."""
    post(auth_client, {"title": "a"})
    user.delete()
    assert IdempotencyKey.objects.count() == 0


def test_purge_idempotency_keys_deletes_only_expired():
    """The purge command deletes expired keys and keeps live ones."""
    user = UserFactory()
    now = timezone.now()
    IdempotencyKey.objects.create(
        user=user, key="old", request_hash="x", expires_at=now - timedelta(seconds=1)
    )
    IdempotencyKey.objects.create(
        user=user, key="live", request_hash="x", expires_at=now + timedelta(hours=1)
    )
    out = io.StringIO()
    call_command("purge_idempotency_keys", stdout=out)
    assert out.getvalue() == "deleted 1 expired idempotency keys\n"
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["live"]


def test_idempotent_operation_documents_the_header(api_client):
    """The schema lists the optional Idempotency-Key header on the operation."""
    schema = api_client.get("/api/schema/?format=json").json()
    parameters = schema["paths"][URL]["post"]["parameters"]
    assert [(p["name"], p["in"], p.get("required", False)) for p in parameters] == [
        ("Idempotency-Key", "header", False)
    ]


def _threaded_posts(user, count, body):
    """Send ``count`` identical POSTs at once from threads; return responses."""
    barrier = threading.Barrier(count)
    responses = [None] * count

    def send(index):
        try:
            client = APIClient()
            client.force_authenticate(user=user)
            barrier.wait(timeout=10)
            responses[index] = post(client, body)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, responses


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql  # concurrency
def test_idempotent_concurrent_duplicates_run_the_view_once():
    """Of simultaneous identical requests one runs; the others get 409 or a replay."""
    user = UserFactory()
    views.RELEASE.set()  # the "slow" view does not wait
    threads, responses = _threaded_posts(user, 8, {"title": "slow"})
    for thread in threads:
        thread.join(timeout=30)
    statuses = sorted(r.status_code for r in responses)
    assert len(views.CREATED) == 1
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    for response in responses:
        if response.status_code == 201:
            assert response.json() == {"id": views.CREATED[0], "title": "slow"}
        else:
            assert response.json()["code"] == "idempotency_in_progress"
            assert response["Retry-After"] == "1"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql  # concurrency
def test_idempotent_duplicate_while_first_blocks_answers_409():
    """While the first request is held inside the view, duplicates get 409."""
    user = UserFactory()
    first_threads, first = _threaded_posts(user, 1, {"title": "slow"})
    assert views.STARTED.wait(timeout=10)
    dup_threads, duplicates = _threaded_posts(user, 4, {"title": "slow"})
    for thread in dup_threads:
        thread.join(timeout=30)
    views.RELEASE.set()
    for thread in first_threads:
        thread.join(timeout=30)
    assert [r.status_code for r in duplicates] == [409] * 4
    assert duplicates[0].json() == {
        "detail": "A request with this Idempotency-Key is still being processed.",
        "code": "idempotency_in_progress",
    }
    assert first[0].status_code == 201
    assert views.ATTEMPTS == ["slow"]
    client = APIClient()
    client.force_authenticate(user=user)
    replay = post(client, {"title": "slow"})
    assert replay.status_code == 201
    assert replay.json() == first[0].json()
