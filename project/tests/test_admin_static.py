"""The admin sign-in page and its static files, served by whitenoise."""

import re

from django.core.management import call_command
from django.test import Client

import pytest

pytestmark = pytest.mark.django_db


def test_admin_login_page_renders_html(client):
    """``/admin/login/`` answers the HTML sign-in form."""
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b'name="password"' in response.content


@pytest.mark.slow
def test_admin_static_after_collectstatic_served_by_whitenoise(settings, tmp_path):
    """After collectstatic (as ``make run`` does), whitenoise serves hashed assets.

    Uses the production storage (hashed, compressed manifest) and checks that
    the admin page links the hashed CSS and that the link answers 200.
    """
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        },
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    client = Client()  # a new handler: whitenoise indexes STATIC_ROOT on start

    page = client.get("/admin/login/")
    match = re.search(
        rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.content
    )
    assert match, page.content[:500]
    css = client.get(match.group(1).decode())
    assert css.status_code == 200
    assert css["Content-Type"].startswith("text/css")
    assert "max-age" in css["Cache-Control"]

    swagger = client.get("/api/docs/")
    asset = re.search(
        rb'src="(/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle\.[0-9a-f]{12}\.js)"',
        swagger.content,
    )
    assert asset, swagger.content[:500]
    assert client.get(asset.group(1).decode()).status_code == 200
