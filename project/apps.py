from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Quire"

    def ready(self) -> None:
        """Register the OpenAPI extensions and the checks (on import)."""
        from project import checks, schema  # noqa: F401


class QuireAdminConfig(admin_apps.AdminConfig):
    """Django's admin with Quire's site (branding, dashboard) as the default site.

    Listed in ``INSTALLED_APPS`` instead of ``django.contrib.admin``.
    """

    default = False  # not the "project" app's own config
    default_site = "project.adminsite.QuireAdminSite"
