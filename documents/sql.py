"""The two hottest reads of the API, written out as SQL.

Every document endpoint starts by reading one document, and the list is
what clients poll. Built as querysets, both spent more time in the ORM
(building, compiling, turning rows into dicts or instances) than PostgreSQL
took to answer them: ~1.4 ms of 1.8 ms for a read, ~3 of 6 ms for a list page
(BENCHMARKS.md). Here each is one statement, written once per database
vendor from the models' ``_meta`` (so renames follow) and run with plain
parameters; values go through the same converters the ORM would apply, so
SQLite and PostgreSQL give the same Python values.

The visibility rules are :mod:`documents.visibility`'s branches; the list
statement is built from them.
"""

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from accounts.models import User
from documents.models import Document, DocumentAccess, Role
from documents.visibility import OWNED, SHARED, TRASHED, Branch
from project.db import default_db, hot_cursor

_USER_PUBLIC = ("id", "email", "display_name")
# The columns of a list item, in the order of the statement's SELECT.
_LIST_DOCUMENT = (
    "id",
    "title",
    "version",
    "created_at",
    "updated_at",
    "trashed_at",
    "owner",
)


def _quote(name: str) -> str:
    return default_db().ops.quote_name(name)


def _column(model: type[Model], name: str) -> str:
    return _quote(model._meta.get_field(name).column)


@functools.cache
def _user_public_fields() -> tuple[Field, ...]:
    """Return the user columns a read carries, in the model's field order."""
    return tuple(f for f in User._meta.concrete_fields if f.attname in _USER_PUBLIC)


@functools.cache
def _converters(vendor: str, fields: tuple[Field, ...]) -> tuple:
    """Return ``(column, converters)`` per field, as the ORM would apply them."""
    db = default_db()
    result = []
    for field in fields:
        column = field.get_col(field.model._meta.db_table)
        found = db.ops.get_db_converters(column) + field.get_db_converters(db)
        result.append((column, tuple(found)))
    return tuple(result)


@functools.cache
def _needed_converters(vendor: str, fields: tuple[Field, ...]) -> tuple:
    """Return ``(index, column, converters)`` of the fields that have any.

    On PostgreSQL none of the list's columns has one (psycopg's loaders give
    the final values): its rows then skip conversion altogether.
    """
    return tuple(
        (i, column, converters)
        for i, (column, converters) in enumerate(_converters(vendor, fields))
        if converters
    )


def _convert(db: BaseDatabaseWrapper, fields: tuple, values: Sequence) -> list:
    converted = list(values)
    for i, column, converters in _needed_converters(db.vendor, fields):
        for convert in converters:
            converted[i] = convert(converted[i], column, db)
    return converted


def _instance(db: BaseDatabaseWrapper, model: type[Model], fields, values) -> Model:
    """Build an instance from raw column values; unlisted fields are deferred."""
    names = [f.attname for f in fields]
    return model.from_db(db.alias, names, _convert(db, fields, values))


# -- one document ---------------------------------------------------------------


@functools.cache
def _read_statement(vendor: str) -> str:
    """Return the read: the document, its owner and last editor, the grant."""
    q = _quote
    doc, grant = Document._meta, DocumentAccess._meta
    users, user_pk = q(User._meta.db_table), q(User._meta.pk.column)
    columns = [f"d.{q(f.column)}" for f in doc.concrete_fields]
    for alias in ("o", "e"):
        columns += [f"{alias}.{q(f.column)}" for f in _user_public_fields()]
    columns.append(
        f"(SELECT g.{_column(DocumentAccess, 'role')} FROM {q(grant.db_table)} g "  # noqa: S608
        f"WHERE g.{_column(DocumentAccess, 'document')} = d.{q(doc.pk.column)} "
        f"AND g.{_column(DocumentAccess, 'user')} = %s)"
    )
    return (
        f"SELECT {', '.join(columns)} FROM {q(doc.db_table)} d "  # noqa: S608
        f"JOIN {users} o ON o.{user_pk} = d.{_column(Document, 'owner')} "
        f"LEFT JOIN {users} e ON e.{user_pk} = d.{_column(Document, 'last_editor')} "
        f"WHERE d.{q(doc.pk.column)} = %s"
    )


def document_read(*, document_id: UUID | str, user_id: Any) -> Document | None:
    """Return the document with ``owner``, ``last_editor`` and ``granted_role``.

    ``granted_role`` is the role granted to ``user_id`` (``None`` without a
    grant). Raises ``ValidationError`` for an id that is not a UUID.
    """
    db = default_db()
    pk = Document._meta.pk
    params = [
        User._meta.pk.get_db_prep_value(user_id, db),
        pk.get_db_prep_value(pk.to_python(document_id), db),
    ]
    with hot_cursor(db) as cursor:
        cursor.execute(_read_statement(db.vendor), params)
        row = cursor.fetchone()
    if row is None:
        return None
    doc_fields, user_fields = (
        tuple(Document._meta.concrete_fields),
        _user_public_fields(),
    )
    n, u = len(doc_fields), len(user_fields)
    document = _instance(db, Document, doc_fields, row[:n])
    document.owner = _instance(db, User, user_fields, row[n : n + u])
    if document.last_editor_id == document.owner_id:
        # Most documents were last edited by their owner: the same row, so
        # the same (read-only) instance rather than a second one to build.
        document.last_editor = document.owner
    elif document.last_editor_id is not None:
        editor = row[n + u : n + 2 * u]
        document.last_editor = _instance(db, User, user_fields, editor)
    document.granted_role = row[-1]
    return document


# -- one list page ----------------------------------------------------------------

__all__ = ["OWNED", "SHARED", "TRASHED", "document_read", "list_page"]


