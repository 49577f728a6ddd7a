"""The provider registry: configured provider name → adapter instance.

Adding a provider kind is one adapter module plus one line in ``ADAPTERS``.
Adapters are imported lazily (a kind whose SDK is missing breaks only itself)
and built once per event loop: an adapter's ``aiohttp`` session belongs to the
loop it was opened on.
"""

import asyncio
import importlib
import os
import weakref
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed
from django.dispatch import receiver

from aiproxy.adapters.base import Provider, ProviderConfig, ProviderNotConfigured

ADAPTERS: dict[str, str] = {
    "mock": "aiproxy.adapters.mock.MockProvider",
    "openai": "aiproxy.adapters.openai_compat.OpenAICompatProvider",
    "anthropic": "aiproxy.adapters.anthropic.AnthropicProvider",
    "bedrock": "aiproxy.adapters.bedrock.BedrockProvider",
}

_instances: "weakref.WeakKeyDictionary[Any, dict[str, Provider]]" = (
    weakref.WeakKeyDictionary()
)
_no_loop = object()


def _env_key(name: str) -> str | None:
    return os.environ.get("AI_" + name.upper().replace("-", "_") + "_API_KEY") or None


def provider_key(name: str) -> str | None:
    """Return the current API key of provider ``name`` (never logged).

    ``aiproxy.keys.get_provider_key`` reads Secrets Manager with a TTL and
    falls back to ``AI_<NAME>_API_KEY``; without that module, the env var.
    """
    try:
        from aiproxy.keys import get_provider_key
    except ImportError:
        return _env_key(name)
    return get_provider_key(name)


def provider_config(name: str) -> ProviderConfig:
    """Return the configuration of provider ``name`` from ``AI_PROVIDERS``."""
    raw = settings.AI_PROVIDERS.get(name)
    if raw is None:
        raise ProviderNotConfigured(name)
    kind = raw.get("kind", name)
    if kind not in ADAPTERS:
        raise ProviderNotConfigured(name)
    return ProviderConfig(
        name=name,
        kind=kind,
        base_url=raw.get("base_url", ""),
        connect_timeout=float(raw.get("connect_timeout", 5.0)),
        read_timeout=float(raw.get("read_timeout", 60.0)),
        total_timeout=float(raw.get("total_timeout", 600.0)),
        max_retries=int(raw.get("max_retries", 1)),
        api_key_secret=raw.get("api_key_secret", ""),
        options=dict(raw.get("options") or {}),
        api_key=lambda: provider_key(name),
    )


def _adapter_class(kind: str) -> type:
    module_name, _, class_name = ADAPTERS[kind].rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProviderNotConfigured(kind) from exc
    return getattr(module, class_name)


def provider_get(name: str) -> Provider:
    """Return the adapter for provider ``name`` on the running event loop.

    Raise ``ProviderNotConfigured`` when the name is not configured, its
    adapter cannot be imported or its settings are incomplete.
    """
    try:
        loop: Any = asyncio.get_running_loop()
    except RuntimeError:
        loop = _no_loop
    per_loop = _instances.get(loop) if loop is not _no_loop else None
    if per_loop is not None and name in per_loop:
        return per_loop[name]
    config = provider_config(name)
    provider = _adapter_class(config.kind)(config)
    if loop is not _no_loop:
        _instances.setdefault(loop, {})[name] = provider
    return provider


def cache_clear() -> None:
    """Forget every built adapter (settings changed, or tests)."""
    _instances.clear()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("AI_"):
        cache_clear()


HTTP_KINDS = ("openai", "anthropic")


def provider_names() -> list[str]:
    """Return the configured provider names (``AI_PROVIDERS``), sorted."""
    return sorted(settings.AI_PROVIDERS)


def provider_problem(name: str) -> str | None:
    """Return why provider ``name`` cannot answer yet, or None if it can.

    Read from settings and the environment only (never Secrets Manager): a
    secret that is named is taken as configured. The text names variables,
    never values.
    """
    raw = settings.AI_PROVIDERS.get(name)
    prefix = "AI_" + name.upper().replace("-", "_") + "_"
    if raw is None:
        return f"not in AI_PROVIDERS ({', '.join(provider_names()) or 'none'})"
    kind = raw.get("kind", name)
    if kind not in ADAPTERS:
        return f"{prefix}KIND {kind!r} is not one of {', '.join(sorted(ADAPTERS))}"
    if kind == "openai" and not raw.get("base_url"):
        return f"no {prefix}BASE_URL"
    if kind in HTTP_KINDS and not (
        raw.get("api_key_secret") or os.environ.get(prefix + "API_KEY", "").strip()
    ):
        return f"no {prefix}API_KEY_SECRET or {prefix}API_KEY"
    if kind == "bedrock" and not (
        (raw.get("options") or {}).get("region")
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    ):
        return f"no {prefix}REGION (or AWS_REGION)"
    return None


@checks.register("aiproxy")
def check_providers(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Report provider settings that cannot work, naming variables, not values.

    A key or header with a line break, a base URL that is not http(s) and an
    unreadable CA bundle are errors; a proxy the upstream client cannot use
    (SOCKS, ``https://``) is a warning: start-up goes on and that provider
    answers 503 ``ai_not_configured``.
    """
    from yarl import URL

    from aiproxy.adapters.anthropic import DEFAULT_BASE_URL
    from aiproxy.adapters.upstream import configuration_problem, env_prefix, proxy_for
    from aiproxy.keys import key_problem

    messages: list[checks.CheckMessage] = []
    for name, raw in settings.AI_PROVIDERS.items():
        prefix = env_prefix(name)
        key = os.environ.get(prefix + "API_KEY", "").strip()
        problem = key_problem(key) if key else None
        if problem:
            messages.append(
                checks.Error(f"{prefix}API_KEY {problem}.", id="aiproxy.E001")
            )
        kind = raw.get("kind", name)
        default = DEFAULT_BASE_URL if kind == "anthropic" else ""
        base_url = raw.get("base_url") or default
        if kind not in HTTP_KINDS or not base_url:
            continue
        problem = configuration_problem(
            provider=name,
            base_url=base_url,
            headers={},
            ca_bundle=str((raw.get("options") or {}).get("ca_bundle") or ""),
            check_proxy=False,
        )
        if problem:
            messages.append(checks.Error(problem + ".", id="aiproxy.E002"))
            continue
        _, problem = proxy_for(URL(base_url))
        if problem:
            messages.append(
                checks.Warning(
                    problem + f"; provider {name} answers 503 until it is fixed.",
                    id="aiproxy.W001",
                )
            )
    return messages
