import pytest

pytestmark = pytest.mark.django_db


def test_healthz_without_dependencies_answers_ok(api_client):
    """/healthz answers 200 with a JSON status."""
    response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_with_database_answers_ok(api_client):
    """/readyz answers 200 when the database is reachable."""
    response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"
