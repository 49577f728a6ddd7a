"""The list's fast filter path agrees with the filter serializer it stands in for."""

from urllib.parse import urlencode

from django.http import QueryDict

import pytest
from rest_framework import serializers

from documents.views import LIST_FAST_FILTERS, DocumentListCreateApi, list_filters_fast

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


def field_samples(field: serializers.Field) -> list[str]:
    """Return query values that exercise ``field``: its edges and a typical one."""
    if isinstance(field, serializers.ChoiceField):
        return [str(choice) for choice in field.choices]
    if isinstance(field, serializers.IntegerField):
        low, high = field.min_value or 0, field.max_value or 1000
        return [str(low), str(high), str((low + high) // 2), str(high + 1)]
    if isinstance(field, serializers.CharField):
        longest = field.max_length or 100
        return ["abc", CURSOR, "a" * longest, "a" * (longest + 1)]
    raise AssertionError(f"no samples for {type(field).__name__}: add some here")


def every_filter_query() -> list[str]:
    fields = DocumentListCreateApi.FilterSerializer().fields
    queries = []
    for name, field in fields.items():
        for value in field_samples(field):
            queries.append(urlencode({name: value}))
            queries.append(urlencode({name: value, "page_size": "20"}))
    return queries


def test_fast_filters_cover_every_serializer_field():
    """The fast path answers exactly the serializer's fields, no more, no fewer."""
    fields = DocumentListCreateApi.FilterSerializer().fields
    assert set(fields) == set(LIST_FAST_FILTERS)


@pytest.mark.parametrize("query", every_filter_query())
def test_fast_filters_agree_with_the_serializer_on_every_field(query):
    """For any field's sample value the fast path gives the serializer's answer or
    stands aside: a filter it does not know cannot be dropped silently."""
    fast = list_filters_fast(QueryDict(query))
    if fast is not None:
        assert serializer_result(query) == (True, fast)


@pytest.mark.parametrize(
    "name",
    [
        name
        for name, field in DocumentListCreateApi.FilterSerializer().fields.items()
        if isinstance(field, serializers.ChoiceField)
    ],
)
def test_fast_filters_answer_every_choice(name):
    """Each choice the serializer accepts is answered by the fast path too."""
    field = DocumentListCreateApi.FilterSerializer().fields[name]
    for choice in field.choices:
        assert list_filters_fast(QueryDict(urlencode({name: choice}))) is not None
