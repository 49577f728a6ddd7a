"""Fixtures shared by the web app's tests: a browser-like client and its sign-in."""

from collections.abc import Callable

from django.test import Client

import pytest

from accounts.models import User


@pytest.fixture
def web_client() -> Client:
    """Return a test client that checks CSRF tokens, as a browser session is."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def signed_in(web_client: Client) -> Callable[..., User]:
    """Return ``signed_in(email=...)``: sign ``web_client`` in through /signin."""

    def sign_in(email: str = "web@example.com") -> User:
        page = web_client.get("/signin")
        token = page.cookies["csrftoken"].value
        response = web_client.post(
            "/signin", {"email": email, "csrfmiddlewaretoken": token}
        )
        assert response.status_code == 302
        return User.objects.get(email=email)

    return sign_in
