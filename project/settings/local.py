"""Laptop settings: the embedded defaults, a generated secret key, DEBUG opt-in."""

from project.settings.base import *  # noqa: F403
from project.settings.base import SECRET_KEY, VAR_DIR

if not SECRET_KEY:
    from project.localkeys import local_secret_key

    SECRET_KEY = local_secret_key(VAR_DIR)
