"""Test settings: the embedded defaults, fast hashing, in-memory email.

DATABASE_URL picks PostgreSQL (as CI does); without it tests run on SQLite.
"""

from project.logging import logging_config
from project.settings.base import *  # noqa: F403
from project.settings.base import DATABASES, LOG_LEVEL, REST_FRAMEWORK, env

SECRET_KEY = "test-only-secret-key-not-for-production"  # noqa: S105
DEBUG = False
# Tests read the JSON lines, at a terminal too.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(LOG_LEVEL, LOG_FORMAT)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if not env.str("DATABASE_URL", default=""):
    DATABASES["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}

# Throttling off by default (no counter query, no 429 in unrelated tests);
# project/tests/test_throttling.py sets rates where it tests them.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]),
    # Production's renderer, each answer compared with DRF's own.
    "DEFAULT_RENDERER_CLASSES": ["project.tests.checked_renderer.CheckedJSONRenderer"],
}

# Tests don't run collectstatic: let whitenoise look files up per request
# instead of warning at start-up that STATIC_ROOT does not exist.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
