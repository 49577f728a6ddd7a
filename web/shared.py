"""The page of a share link, ``/s/{secret}``.

Anonymous visitors, and signed-in ones with a viewer link, get a read-only
page: the Markdown rendered in the browser and sanitised exactly as the
editor's preview (``web/static/web/js/markdown.js``). Signed-in visitors
whom the link (or their own access) lets edit are sent to the editor. The
link is checked by the same selector as ``GET /api/v1/links/{secret}/``:
a dead link is this site's ordinary 404 page.
"""

from types import SimpleNamespace
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from documents.links.selectors import share_link_open
from documents.models import Role
from project.exceptions import ApplicationError, NotFound
from project.throttling import AnonScopedRateThrottle
from web.authentication import WebSessionAuthentication
from web.views import sign_in_url, web_csp

_LINK_VIEW = SimpleNamespace(throttle_scope="links")
# The secret is in this page's URL: never send it on in a Referer, never
# let a shared cache keep the page after the link is revoked.
_PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


def web_user(request: HttpRequest) -> Any | None:
    """Return the signed-in user of the browser's session, checked as the API does."""
    try:
        result = WebSessionAuthentication().authenticate(Request(request))
    except AuthenticationFailed:
        return None
    return None if result is None else result[0]


def _private(response: HttpResponse) -> HttpResponse:
    for name, value in _PRIVATE.items():
        response[name] = value
    return response


@web_csp
@require_http_methods(["GET", "HEAD"])
def shared_document(request: HttpRequest, secret: str) -> HttpResponse:
    """Show the linked document read-only, or send an editor to the editor."""
    user = web_user(request)
    if user is None:
        throttle = AnonScopedRateThrottle()
        if not throttle.allow_request(request, _LINK_VIEW):
            response = render(request, "web/shared_throttled.html", status=429)
            response["Retry-After"] = str(throttle.wait() or 1)
            return _private(response)
    try:
        document = share_link_open(secret=secret, user=user)
    except NotFound:
        raise Http404("No such link.") from None
    except ApplicationError as error:
        if error.status != 401:
            raise
        context = {"sign_in_url": sign_in_url()}
        return _private(render(request, "web/shared_signin.html", context, status=401))
    if user is not None and document.role in (Role.EDITOR, Role.OWNER):
        own = document.own_role
        if own in (Role.EDITOR, Role.OWNER):
            target = f"{reverse('web:app')}#/d/{document.pk}"
        else:
            target = f"{reverse('web:app')}#/s/{secret}"
        return _private(HttpResponseRedirect(target))
    context = {"document": document, "signed_in": user is not None, "secret": secret}
    return _private(render(request, "web/shared.html", context))
