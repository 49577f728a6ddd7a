"""The explicit registry through which apps take part in account export/delete.

Each app registers one :class:`AccountContributor` from its ``AppConfig.ready``.
``export`` returns the JSON-serialisable part of ``/api/v1/me/export`` under
``name``. ``delete`` runs inside the account-deletion transaction: it deletes
the app's rows and schedules stored-file deletion with
``transaction.on_commit`` (never deletes files before the commit).
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


_contributors: dict[str, AccountContributor] = {}


def register(contributor: AccountContributor) -> None:
    """Register an app's export and delete hooks (idempotent per name)."""
    _contributors[contributor.name] = contributor


def contributors() -> list[AccountContributor]:
    """Return the registered contributors in deletion order."""
    return sorted(_contributors.values(), key=lambda c: (c.order, c.name))
