"""Settings shared by every environment; all behaviour is switched by env vars.

Each integration (S3, Cognito, AI providers) is off unless its variables are
set, in which case the embedded default (local files, local token issuer, mock
AI) is replaced. Nothing is read at import time outside this package.
"""

from pathlib import Path

import environ

from project.apitags import API_TAGS
from project.logging import logging_config
from project.runtime import ecs_private_ips
from project.secrets import database_from_secret, secret_key_from_secret

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("QUIRE_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

# --- Django core ---------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DJANGO_SECRET_KEY_SECRET_ARN = env.str("DJANGO_SECRET_KEY_SECRET_ARN", default="")
if DJANGO_SECRET_KEY_SECRET_ARN:
    SECRET_KEY = secret_key_from_secret(DJANGO_SECRET_KEY_SECRET_ARN)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# On ECS the ALB health-checks each task by its private IP (README, "Deploying").
ALLOWED_HOSTS += ecs_private_ips(env.str("ECS_CONTAINER_METADATA_URI_V4", default=""))
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "project.apps.QuireAdminConfig",  # django.contrib.admin with Quire's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "storages",
    "csp",
    "corsheaders",
    "mozilla_django_oidc",
    "project",
    "accounts",
    "documents",
    "attachments",
    "aiproxy",
    "web",
]

MIDDLEWARE = [
    # One list for WSGI and ASGI: each entry is async-native (Django's and
    # the libraries' sync-first ones through project/asyncmiddleware.py), so
    # the AI routes pay no thread hop per middleware; project/checks.py
    # refuses start-up otherwise.
    "project.middleware.request_log_middleware",
    "project.asyncmiddleware.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "project.asyncmiddleware.CSPMiddleware",
    # 414 url_too_long before any work (after CORS: browsers can read it).
    "project.middleware.url_length_middleware",
    "project.asyncmiddleware.WhiteNoiseMiddleware",
    "project.asyncmiddleware.SessionMiddleware",
    "project.asyncmiddleware.CommonMiddleware",
    "project.asyncmiddleware.CsrfViewMiddleware",
    "project.asyncmiddleware.AuthenticationMiddleware",
    "project.asyncmiddleware.MessageMiddleware",
    "project.asyncmiddleware.XFrameOptionsMiddleware",
    "project.exceptions.ApiErrorMiddleware",
]
# Django's deploy checks find its middleware by path; project/checks.py runs
# them again with the classes above mapped to the originals.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

# The longest URL (path and query string, percent-encoded) answered: longer
# is 414 url_too_long. Below gunicorn's request-line limit (gunicorn.conf.py)
# and CloudFront's 8,192 bytes, so clients get the API's JSON error.
MAX_URL_BYTES = env.int("QUIRE_MAX_URL_BYTES", default=8000)

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------
# DATABASE_SECRET_ARN (an RDS JSON secret, read once at start-up) wins over
# DATABASE_URL; the secret's host/port/dbname may come from DATABASE_HOST,
# DATABASE_PORT and DATABASE_NAME when it holds only the credentials.
DATABASE_SECRET_ARN = env.str("DATABASE_SECRET_ARN", default="")
# The services' credentials, for ``manage.py db_app_role`` in the migrate task.
DATABASE_APP_SECRET_ARN = env.str("DATABASE_APP_SECRET_ARN", default="")
if DATABASE_SECRET_ARN:
    DATABASES = {
        "default": database_from_secret(
            DATABASE_SECRET_ARN,
            defaults={
                "host": env.str("DATABASE_HOST", default=""),
                "port": env.str("DATABASE_PORT", default="5432"),
                "dbname": env.str("DATABASE_NAME", default=""),
            },
        )
    }
else:
    DATABASES = {
        "default": env.db_url(
            "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
        ),
    }
