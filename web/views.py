"""The web app's pages: the app shell, local sign-in, sign-out.

The app itself is one page of ES modules (``web/static/web/js``) that calls
the public API with the session cookie (see :mod:`web.authentication`).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from csp.decorators import csp_replace

from accounts.tokens import local_issuer_enabled
from web import oidc
from web.session import web_session_end, web_session_start, web_session_token


def connect_origins() -> list[str]:
    """Return the origins the app's scripts may send requests to besides its own."""
    origins = list(settings.WEB_CONNECT_SRC)
    bucket = settings.AWS_STORAGE_BUCKET_NAME
    if bucket:
        endpoint = settings.AWS_S3_ENDPOINT_URL
        if endpoint:
            parts = urlsplit(endpoint)
            origins += [
                f"{parts.scheme}://{parts.netloc}",
                f"{parts.scheme}://{bucket}.{parts.netloc}",
            ]
        region = settings.AWS_S3_REGION_NAME
        origins.append(f"https://{bucket}.s3.amazonaws.com")
        if region:
            origins.append(f"https://{bucket}.s3.{region}.amazonaws.com")
    return origins


def web_csp(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Give the web app's pages a stricter CSP than the admin's: no inline style."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        policy = {
            "script-src": ["'self'"],
            "style-src": ["'self'"],
            "img-src": ["'self'", "data:", "blob:"],
            "connect-src": ["'self'", *connect_origins()],
        }
        return csp_replace(policy)(view)(request, *args, **kwargs)

    return wrapped


def sign_in_url() -> str:
    """Return where a signed-out visitor goes: Cognito, or the local page."""
    if oidc.web_oidc_enabled():
        return reverse("web:oidc-start")
    return reverse("web:signin")


@web_csp
@require_http_methods(["GET", "HEAD"])
def app(request: HttpRequest) -> HttpResponse:
    """Serve the app shell, or send a signed-out visitor to sign in."""
    if web_session_token(request) is None:
        return HttpResponseRedirect(sign_in_url())
    storage = "s3" if settings.AWS_STORAGE_BUCKET_NAME else "local"
    return render(request, "web/app.html", {"storage_mode": storage})


class LocalSignInForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)


@web_csp
@require_http_methods(["GET", "HEAD", "POST"])
def local_sign_in(request: HttpRequest) -> HttpResponse:
    """Sign in by email with the local token issuer (laptops and tests only)."""
    if not local_issuer_enabled() or oidc.web_oidc_enabled():
        raise Http404("Local sign-in is off.")
    form = LocalSignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        from accounts import local_issuer
        from accounts.services import user_provision_local

        user = user_provision_local(email=form.cleaned_data["email"])
        token = local_issuer.issue_token(
            sub=user.sub, email=user.email, ttl=settings.WEB_SESSION_SECONDS
        )
        web_session_start(request=request, user=user, token=token)
        return HttpResponseRedirect(reverse("web:app"))
    status = 400 if request.method == "POST" else 200
    return render(request, "web/signin.html", {"form": form}, status=status)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """End this browser's session (CSRF-protected), then offer to sign in again."""
    web_session_end(request=request)
    if oidc.web_oidc_enabled():
        return HttpResponseRedirect(oidc.cognito_logout_url(request))
    return HttpResponseRedirect(reverse("web:signin"))
