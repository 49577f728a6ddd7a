"""Input fields and output formats shared by every app's API.

``StrictCharField`` is how every free-text input is checked (document
titles and bodies, the profile's display name): a JSON number or boolean is
not a string, and control characters never get stored. ``JsonCharField``,
``JsonBooleanField`` and ``JsonIntegerField`` take only their own JSON type
(DRF's own take ``"10"`` for 10, ``1`` for true, a number for a string).
``iso_utc`` is the one way a date-time is written in a response: UTC, with
``Z`` (as DRF's own ``DateTimeField`` writes it), never ``+00:00``.
"""

import datetime as dt
import re
from typing import Any

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from rest_framework import serializers

# C0 controls other than tab, newline and carriage return, and DEL: never part
# of Markdown, refused by PostgreSQL (NUL) or used as highlight markers.
FORBIDDEN_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The same rules as schema patterns (drf-spectacular writes a RegexValidator
# as `pattern`), so that clients reading the schema know what is refused.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
SINGLE_LINE_PATTERN = r"^[^\x00-\x08\x0a-\x1f\x7f]*$"


def _non_empty(pattern: str) -> str:
    """Return ``^[...]*$`` as ``^[...]+$``: the same characters, at least one."""
    return pattern.removesuffix("*$") + "+$"


class JsonCharField(serializers.CharField):
    """A CharField that takes JSON strings only: a number or boolean is refused."""

    default_error_messages = {"not_a_string": _("Must be a string.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class JsonBooleanField(serializers.BooleanField):
    """A BooleanField that takes JSON ``true`` and ``false`` only (not 1, "yes")."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class JsonIntegerField(serializers.IntegerField):
    """An IntegerField that takes JSON integers only (not "10", 10.0 or true)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(JsonCharField):
    """A string field (:class:`JsonCharField`) that refuses control characters.

    ``single_line`` refuses line breaks too (titles, names).
    """

    default_error_messages = {
        "control": _("Must not contain control characters."),
    }

    def __init__(self, *, single_line: bool = False, **kwargs: Any) -> None:
        self.single_line = single_line
        super().__init__(**kwargs)
        # Never fails (to_internal_value refused the value first): it declares
        # the rule in the schema. drf-spectacular declares a blank-allowed
        # field with a pattern as oneOf [pattern, maxLength 0]; the pattern
        # asks for one character or more so that "" matches only the second
        # (with `*` it matches both, and oneOf refuses what the server takes).
        pattern = SINGLE_LINE_PATTERN if single_line else TEXT_PATTERN
        self.validators.append(RegexValidator(_non_empty(pattern)))

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str) and (
            FORBIDDEN_CONTROLS.search(data)
            or (self.single_line and ("\n" in data or "\r" in data))
        ):
            self.fail("control")
        return super().to_internal_value(data)


_NO_OFFSET = dt.timedelta(0)


def iso_utc(value: dt.datetime | None) -> str | None:
    """Return ``value`` as ISO 8601 in UTC with ``Z`` (``None`` stays ``None``)."""
    if value is None:
        return None
    if value.utcoffset() != _NO_OFFSET:
        value = value.astimezone(dt.UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
