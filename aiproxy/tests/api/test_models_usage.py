"""GET /api/v1/ai/models, /models/{name} and /usage."""

import datetime as dt
import importlib
import json

import pytest

from aiproxy.models import AIModel
from aiproxy.tests.factories import AIModelFactory, UserQuotaFactory

pytestmark = pytest.mark.django_db


def test_models_list_only_enabled_and_configured(auth_client):
    """The list holds enabled models whose provider is configured, by name."""
    AIModel.objects.all().delete()
    AIModelFactory(
        name="b-model", provider="fake", context_limit=1000, max_output_tokens=100
    )
    AIModelFactory(name="a-model", provider="mock")
    AIModelFactory(name="off", is_enabled=False)
    AIModelFactory(name="orphan", provider="missing")
    response = auth_client.get("/api/v1/ai/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["a-model", "b-model"]
    model = body["data"][1]
    assert model["object"] == "model"
    assert model["owned_by"] == "quire"
    assert (model["context_length"], model["max_output_tokens"]) == (1000, 100)
    assert isinstance(model["created"], int)


def test_models_list_fresh_install_has_mock_model(auth_client):
    """The data migration seeds the mock model, which the catalogue lists."""
    from django.apps import apps

    AIModel.objects.all().delete()
    seed = importlib.import_module("aiproxy.migrations.0002_default_mock_model")
    seed.add_mock_model(apps, None)
    response = auth_client.get("/api/v1/ai/models")
    assert [m["id"] for m in response.json()["data"]] == ["quire-mock"]


def test_models_list_unauthenticated_401(api_client):
    """The catalogue needs a signed-in caller."""
    response = api_client.get("/api/v1/ai/models")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_model_detail_unknown_404(auth_client):
    """An unknown model name is 404 model_not_found."""
    response = auth_client.get("/api/v1/ai/models/nope")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "The model does not exist or is not enabled.",
        "code": "model_not_found",
    }


def test_usage_fresh_user_full_quota(auth_client, settings):
    """A user who never called the AI has the whole default quota left."""
    settings.AI_TOKENS_PER_MONTH = 5000
    settings.AI_REQUESTS_PER_MINUTE = 7
    response = auth_client.get("/api/v1/ai/usage")
    assert response.status_code == 200
    body = response.json()
    today = dt.datetime.now(dt.UTC).date()
    assert body["period_start"] == today.replace(day=1).isoformat()
    assert body | {"period_start": None, "period_end": None} == {
        "period_start": None,
        "period_end": None,
        "tokens_limit": 5000,
        "tokens_used": 0,
        "tokens_reserved": 0,
        "tokens_remaining": 5000,
        "requests_per_minute": 7,
        "requests": 0,
        "cost": "0.0000000000",
        "by_model": [],
    }


def test_usage_after_request_counts_tokens_and_cost(auth_client, user):
    """After a request the usage shows its tokens, cost and the quota left."""
    UserQuotaFactory(user=user, tokens_per_month=5000, requests_per_minute=10)
    AIModelFactory(name="gpt-test", provider="fake")
    auth_client.post(
        "/api/v1/ai/chat/completions",
        data=json.dumps(
            {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}
        ),
        content_type="application/json",
    )
    body = auth_client.get("/api/v1/ai/usage").json()
    assert (body["tokens_limit"], body["tokens_used"], body["tokens_remaining"]) == (
        5000,
        20,
        4980,
    )
    assert body["requests"] == 1
    assert body["by_model"] == [
        {
            "model": "gpt-test",
            "requests": 1,
            "prompt_tokens": 12,
            "completion_tokens": 8,
            "cost": "0.0000280000",
        }
    ]
    assert body["cost"] == "0.0000280000"


def test_usage_other_users_not_counted(auth_client, client_for):
    """Another user's requests never show in the caller's usage."""
    from accounts.tests.factories import UserFactory

    other = client_for(UserFactory())
    AIModelFactory(name="gpt-test", provider="fake")
    other.post(
        "/api/v1/ai/chat/completions",
        data=json.dumps(
            {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}
        ),
        content_type="application/json",
    )
    body = auth_client.get("/api/v1/ai/usage").json()
    assert (body["requests"], body["tokens_used"]) == (0, 0)
