from django.apps import AppConfig


class AiproxyConfig(AppConfig):
    name = "aiproxy"
    verbose_name = "AI proxy"

    def ready(self) -> None:
        """Connect the provider registry's settings listener."""
        from aiproxy import providers  # noqa: F401 - connects setting_changed
