"""Production settings: base behaviour plus tightened security defaults.

Everything else comes from the environment and Secrets Manager (see
docs/operations.md, "Deploying to AWS"); a missing required value stops the
process at start-up with a message naming it.
"""

from django.core.exceptions import ImproperlyConfigured

from project.logging import logging_config
from project.settings.base import *  # noqa: F403
from project.settings.base import CONTENT_SECURITY_POLICY, LOG_LEVEL, SECRET_KEY, env

if not SECRET_KEY:
    raise ImproperlyConfigured(
        "Set DJANGO_SECRET_KEY_SECRET_ARN (or DJANGO_SECRET_KEY) in production."
    )
DEBUG = False
# JSON lines whatever the terminal (LOG_FORMAT=console reads them by eye).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(LOG_LEVEL, LOG_FORMAT)

# TLS ends at the ALB, which sets X-Forwarded-Proto; gunicorn only passes it
# on from FORWARDED_ALLOW_IPS (the image: any peer, as only the ALB reaches
# the task).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# On AWS, API Gateway sets X-Forwarded-Host to the public domain (a constant
# it overwrites whatever the client sent); the infra turns this on.
USE_X_FORWARDED_HOST = env.bool("DJANGO_USE_X_FORWARDED_HOST", default=False)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# ALB and container health checks speak plain HTTP to the task.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True
)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Staff sessions end after a working day.
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 3600)
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True

CONTENT_SECURITY_POLICY = {
    **CONTENT_SECURITY_POLICY,
    "DIRECTIVES": {
        **CONTENT_SECURITY_POLICY["DIRECTIVES"],
        "upgrade-insecure-requests": True,
    },
}

# Amazon SES (django-ses) unless the environment picks another backend.
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django_ses.SESBackend")
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)

# --- Identity (accounts) -------------------------------------------------------
LOCAL_ISSUER_ENABLED = False  # only Cognito tokens in production
