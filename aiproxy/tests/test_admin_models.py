"""The AI model catalogue in the admin: configured providers, prices per 1M tokens."""

from decimal import Decimal

from django.core.exceptions import ValidationError

import pytest

from aiproxy.models import AIModel
from aiproxy.providers import provider_problem
from aiproxy.tests.factories import AIModelFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/aiproxy/aimodel/add/"


def _form(**changes):
    data = {
        "name": "gpt-small",
        "provider": "fake",
        "upstream_model": "gpt-4o-mini",
        "is_enabled": "on",
        "context_limit": "8192",
        "max_output_tokens": "1024",
        "input_price_per_million": "0.15",
        "output_price_per_million": "0.60",
    }
    data.update(changes)
    return data


def test_model_add_stores_prices_per_token_from_per_million(staff_client):
    """Prices typed per 1M tokens are stored per token, exactly."""
    response = staff_client.post(ADD, _form())
    assert response.status_code == 302
    model = AIModel.objects.get(name="gpt-small")
    assert model.input_price == Decimal("0.00000015")
    assert model.output_price == Decimal("0.0000006")


def test_model_add_refuses_an_unconfigured_provider(staff_client):
    """A typo in the provider ("opena1") is refused, naming the configured ones."""
    response = staff_client.post(ADD, _form(provider="opena1"))
    assert response.status_code == 200
    errors = response.context_data["adminform"].form.errors["provider"]
    assert errors == [
        '"opena1" is not a configured provider. Configured: fake, mock '
        "(the AI_PROVIDERS setting)."
    ]
    assert not AIModel.objects.filter(name="gpt-small").exists()


def test_model_add_offers_only_configured_providers(staff_client):
    """The provider is a choice of the configured providers."""
    response = staff_client.get(ADD)
    field = response.context_data["adminform"].form.fields["provider"]
    assert [value for value, _label in field.choices] == ["fake", "mock"]


def test_model_change_shows_prices_per_million(staff_client):
    """The change page shows the stored per-token prices per 1M tokens."""
    model = AIModelFactory(input_price=Decimal("0.0000025"))
    response = staff_client.get(f"/admin/aiproxy/aimodel/{model.pk}/change/")
    form = response.context_data["adminform"].form
    assert form.initial["input_price_per_million"] == Decimal("2.50")


def test_model_with_unconfigured_provider_cannot_be_saved_as_is(staff_client):
    """A model whose provider left the settings is shown, and saving explains why."""
    model = AIModelFactory(provider="gone")
    url = f"/admin/aiproxy/aimodel/{model.pk}/change/"
    assert b"gone (not configured)" in staff_client.get(url).content
    response = staff_client.post(url, _form(name=model.name, provider="gone"))
    errors = response.context_data["adminform"].form.errors["provider"]
    assert errors == [
        '"gone" is not a configured provider. Configured: fake, mock '
        "(the AI_PROVIDERS setting)."
    ]


def test_model_clean_refuses_an_unconfigured_provider():
    """The model's own validation refuses a provider not in AI_PROVIDERS."""
    model = AIModelFactory.build(provider="opena1")
    with pytest.raises(ValidationError) as caught:
        model.full_clean()
    assert "provider" in caught.value.message_dict


def test_model_list_shows_whether_the_provider_is_configured(staff_client, settings):
    """The "configured" column is true for a usable provider, false otherwise."""
    settings.AI_PROVIDERS = {**settings.AI_PROVIDERS, "nokey": {"kind": "openai"}}
    AIModelFactory(name="usable", provider="mock")
    AIModelFactory(name="unusable", provider="nokey")
    response = staff_client.get("/admin/aiproxy/aimodel/")
    rows = {
        row.name: response.context_data["cl"].model_admin.is_configured(row)
        for row in response.context_data["cl"].result_list
        if row.name in {"usable", "unusable"}
    }
    assert rows == {"usable": True, "unusable": False}
    assert b"$0.15" not in response.content  # the factory's prices are per token
    assert b"$1.00" in response.content


@pytest.mark.parametrize(
    ("name", "config", "env", "problem"),
    [
        ("absent", None, {}, "not in AI_PROVIDERS (fake, mock)"),
        ("odd", {"kind": "telepathy"}, {}, "AI_ODD_KIND 'telepathy' is not one of"),
        ("nourl", {"kind": "openai"}, {}, "no AI_NOURL_BASE_URL"),
        (
            "nokey",
            {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"},
            {},
            "no AI_NOKEY_API_KEY_SECRET or AI_NOKEY_API_KEY",
        ),
        (
            "keyed",
            {"kind": "anthropic"},
            {"AI_KEYED_API_KEY": "sk-x"},
            None,
        ),
        ("secret", {"kind": "anthropic", "api_key_secret": "arn:x"}, {}, None),
        ("mock2", {"kind": "mock"}, {}, None),
    ],
)
def test_provider_problem_names_the_missing_setting(
    settings, monkeypatch, name, config, env, problem
):
    """Each provider's problem names the variable to set, never a value."""
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    if config is not None:
        settings.AI_PROVIDERS = {**settings.AI_PROVIDERS, name: config}
    found = provider_problem(name)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(problem)


def test_provider_problem_of_bedrock_needs_a_region(settings, monkeypatch):
    """A Bedrock provider without a region is not configured; with one it is."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    settings.AI_PROVIDERS = {"br": {"kind": "bedrock", "options": {}}}
    assert provider_problem("br") == "no AI_BR_REGION (or AWS_REGION)"
    settings.AI_PROVIDERS = {"br": {"kind": "bedrock", "options": {"region": "x"}}}
    assert provider_problem("br") is None