# Django's own PostgreSQL backend, tuned only through its documented knobs.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool(
    "DATABASE_CONN_HEALTH_CHECKS", default=True
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options.setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    if env.str("DATABASE_SSLMODE", default=""):
        _db_options["sslmode"] = env.str("DATABASE_SSLMODE")
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # Parameters bound on the server, and psycopg prepares a statement
        # a connection has run prepare_threshold times: the hot reads and
        # the AI quota's statements are then planned once per connection.
        # Off behind a transaction-mode pooler (PgBouncer) that cannot
        # follow prepared statements.
        _db_options["server_side_binding"] = True
        _db_options["prepare_threshold"] = env.int(
            "DATABASE_PREPARE_THRESHOLD", default=5
        )
# Workers refuse to start while migrations are unapplied (project/runtime.py).
REQUIRE_MIGRATED = env.bool("REQUIRE_MIGRATED", default=False)

# --- I18N / time ---------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Times to the second with their zone (project/formats/): staff compare them
# with log lines and the ledger, where minutes are not enough.
FORMAT_MODULE_PATH = ["project.formats"]

# --- Static and media files ----------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Files served at the site's root by whitenoise (favicon.ico).
WHITENOISE_ROOT = BASE_DIR / "project" / "root"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- REST framework ------------------------------------------------------------
# Errors, throttling, idempotency and OpenAPI: see the README's "API
# conventions". Throttle counters and idempotency keys live in the database, so
# every worker and task shares them. Scoped rates: API_THROTTLE_SCOPES is
# "scope=rate,..." and a view opts in with ``throttle_scope = "<scope>"``.
# ``links``: anonymous reads of share links, per client IP.
API_THROTTLE_SCOPES = {
    "ai": "60/min",
    "convert": "30/min",
    "links": "30/min",
} | env.dict("API_THROTTLE_SCOPES", default={})
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.CognitoAuthentication",
        # The web app's session cookie, CSRF-checked (web/authentication.py).
        "web.authentication.WebSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["project.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "project.negotiation.ContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "project.schema.AutoSchema",
    "EXCEPTION_HANDLER": "project.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": [
        "project.throttling.AnonRateThrottle",
        "project.throttling.UserRateThrottle",
        "project.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="600/min"),
        **API_THROTTLE_SCOPES,
    },
    # Hops to trust in X-Forwarded-For (ALB = 1); 0 uses the socket's address.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
}
IDEMPOTENCY_KEY_TTL = env.int("API_IDEMPOTENCY_TTL", default=24 * 3600)
IDEMPOTENCY_LOCK_TIMEOUT = env.int("API_IDEMPOTENCY_LOCK_TIMEOUT", default=120)

SPECTACULAR_SETTINGS = {
    "TITLE": "Quire API",
    "DESCRIPTION": "Documents, attachments, sharing and AI help for the Quire app. "
    "Every error is JSON `{detail, code}` (see the `Error` schema).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One tag per area, in this order (each operation's ApiDoc names its own).
    "TAGS": [
        {"name": name, "description": description}
        for name, description in API_TAGS.items()
    ],
    # The web app's session (web/authentication.py) is for its own pages on
    # this origin, not for API clients: the schema offers bearer tokens only.
    "AUTHENTICATION_WHITELIST": ["accounts.authentication.CognitoAuthentication"],
    # Choice sets that share a field name need explicit component names.
    "ENUM_NAME_OVERRIDES": {
        "CallerRoleEnum": ["owner", "editor", "viewer"],
        "GrantRoleEnum": "documents.models.DocumentAccess.GrantRole",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "project.schema.add_error_responses",
        "aiproxy.schema.add_ai_operations",
        "project.schemahooks.add_links",
        "project.schemahooks.allow_empty_query_values",
        "project.schemahooks.describe_upload_bodies",
    ],
}

