from django.apps import AppConfig


class AiproxyConfig(AppConfig):
    name = "aiproxy"
    verbose_name = "AI proxy"

    def ready(self) -> None:
        """Connect the provider registry's settings listener and account hooks."""
        from accounts.registry import AccountContributor, register
        from aiproxy import providers  # noqa: F401 - connects setting_changed
        from aiproxy.services import usage_delete_for_user, usage_export_for_user

        register(
            AccountContributor(
                name="ai_usage",
                export=usage_export_for_user,
                delete=usage_delete_for_user,
                order=50,
            )
        )
