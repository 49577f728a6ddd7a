"""Security headers (CSP) and CORS settings, imported by base.py.

Not a ``DJANGO_SETTINGS_MODULE`` of its own; production.py tightens them.
"""

from project.settings.environment import env

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