# --- Identity (accounts) -------------------------------------------------------
COGNITO_AWS_REGION = env.str("COGNITO_AWS_REGION", default="")
COGNITO_USER_POOL = env.str("COGNITO_USER_POOL", default="")
COGNITO_AUDIENCE = env.list("COGNITO_AUDIENCE", default=[])  # allowed app clients
COGNITO_JWKS_URL = env.str("COGNITO_JWKS_URL", default="")
COGNITO_STAFF_GROUP = env.str("COGNITO_STAFF_GROUP", default="staff")
COGNITO_LEEWAY_SECONDS = env.int("COGNITO_LEEWAY_SECONDS", default=30)
COGNITO_JWKS_TTL_SECONDS = env.int("COGNITO_JWKS_TTL_SECONDS", default=3600)
COGNITO_JWKS_REFETCH_INTERVAL_SECONDS = env.int(
    "COGNITO_JWKS_REFETCH_INTERVAL_SECONDS", default=60
)
COGNITO_JWKS_TIMEOUT_SECONDS = env.float("COGNITO_JWKS_TIMEOUT_SECONDS", default=3.0)
# The local issuer signs tokens on laptops and in tests; it is used only while
# COGNITO_USER_POOL is unset, and production settings switch it off.
LOCAL_ISSUER_ENABLED = env.bool("QUIRE_LOCAL_ISSUER", default=True)
LOCAL_ISSUER_NAME = env.str("QUIRE_LOCAL_ISSUER_NAME", default="urn:quire:local")
LOCAL_ISSUER_KEY_PATH = env.str("QUIRE_LOCAL_ISSUER_KEY_PATH", default="")
# How long a deleted account's tombstone refuses its old tokens (at least 1).
ACCOUNTS_TOMBSTONE_RETENTION_DAYS = env.int(
    "ACCOUNTS_TOMBSTONE_RETENTION_DAYS", default=30
)
ACCOUNTS_LAST_SEEN_INTERVAL_SECONDS = env.int(
    "ACCOUNTS_LAST_SEEN_INTERVAL_SECONDS", default=60
)

# --- Documents -----------------------------------------------------------------
DOCUMENTS_MAX_BODY_BYTES = env.int("DOCUMENTS_MAX_BODY_BYTES", default=1_048_576)
DOCUMENTS_AUTOSAVE_WINDOW_SECONDS = env.int(
    "DOCUMENTS_AUTOSAVE_WINDOW_SECONDS", default=300
)
DOCUMENTS_PAGE_SIZE = env.int("DOCUMENTS_PAGE_SIZE", default=50)
# Export and import converters (documents/convert.py): each run is a child
# process with this wall-clock limit and memory cap. Below API Gateway's 29 s
# integration timeout, so the client gets our 503, not the gateway's 504.
DOCUMENTS_CONVERT_TIMEOUT_SECONDS = env.int(
    "DOCUMENTS_CONVERT_TIMEOUT_SECONDS", default=20
)
DOCUMENTS_CONVERT_MEMORY_MB = env.int("DOCUMENTS_CONVERT_MEMORY_MB", default=512)
# PDF and Word exports embed the document's own images up to this many bytes.
DOCUMENTS_EXPORT_IMAGES_MAX_BYTES = env.int(
    "DOCUMENTS_EXPORT_IMAGES_MAX_BYTES", default=20_971_520
)
# The largest file POST /api/v1/documents/import takes, and for a Word file
# the most its parts may unpack to (a zip bomb is refused before pandoc).
DOCUMENTS_IMPORT_MAX_BYTES = env.int("DOCUMENTS_IMPORT_MAX_BYTES", default=10_485_760)
DOCUMENTS_IMPORT_MAX_UNPACKED_BYTES = env.int(
    "DOCUMENTS_IMPORT_MAX_UNPACKED_BYTES", default=52_428_800
)
# How many of each document's latest versions are kept as merge bases: a save
# with an older If-Match (and Prefer: merge) is answered 412 as without it.
DOCUMENTS_MERGE_BASE_VERSIONS = env.int("DOCUMENTS_MERGE_BASE_VERSIONS", default=500)

