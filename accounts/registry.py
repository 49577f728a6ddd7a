"""The explicit registry through which apps take part in account export/delete.

Each app registers one :class:`AccountContributor` from its ``AppConfig.ready``.
``export`` returns the JSON-serialisable part of ``/api/v1/me/export`` under
``name``. ``delete`` runs inside the account-deletion transaction: it deletes
the app's rows and schedules stored-file deletion with
``transaction.on_commit`` (never deletes files before the commit).
``summary`` (optional) counts what ``delete`` would erase, for the admin's
confirmation page: ``{"what": count}``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class AccountContributor:
    name: str
    export: Callable[["User"], Any]
    delete: Callable[["User"], None]
    order: int = 100  # lower deletes first (dependants before what they point to)
    summary: Callable[["User"], dict[str, int]] | None = None


_contributors: dict[str, AccountContributor] = {}


def register(contributor: AccountContributor) -> None:
    """Register an app's export and delete hooks (idempotent per name)."""
    _contributors[contributor.name] = contributor


def contributors() -> list[AccountContributor]:
    """Return the registered contributors in deletion order."""
    return sorted(_contributors.values(), key=lambda c: (c.order, c.name))


UserHook = Callable[["User"], None]
_verified_email_hooks: list[UserHook] = []


def register_verified_email_hook(hook: UserHook) -> None:
    """Register ``hook`` to run when a user is first seen with a verified email.

    ``documents`` uses it to turn pending invitations into access. The
    authentication layer calls :func:`run_verified_email_hooks` when a user is
    created with a verified email, or when a user's verified email changes.
    """
    if hook not in _verified_email_hooks:
        _verified_email_hooks.append(hook)


def run_verified_email_hooks(user: "User") -> None:
    """Run every registered verified-email hook for ``user``."""
    for hook in _verified_email_hooks:
        hook(user)


@dataclass(frozen=True)
class UserExportColumn:
    """A column another app adds to the users CSV (``accounts.exports``).

    ``expression`` returns a query expression annotated on the users (a
    ``Subquery``, so the export stays one query); it is called once per
    export, so it may read the clock (``this month``) and settings.
    """

    name: str
    expression: Callable[[], Any]


_user_export_columns: dict[str, UserExportColumn] = {}


def register_user_export_column(column: UserExportColumn) -> None:
    """Add ``column`` to the users CSV, after the account's own (idempotent)."""
    _user_export_columns[column.name] = column


def user_export_columns() -> list[UserExportColumn]:
    """Return the registered users-CSV columns, in registration order."""
    return list(_user_export_columns.values())
