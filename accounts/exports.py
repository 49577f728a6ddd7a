"""The user list as CSV for support and finance: account fields, no secrets.

Only what identifies an account and its state: never the password hash, the
sign-out cutoff or any token; then the columns other apps register
(``accounts.registry.register_user_export_column``: the AI usage of the
month), computed in the same query. Streamed (``project.csvexport``) in
chunks.
"""

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts.models import User
from accounts.registry import user_export_columns
from project.csvexport import csv_response

# (CSV column, user field)
USER_EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "id"),
    ("email", "email"),
    ("display_name", "display_name"),
    ("email_verified", "is_email_verified"),
    ("active", "is_active"),
    ("staff", "is_staff"),
    ("superuser", "is_superuser"),
    ("cognito_sub", "sub"),
    ("created_at_utc", "created_at"),
    ("last_seen_at_utc", "last_seen_at"),
    ("last_login_utc", "last_login"),
)
CHUNK_ROWS = 2000


def user_export_header() -> list[str]:
    """Return the CSV's column names: the account's, then the registered ones."""
    own = [column for column, _ in USER_EXPORT_COLUMNS]
    return own + [column.name for column in user_export_columns()]


def user_export_rows(queryset: QuerySet[User]) -> Iterator[tuple[Any, ...]]:
    """Yield the CSV cells of each user of ``queryset``, in its order (one query)."""
    extra = {
        f"export_{column.name}": column.expression() for column in user_export_columns()
    }
    fields = [field for _, field in USER_EXPORT_COLUMNS] + list(extra)
    rows = queryset.annotate(**extra).values_list(*fields)
    yield from rows.iterator(chunk_size=CHUNK_ROWS)


def user_export_csv(queryset: QuerySet[User]) -> StreamingHttpResponse:
    """Return the streamed CSV download of the users in ``queryset``."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return csv_response(
        filename=f"quire-users-{stamp}.csv",
        header=user_export_header(),
        rows=user_export_rows(queryset),
    )
