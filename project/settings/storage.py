"""Static files, media and S3 (django-storages) settings, imported by base.py.

Not a ``DJANGO_SETTINGS_MODULE`` of its own: files under ``MEDIA_ROOT``
unless ``AWS_STORAGE_BUCKET_NAME`` names a bucket.
"""

from pathlib import Path

from project.settings.environment import BASE_DIR, VAR_DIR, env

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
