"""Hooks other apps register to act when documents are erased for good.

``attachments`` registers one that deletes the stored files of the documents
being purged. A hook receives the ids of documents about to be deleted, runs
inside the deleting transaction, and must defer storage I/O with
``transaction.on_commit``.
"""

from collections.abc import Callable, Iterable
from uuid import UUID

PurgeHook = Callable[[Iterable[UUID]], None]

_purge_hooks: list[PurgeHook] = []


def register_purge_hook(hook: PurgeHook) -> None:
    """Register ``hook`` to run before documents are permanently deleted."""
    if hook not in _purge_hooks:
        _purge_hooks.append(hook)


def run_purge_hooks(document_ids: Iterable[UUID]) -> None:
    """Run every registered purge hook for ``document_ids``."""
    ids = list(document_ids)
    for hook in _purge_hooks:
        hook(ids)