def _sort_key(vendor: str, key: str) -> str:
    if key == "updated_at":
        return f"d.{_column(Document, 'updated_at')}"
    title = f"LOWER(d.{_column(Document, 'title')})"
    # Byte order on PostgreSQL, so Python merges pages the same way (SQLite's
    # default collation already compares bytes).
    return f'{title} COLLATE "C"' if vendor == "postgresql" else title


@functools.cache
def _list_statement(
    vendor: str, branches: tuple[Branch, ...], key: str, desc: bool, after: bool
) -> str:
    """Return a page statement: each branch keyset-limited, merged, owners joined."""
    q = _quote
    order = "DESC" if desc else "ASC"
    op = "<" if desc else ">"
    sort_key = _sort_key(vendor, key)
    doc_pk = f"d.{q(Document._meta.pk.column)}"
    columns = ", ".join(f"d.{_column(Document, name)}" for name in _LIST_DOCUMENT)
    trashed = f"d.{_column(Document, 'trashed_at')}"
    # A title page carries its sort key (the cursor needs it); a time page
    # sorts on the updated_at column it already has.
    by_time = key == "updated_at"
    extra = "" if by_time else f", {sort_key} AS sort_key"
    outer_key = f"p.{_column(Document, 'updated_at')}" if by_time else "p.sort_key"
    parts = []
    for branch in branches:
        branch_key, branch_pk = sort_key, doc_pk
        state = "IS NOT NULL" if branch.trashed else "IS NULL"
        if branch.via_grant:
            role = f"g.{_column(DocumentAccess, 'role')}"
            source = (
                f"{q(DocumentAccess._meta.db_table)} g JOIN "
                f"{q(Document._meta.db_table)} d "
                f"ON {doc_pk} = g.{_column(DocumentAccess, 'document')}"
            )
            where = f"g.{_column(DocumentAccess, 'user')} = %s AND {trashed} {state}"
            if by_time:
                # The grant's copy of the time (kept equal by triggers, see
                # migration 0006): the grants come in order from the
                # (user, -document_updated_at, -document) index, and only
                # the page's documents are read, not every shared one.
                branch_key = f"g.{_column(DocumentAccess, 'document_updated_at')}"
                branch_pk = f"g.{_column(DocumentAccess, 'document')}"
        else:
            role = "%s"
            source = f"{q(Document._meta.db_table)} d"
            where = f"d.{_column(Document, 'owner')} = %s AND {trashed} {state}"
        if after:
            where += (
                f" AND ({branch_key} {op} %s OR ({branch_key} = %s "
                f"AND {branch_pk} {op} %s))"
            )
        parts.append(
            f"SELECT * FROM (SELECT {columns}, {role} AS role{extra} "  # noqa: S608
            f"FROM {source} WHERE {where} "
            f"ORDER BY {branch_key} {order}, {branch_pk} {order} LIMIT %s) "
            f"AS {branch.name}"
        )
    users = q(User._meta.db_table)
    owner_columns = ", ".join(
        f"o.{_column(User, name)}" for name in ("email", "display_name")
    )
    pk = q(Document._meta.pk.column)
    collate = ' COLLATE "C"' if vendor == "postgresql" and not by_time else ""
    return (
        f"SELECT p.*, {owner_columns} FROM ({' UNION ALL '.join(parts)}) AS p "  # noqa: S608
        f"JOIN {users} o ON o.{q(User._meta.pk.column)} = p.{_column(Document, 'owner')} "
        f"ORDER BY {outer_key}{collate} {order}, p.{pk} {order} LIMIT %s"
    )


@functools.cache
def _list_fields() -> tuple[Field, ...]:
    return tuple(Document._meta.get_field(name) for name in _LIST_DOCUMENT)


def list_page(
    *,
    user_id: Any,
    branches: tuple[Branch, ...],
    key: str,
    desc: bool,
    after: tuple[Any, UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Return up to ``limit`` list rows of the caller's ``branches``, in order.

    ``branches`` are :mod:`documents.visibility` branches (``OWNED``,
    ``TRASHED``, ``SHARED``); ``key`` is ``updated_at`` or
    ``title_key`` (the lower-cased title); ``after`` is the keyset position
    ``(sort value, id)`` of the previous page's last row. Each row is a dict
    with the document columns, ``owner_id``, ``owner__email``,
    ``owner__display_name``, ``role`` and the sort value under ``key``.
    """
    db = default_db()
    user_param = User._meta.pk.get_db_prep_value(user_id, db)
    after_params: list = []
    if after is not None:
        value, pk = after
        if isinstance(value, datetime):
            value = Document._meta.get_field("updated_at").get_db_prep_value(value, db)
        pk = Document._meta.pk.get_db_prep_value(pk, db)
        after_params = [value, value, pk]
    params: list = []
    for branch in branches:
        if not branch.via_grant:
            params.append(Role.OWNER.value)
        params += [user_param, *after_params, limit]
    params.append(limit)
    sql = _list_statement(db.vendor, branches, key, desc, after is not None)
    with hot_cursor(db) as cursor:
        cursor.execute(sql, params)
        raw_rows = cursor.fetchall()
    fields = _list_fields()
    # The statement's columns, in order: the document's, the role, the title
    # sort key (title pages only), the owner's email and display name.
    names = (
        *(f.attname for f in fields),
        "role",
        *(() if key == "updated_at" else (key,)),
        "owner__email",
        "owner__display_name",
    )
    if not _needed_converters(db.vendor, fields):
        return [dict(zip(names, raw, strict=True)) for raw in raw_rows]
    n = len(fields)
    return [
        dict(zip(names, (*_convert(db, fields, raw[:n]), *raw[n:]), strict=True))
        for raw in raw_rows
    ]
