"""Identity settings, imported by base.py: API tokens, staff and web sign-in.

Not a ``DJANGO_SETTINGS_MODULE`` of its own. Cognito when its variables are
set, else the local token issuer and Django's password form.
"""

from project.settings.environment import env

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
