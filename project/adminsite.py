"""The staff admin site: Quire's name, the web app as "View site", a dashboard.

Installed as the default site (``project.apps.QuireAdminConfig``), so every
``admin.register`` in the apps lands here. The index shows the dashboard of
:mod:`project.dashboard`, each panel only to staff who may view its rows.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class QuireAdminSite(admin.AdminSite):
    site_header = _("Quire administration")
    site_title = _("Quire administration")
    index_title = _("Overview")
    # The end-user web app (web/), served at the root.
    site_url = "/"
    index_template = "admin/quire_index.html"

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Render the app list with the dashboard above it."""
        from project.dashboard import dashboard_for

        context = {
            "dashboard": dashboard_for(user=request.user, now=timezone.now()),
            **(extra_context or {}),
        }
        return super().index(request, context)
