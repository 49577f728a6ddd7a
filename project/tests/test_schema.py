"""The OpenAPI schema generates cleanly and documents auth and errors."""

from django.core.management import call_command

import pytest

pytestmark = pytest.mark.django_db


def test_schema_whole_project_generates_without_warnings(tmp_path):
    """Every app's views produce a valid schema with no warning at all.

    This guards the whole API: a view that spectacular cannot describe (no
    serializer declared, an unresolvable field) fails the suite here.
    """
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert target.read_text().startswith("openapi: 3")


def test_schema_test_views_generate_without_warnings(tmp_path):
    """The test-only views (auth, error responses) validate without warnings."""
    target = tmp_path / "schema.yaml"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--urlconf",
        "project.tests.urls",
        "--file",
        str(target),
    )
    assert "bearerAuth" in target.read_text()


@pytest.mark.urls("project.tests.urls")
def test_schema_endpoint_declares_bearer_auth(api_client):
    """The schema declares HTTP bearer (JWT) auth for Cognito tokens."""
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    scheme = schema["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == (
        "http",
        "bearer",
        "JWT",
    )
    assert schema["paths"]["/api/test/echo"]["post"]["security"] == [{"bearerAuth": []}]


@pytest.mark.urls("project.tests.urls")
def test_schema_endpoint_error_shape_is_a_shared_component(api_client):
    """``Error`` is one component that error responses reference."""
    schema = api_client.get("/api/schema/?format=json").json()
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "detail"]
    assert set(error["properties"]) == {"detail", "code"}
    responses = schema["paths"]["/api/test/echo"]["post"]["responses"]
    error_ref = {"$ref": "#/components/schemas/Error"}
    assert responses["404"]["content"]["application/json"]["schema"] == error_ref
    common = responses["401"]["content"]["application/json"]["schema"]["allOf"]
    assert common[0] == error_ref
    assert "token_expired" in common[1]["properties"]["code"]["enum"]
    throttled = responses["429"]["content"]["application/json"]["schema"]["allOf"]
    assert throttled == [
        error_ref,
        {
            "type": "object",
            "properties": {"code": {"type": "string", "enum": ["throttled"]}},
        },
    ]
    invalid = responses["400"]["content"]["application/json"]["schema"]["allOf"]
    assert invalid[0] == {"$ref": "#/components/schemas/ValidationError"}


@pytest.mark.urls("project.tests.urls")
def test_schema_endpoint_public_operation_declares_401_for_bad_tokens(api_client):
    """An operation that needs no token still refuses a bad one (401)."""
    schema = api_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/test/public"]["get"]
    assert {} in operation["security"]
    assert set(operation["responses"]) == {"200", "401", "414", "429", "503"}


def test_schema_endpoint_default_format_is_yaml(api_client):
    """``/api/schema/`` serves YAML without a token."""
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3")


def test_schema_endpoint_wrong_method_answers_json_405(api_client):
    """Errors of the docs views are JSON too, not YAML."""
    response = api_client.delete("/api/schema/")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": 'Method "DELETE" not allowed.',
        "code": "method_not_allowed",
    }


@pytest.mark.parametrize(
    ("path", "asset"),
    [
        ("/api/docs/", "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/api/redoc/", "web/vendor/redoc/redoc.standalone.js"),
    ],
)
def test_docs_pages_load_assets_locally(api_client, path, asset):
    """Swagger UI and Redoc pages load their JS from our static files, no CDN."""
    response = api_client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert f"/static/{asset}" in html
    assert "cdn.jsdelivr.net" not in html
    assert "unpkg.com" not in html


def test_redoc_page_links_no_web_fonts_and_runs_no_inline_script(api_client):
    """The Redoc page loads nothing from Google Fonts and has no inline script."""
    html = api_client.get("/api/redoc/").content.decode()

    assert "fonts.googleapis.com" not in html
    assert "fonts.gstatic.com" not in html
    assert "<script>" not in html
    assert '<redoc spec-url="/api/schema/"' in html


def test_redoc_page_alone_allows_blob_workers(api_client):
    """``worker-src blob:`` (Redoc's search) is on the Redoc page, nowhere else."""
    redoc = api_client.get("/api/redoc/")["Content-Security-Policy"]
    swagger = api_client.get("/api/docs/")["Content-Security-Policy"]

    assert "worker-src 'self' blob:" in redoc
    assert "script-src 'self';" in redoc
    assert "worker-src" not in swagger


def test_vendored_redoc_loads_nothing_from_redocly(settings):
    """The vendored bundle has its cdn.redoc.ly logo removed (web/vendor.mjs)."""
    folder = settings.BASE_DIR / "web" / "static" / "web" / "vendor" / "redoc"
    bundle = (folder / "redoc.standalone.js").read_text()

    assert "cdn.redoc.ly" not in bundle
    assert (folder / "VERSION").read_text() == "redoc 2.5.4\n"
    assert "MIT" in (folder / "LICENSE").read_text()
