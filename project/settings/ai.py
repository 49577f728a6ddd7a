"""AI proxy settings (providers, quotas, limits), imported by base.py.

Not a ``DJANGO_SETTINGS_MODULE`` of its own; the embedded default is the
mock provider.
"""

from project.settings.environment import env

# --- AI proxy ------------------------------------------------------------------
# Provider keys (aiproxy.keys): seconds a Secrets Manager key is cached.
AI_KEY_CACHE_TTL = env.float("AI_KEY_CACHE_TTL", default=300.0)
# AI_PROVIDERS names the configured provider instances; each one reads
# AI_<NAME>_KIND (adapter: openai, anthropic, bedrock, mock; default: the name,
# else openai), AI_<NAME>_BASE_URL, AI_<NAME>_API_KEY_SECRET (Secrets Manager),
# AI_<NAME>_API_KEY (env fallback, read by aiproxy.keys), timeouts, region, and
# for the HTTP kinds AI_<NAME>_CA_BUNDLE (PEM file trusted instead of the
# default store) and AI_<NAME>_MAX_CONNECTIONS (upstream requests at once).
AI_PROVIDER_NAMES = env.list("AI_PROVIDERS", default=["mock"])


def _ai_provider(name: str) -> dict:
    prefix = "AI_" + name.upper().replace("-", "_") + "_"
    known = {"openai", "anthropic", "bedrock", "mock"}
    return {
        "kind": env.str(prefix + "KIND", default=name if name in known else "openai"),
        "base_url": env.str(prefix + "BASE_URL", default=""),
        "api_key_secret": env.str(prefix + "API_KEY_SECRET", default=""),
        "connect_timeout": env.float(prefix + "CONNECT_TIMEOUT", default=5.0),
        "read_timeout": env.float(prefix + "READ_TIMEOUT", default=60.0),
        "total_timeout": env.float(prefix + "TOTAL_TIMEOUT", default=600.0),
        "max_retries": env.int(prefix + "MAX_RETRIES", default=1),
        "options": {
            "region": env.str(prefix + "REGION", default=""),
            "chunk_delay": env.float(prefix + "CHUNK_DELAY", default=0.01),
            "ca_bundle": env.str(prefix + "CA_BUNDLE", default=""),
            "max_connections": env.int(prefix + "MAX_CONNECTIONS", default=1000),
        },
    }


AI_PROVIDERS = {name: _ai_provider(name) for name in AI_PROVIDER_NAMES}
# Bytes an upstream answer may hold, decoded (aiproxy.adapters.upstream);
# past it the call fails with 502 upstream_error.
AI_UPSTREAM_MAX_RESPONSE_BYTES = env.int(
    "AI_UPSTREAM_MAX_RESPONSE_BYTES", default=32 * 1024 * 1024
)
AI_DEFAULT_MODEL = env.str("AI_DEFAULT_MODEL", default="quire-mock")
AI_TOKENS_PER_MONTH = env.int("AI_TOKENS_PER_MONTH", default=1_000_000)
AI_REQUESTS_PER_MINUTE = env.int("AI_REQUESTS_PER_MINUTE", default=60)
AI_MAX_TOKENS_DEFAULT = env.int("AI_MAX_TOKENS_DEFAULT", default=1024)
AI_MAX_TOKENS_CAP = env.int("AI_MAX_TOKENS_CAP", default=8192)
AI_MAX_BODY_BYTES = env.int("AI_MAX_BODY_BYTES", default=512 * 1024)
AI_MAX_MESSAGES = env.int("AI_MAX_MESSAGES", default=200)
AI_DOCUMENT_MAX_CHARS = env.int("AI_DOCUMENT_MAX_CHARS", default=60_000)
AI_STALE_RESERVATION_SECONDS = env.int("AI_STALE_RESERVATION_SECONDS", default=900)
# Quota/ledger queries of the async views run on a thread pool (False) rather
# than the one thread-sensitive thread (True, what the test client needs).
AI_DB_THREAD_SENSITIVE = env.bool("AI_DB_THREAD_SENSITIVE", default=False)
# Size of that pool per process (each thread holds one database connection).
# Small on purpose: the queries are short, and more threads than that only
# fight the event loop for the GIL (2 threads: 571 req/s; 8: 282; BENCHMARKS.md).
AI_DB_THREADS = env.int("AI_DB_THREADS", default=2)
# Seconds a process remembers an enabled model (aiproxy.selectors); 0 = off.
AI_MODEL_CACHE_SECONDS = env.int("AI_MODEL_CACHE_SECONDS", default=5)
