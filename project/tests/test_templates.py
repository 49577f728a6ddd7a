"""Project-wide templates live in the top-level ``templates/`` folder."""

from django.conf import settings
from django.template.loader import get_template, render_to_string
from django.test import RequestFactory

import pytest

from project import exceptions


def test_top_level_templates_folder_is_searched_first():
    """``TEMPLATES["DIRS"]`` names ``templates/`` at the repository's top."""
    assert settings.TEMPLATES[0]["DIRS"] == [settings.BASE_DIR / "templates"]


@pytest.mark.parametrize(
    "name",
    [
        "400.html",
        "403.html",
        "404.html",
        "500.html",
        "admin/oidc_failed.html",
        "admin/aiproxy/usagerecord/change_list.html",
        "email/document_invitation.txt",
        "email/document_invitation_subject.txt",
    ],
)
def test_project_template_is_found_in_top_level_folder(name):
    """Each project-wide template resolves to the top-level folder."""
    origin = get_template(name).origin.name
    assert origin == str(settings.BASE_DIR / "templates" / name)


@pytest.mark.parametrize(
    ("status", "heading"),
    [(400, "Bad Request (400)"), (403, "403 Forbidden"), (404, "Not Found")],
)
def test_non_api_error_page_is_the_project_template(status, heading):
    """Outside /api/ Django's handlers render the project's HTML error pages."""
    request = RequestFactory().get("/admin/nope/")
    handler = {
        400: exceptions.bad_request,
        403: exceptions.permission_denied,
        404: exceptions.page_not_found,
    }[status]
    response = handler(request, Exception("internal detail"))
    assert response.status_code == status
    assert f"<h1>{heading}</h1>".encode() in response.content
    assert b"internal detail" not in response.content


def test_non_api_500_page_is_the_project_template():
    """The 500 page renders without a request context and reveals nothing."""
    response = exceptions.server_error(RequestFactory().get("/admin/"))
    assert response.status_code == 500
    assert b"<h1>Server Error (500)</h1>" in response.content


def test_invitation_email_keeps_text_as_written():
    """The email templates do not HTML-escape titles or names."""
    context = {
        "who": "Ann & <Bob>",
        "role": "editor",
        "title": 'Q&A "draft"',
        "email": "x@example.com",
        "document_id": "abc",
    }
    subject = render_to_string("email/document_invitation_subject.txt", context)
    body = render_to_string("email/document_invitation.txt", context)
    assert subject.strip() == 'Ann & <Bob> shared “Q&A "draft"” with you'
    assert body.rstrip() == (
        'Ann & <Bob> gave you editor access to the document “Q&A "draft"” on '
        "Quire.\n\nSign in with x@example.com to open it (document id abc)."
    )
