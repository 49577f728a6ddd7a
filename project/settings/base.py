"""Settings shared by every environment; all behaviour is switched by env vars.

Each integration (S3, Cognito, AI providers) is off unless its variables are
set, in which case the embedded default (local files, local token issuer, mock
AI) is replaced. Nothing is read at import time outside this package.

The settings of one concern each live in a module of this package, imported
here: environment (paths and the ``env`` reader), storage, identity, ai,
security and observability. Only local, test and production are meant for
``DJANGO_SETTINGS_MODULE``.
"""

from project.apitags import API_TAGS
from project.runtime import ecs_private_ips
from project.secrets import database_from_secret, secret_key_from_secret
from project.settings.ai import *  # noqa: F403
from project.settings.environment import BASE_DIR, VAR_DIR, env
from project.settings.identity import *  # noqa: F403
from project.settings.observability import *  # noqa: F403
from project.settings.security import *  # noqa: F403
from project.settings.storage import *  # noqa: F403

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
    "DEFAULT_RENDERER_CLASSES": ["project.renderers.JSONRenderer"],
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
# Limits and lifetimes; the bucket and S3 storage are in storage.py.
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
