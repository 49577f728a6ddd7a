"""The admin's CSV exports: a button for the filtered rows, an action for the selected.

A model admin derives from :class:`CsvExportAdmin` and names its export
service in ``csv_export`` (a ``staticmethod``: a queryset in, the streamed
CSV response out). The button (``export/`` next to the list, with the list's
query string) exports every row the filters, search and date drill-down keep,
on all pages: the queryset is the list's own (``get_changelist_instance``),
so the export and the totals shown above the list come from the same rows.
Exports need the view permission and are logged (who, which model, the
names of the filters used), never their content.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


class CsvExportAdmin(admin.ModelAdmin):
    """A model admin with ``<changelist>/export/`` and "Export selected as CSV"."""

    csv_export: Callable[[QuerySet], HttpResponse]

    def get_urls(self) -> list[URLPattern]:
        """Put ``export/`` before the admin's own ``<path:object_id>/`` routes."""
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        view = self.admin_site.admin_view(self.csv_export_view)
        return [path("export/", view, name=name), *super().get_urls()]

    def csv_export_view(self, request: HttpRequest) -> HttpResponse:
        """Stream the rows the list shows for this query string, all pages."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            url = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"
            )
            return HttpResponseRedirect(url + "?e=1")
        self._log_export(request, "filtered", ",".join(sorted(request.GET)))
        return self.csv_export(changelist.queryset)

    @admin.action(
        description=_("Export the selected rows as CSV"), permissions=["view"]
    )
    def export_selected_csv(self, request: HttpRequest, queryset: QuerySet) -> Any:
        """Stream the selected rows (every filtered row with "select all")."""
        self._log_export(request, "selected", "")
        return self.csv_export(queryset)

    def _log_export(self, request: HttpRequest, rows: str, filters: str) -> None:
        # The filters' names only: a search term may be someone's email.
        logger.info(
            "admin csv export model=%s rows=%s filters=%s staff=%s",
            self.opts.label,
            rows,
            filters or "-",
            request.user.pk,
        )
