"""The negotiation shortcut answers exactly as DRF's own negotiation."""

from django.http import Http404

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import (
    BrowsableAPIRenderer,
    JSONRenderer,
    StaticHTMLRenderer,
)
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from project.negotiation import ContentNegotiation

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "",
    "text/html",
    "application/json; indent=4",
    "application/json, text/plain",
    "text/html, */*;q=0.1",
    "application/*",
    " */*",
]
QUERIES = ["", "?page_size=2", "?format=json", "?format=api", "?format="]
RENDERER_SETS = [
    [JSONRenderer()],
    [JSONRenderer(), BrowsableAPIRenderer()],
    [StaticHTMLRenderer(), JSONRenderer()],
]


def negotiate(negotiation, accept, query, renderers, suffix=None):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get("/x" + query, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
    except (NotAcceptable, Http404) as exc:
        return type(exc).__name__
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("renderers", RENDERER_SETS)
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("accept", ACCEPTS)
def test_negotiation_agrees_with_drf(accept, query, renderers):
    """Same renderer and media type as DRF (or the same error) for every case."""
    expected = negotiate(DefaultContentNegotiation(), accept, query, renderers)

    assert negotiate(ContentNegotiation(), accept, query, renderers) == expected


@pytest.mark.parametrize("suffix", ["json", "api", "html"])
def test_negotiation_with_format_suffix_agrees_with_drf(suffix):
    """A format suffix is DRF's business, as before."""
    renderers = [JSONRenderer(), BrowsableAPIRenderer()]
    expected = negotiate(DefaultContentNegotiation(), None, "", renderers, suffix)

    assert negotiate(ContentNegotiation(), None, "", renderers, suffix) == expected


def test_negotiation_refuses_an_unrenderable_accept_through_the_api(client_for, user):
    """An API request accepting only HTML still gets DRF's 406."""
    response = client_for(user).get("/api/v1/documents/", HTTP_ACCEPT="text/html")

    assert response.status_code == 406