# --- Attachments ---------------------------------------------------------------
# S3 (django-storages) when a bucket is named, else files under MEDIA_ROOT.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_ADDRESSING_STYLE = env.str("AWS_S3_ADDRESSING_STYLE", default="") or None
AWS_S3_CUSTOM_DOMAIN = env.str("AWS_S3_CUSTOM_DOMAIN", default="") or None
AWS_CLOUDFRONT_KEY_ID = env.str("AWS_CLOUDFRONT_KEY_ID", default="") or None
AWS_CLOUDFRONT_KEY = env.str("AWS_CLOUDFRONT_KEY", default="").encode() or None
AWS_DEFAULT_ACL = None
AWS_S3_FILE_OVERWRITE = False
AWS_QUERYSTRING_AUTH = True
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}
if AWS_CLOUDFRONT_KEY_ID and not (AWS_CLOUDFRONT_KEY and AWS_S3_CUSTOM_DOMAIN):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "AWS_CLOUDFRONT_KEY_ID is set: AWS_CLOUDFRONT_KEY and "
        "AWS_S3_CUSTOM_DOMAIN are required too."
    )
ATTACHMENT_KEY_PREFIX = env.str("ATTACHMENT_KEY_PREFIX", default="attachments/")
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=100 * 1024 * 1024)
ATTACHMENT_USER_QUOTA_BYTES = env.int(
    "ATTACHMENT_USER_QUOTA_BYTES", default=1024 * 1024 * 1024
)
ATTACHMENT_ALLOWED_TYPES = env.list(
    "ATTACHMENT_ALLOWED_TYPES",
    default=[
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "audio/mpeg",
        "video/mp4",
    ],
)
ATTACHMENT_UPLOAD_EXPIRES_SECONDS = env.int(
    "ATTACHMENT_UPLOAD_EXPIRES_SECONDS", default=15 * 60
)
ATTACHMENT_DOWNLOAD_EXPIRES_SECONDS = env.int(
    "ATTACHMENT_DOWNLOAD_EXPIRES_SECONDS", default=5 * 60
)
ATTACHMENT_PENDING_TTL_SECONDS = env.int(
    "ATTACHMENT_PENDING_TTL_SECONDS", default=24 * 60 * 60
)
ATTACHMENT_ORPHAN_GRACE_SECONDS = env.int(
    "ATTACHMENT_ORPHAN_GRACE_SECONDS", default=60 * 60
)

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

