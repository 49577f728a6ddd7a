"""The list's fast filter path agrees with the filter serializer it stands in for."""

from django.http import QueryDict

import pytest

from documents.views import DocumentListCreateApi, list_filters_fast

CURSOR = "eyJzIjoiIiwibyI6Ii11cGRhdGVkX2F0In0"

# Query strings the fast path answers itself: common polls.
CANONICAL = [
    "",
    "page_size=50",
    "page_size=1",
    "page_size=100",
    "scope=owned",
    "scope=shared&ordering=title",
    "scope=trash&ordering=-title&page_size=7",
    "ordering=updated_at",
    f"cursor={CURSOR}&page_size=50",
    f"page_size=50&cursor={CURSOR}&unknown=1",
    "page_size=10&page_size=20",  # the last value counts, as in the serializer
    "scope=owned&scope=shared",
]

# Query strings left to the serializer: coercions, errors and searches.
LEFT_TO_SERIALIZER = [
    "page_size=050",
    "page_size=50.0",
    "page_size= 50",
    "page_size=101",
    "page_size=0",
    "page_size=-1",
    "page_size=",
    "page_size=abc",
    "scope=",
    "scope=all",
    "scope=OWNED",
    "ordering=",
    "ordering=created_at",
    "cursor=",
    "cursor=abc%3D",
    "cursor=%20abc",
    "cursor=" + "a" * 2001,
    "q=",
    "q=hello",
    "q=hello&page_size=20",
]


def serializer_result(query: str) -> tuple[bool, dict | None]:
    serializer = DocumentListCreateApi.FilterSerializer(data=QueryDict(query))
    valid = serializer.is_valid()
    return valid, dict(serializer.validated_data) if valid else None


@pytest.mark.parametrize("query", CANONICAL)
def test_fast_filters_equal_the_serializer_for_canonical_queries(query):
    """A canonical query is answered by the fast path with the serializer's values."""
    fast = list_filters_fast(QueryDict(query))

    assert fast is not None
    assert serializer_result(query) == (True, fast)


@pytest.mark.parametrize("query", LEFT_TO_SERIALIZER)
def test_fast_filters_leave_other_queries_to_the_serializer(query):
    """Anything needing coercion, an error message or a search goes the slow way."""
    assert list_filters_fast(QueryDict(query)) is None
