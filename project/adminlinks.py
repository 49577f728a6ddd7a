"""Links between admin pages, and the user page's extra read-only fields.

A user's page links to their documents, attachments and ledger rows, and
every list shows its user and document cells as links to their pages. The
filtered lists use plain field lookups (``?owner=<id>``), which the admin
accepts for any field of the listed model.

``accounts`` owns the user admin; the other apps add their fields to it with
:func:`user_admin_add_field` from their own ``admin.py`` (``accounts`` comes
first in ``INSTALLED_APPS``, so its admin is registered by then).
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html


def change_url(obj: Model) -> str | None:
    """Return the admin page of ``obj``, or None when its model has none."""
    opts = obj._meta
    try:
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]
        )
    except NoReverseMatch:
        return None


def changelist_url(model: type[Model], **filters: Any) -> str:
    """Return the admin list of ``model`` filtered by ``filters`` (field lookups)."""
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def change_link(obj: Model | None, text: Any = None) -> str:
    """Return ``obj`` as a link to its admin page (plain text without one)."""
    if obj is None:
        return "-"
    label = obj if text is None else text
    url = change_url(obj)
    return format_html('<a href="{}">{}</a>', url, label) if url else str(label)


def list_link(model: type[Model], text: Any, **filters: Any) -> str:
    """Return a link to the admin list of ``model`` filtered by ``filters``."""
    return format_html('<a href="{}">{}</a>', changelist_url(model, **filters), text)


def linked(field: str, *, description: str, ordering: str | None = None) -> Callable:
    """Return a ``list_display`` column showing ``obj.<field>`` as a link to its page.

    The list's ``list_select_related`` must include ``field``, so that the
    column costs no query per row.
    """

    @admin.display(description=description, ordering=ordering or field)
    def column(obj: Model) -> str:
        return change_link(getattr(obj, field))

    column.__name__ = f"{field}_link"
    return column


def user_admin_add_field(
    *,
    name: str,
    display: Callable[[Any], str],
    section: str,
    site: admin.AdminSite | None = None,
) -> None:
    """Add a read-only field to the user admin's page, in fieldset ``section``.

    ``display`` takes the user and returns the field's HTML (``format_html``)
    or text. Idempotent: a field already added is left as it is.
    """
    site = site or admin.site
    if not site.is_registered(get_user_model()):
        return
    user_admin = site.get_model_admin(get_user_model())
    if name in user_admin.readonly_fields:
        return
    setattr(user_admin, name, display)
    user_admin.readonly_fields = (*user_admin.readonly_fields, name)
    if user_admin.fieldsets:
        fieldsets = [(title, dict(opts)) for title, opts in user_admin.fieldsets]
        for title, opts in fieldsets:
            if str(title) == str(section):
                opts["fields"] = (*opts["fields"], name)
                break
        else:
            fieldsets.append((section, {"fields": (name,)}))
        user_admin.fieldsets = fieldsets
    elif user_admin.fields:
        user_admin.fields = (*user_admin.fields, name)