# --- Email ---------------------------------------------------------------------
# Console locally; production.py defaults to Amazon SES through django-ses.
EMAIL_BACKEND = env.str(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="quire@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = 10
AWS_SES_REGION_NAME = env.str(
    "AWS_SES_REGION_NAME", default=env.str("AWS_REGION", default="us-east-1")
)
AWS_SES_REGION_ENDPOINT = f"email.{AWS_SES_REGION_NAME}.amazonaws.com"
# boto3's standard endpoint override, as for every other AWS client (moto).
AWS_SES_REGION_ENDPOINT_URL = env.str(
    "AWS_ENDPOINT_URL_SESV2",
    default=env.str("AWS_ENDPOINT_URL", default=f"https://{AWS_SES_REGION_ENDPOINT}"),
)
AWS_SES_CONFIGURATION_SET = env.str("AWS_SES_CONFIGURATION_SET", default="") or None
USE_SES_V2 = True
# No GetSendQuota call before each message: services send one at a time.
AWS_SES_AUTO_THROTTLE = None

# --- Staff sign-in to the admin (runtime) ---------------------------------------
# Cognito hosted UI, OpenID Connect code flow + PKCE (project/oidc.py). On when
# COGNITO_DOMAIN and COGNITO_ADMIN_CLIENT_ID are set; then Django passwords
# are not accepted. Off: the admin's own password form (laptops, tests).
COGNITO_DOMAIN = env.str("COGNITO_DOMAIN", default="").rstrip("/")
COGNITO_ADMIN_CLIENT_ID = env.str("COGNITO_ADMIN_CLIENT_ID", default="")
ADMIN_OIDC_ENABLED = bool(COGNITO_DOMAIN and COGNITO_ADMIN_CLIENT_ID)
OIDC_RP_CLIENT_ID = COGNITO_ADMIN_CLIENT_ID
OIDC_RP_CLIENT_SECRET = env.str("COGNITO_ADMIN_CLIENT_SECRET", default="")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid email profile"
OIDC_OP_AUTHORIZATION_ENDPOINT = f"{COGNITO_DOMAIN}/oauth2/authorize"
OIDC_OP_TOKEN_ENDPOINT = f"{COGNITO_DOMAIN}/oauth2/token"
OIDC_OP_USER_ENDPOINT = f"{COGNITO_DOMAIN}/oauth2/userInfo"
OIDC_OP_ISSUER = env.str(
    "COGNITO_OIDC_ISSUER",
    default=f"https://cognito-idp.{COGNITO_AWS_REGION}.amazonaws.com/{COGNITO_USER_POOL}",
)
OIDC_OP_JWKS_ENDPOINT = f"{OIDC_OP_ISSUER}/.well-known/jwks.json"
OIDC_USE_PKCE = True
OIDC_TOKEN_USE_BASIC_AUTH = True  # client_secret_basic, as Cognito documents
OIDC_TIMEOUT = 5
OIDC_LEEWAY = 30
LOGIN_REDIRECT_URL = "/admin/"
LOGIN_REDIRECT_URL_FAILURE = "/admin/login/?failed=1"
AUTHENTICATION_BACKENDS = (
    ["project.oidc.StaffOIDCBackend"]
    if ADMIN_OIDC_ENABLED
    else ["django.contrib.auth.backends.ModelBackend"]
)

# --- Web app (web/) ---------------------------------------------------------------
# End users sign in through the Cognito hosted UI with this public app client
# (code + PKCE; add it to COGNITO_AUDIENCE too); without it, and with the
# local issuer on, a local page takes an email (never in production).
COGNITO_WEB_CLIENT_ID = env.str("COGNITO_WEB_CLIENT_ID", default="")
# Seconds a web session lasts (and a local sign-in's token).
WEB_SESSION_SECONDS = env.int("WEB_SESSION_SECONDS", default=12 * 3600)
# Extra origins the web app's scripts may connect to (the bucket's, for
# presigned POST uploads, is added from the S3 settings).
WEB_CONNECT_SRC = env.list("WEB_CONNECT_SRC", default=[])

# --- Security headers (runtime) -----------------------------------------------
# The admin and the API docs load scripts and styles only from this origin;
# Swagger UI needs inline styles and data: images. API responses (JSON) are
# never rendered, so the same policy costs them nothing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        # Chrome applies form-action to the redirect after a POST (sign-out).
        "form-action": ["'self'", *env.list("CSP_FORM_ACTION_EXTRA", default=[])],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- CORS: browser clients on other origins (django-cors-headers) -------------
# One list of origins (scheme://host[:port]) for the API and, in infra/, the
# attachment bucket (its ``webOrigins`` context): a web client that may call
# the API may also POST its uploads straight to S3. Credentials (cookies) are
# never allowed cross-origin: other origins sign in with bearer tokens, and the
# session cookie stays a same-origin affair (CSRF-protected).
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/(api/|\.well-known/)"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = (
    "authorization",
    "content-type",
    "if-match",
    "idempotency-key",
    "prefer",
    "x-request-id",
)
CORS_EXPOSE_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
    "Merged-From",
    "Preference-Applied",
)
# Seconds a browser may reuse a preflight answer (Chromium caps it at 7200).
CORS_PREFLIGHT_MAX_AGE = env.int("CORS_PREFLIGHT_MAX_AGE", default=7200)

# --- Logging, metrics, health (runtime) -----------------------------------------
# One line per record on stdout (project/logging.py): JSON, or readable lines
# at a terminal. LOG_FORMAT: auto (console at a terminal, else JSON), json,
# console.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="auto")
LOGGING_CONFIG = "project.logging.configure"
LOGGING = logging_config(LOG_LEVEL, LOG_FORMAT)
# CloudWatch Embedded Metric Format records on stdout; see project/metrics.py.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=False)
METRICS_NAMESPACE = env.str("METRICS_NAMESPACE", default="Quire")
# Seconds /readyz waits for each dependency before answering 503.
READYZ_TIMEOUT = env.float("READYZ_TIMEOUT", default=2.0)
