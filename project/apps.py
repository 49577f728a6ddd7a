from django.apps import AppConfig


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Quire"

    def ready(self) -> None:
        """Register the OpenAPI extensions and the checks (on import)."""
        from project import checks, schema  # noqa: F401
