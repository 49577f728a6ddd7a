from django.apps import AppConfig


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Quire"

    def ready(self) -> None:
        """Register the OpenAPI extensions (they register on import)."""
        from project import schema  # noqa: F401
