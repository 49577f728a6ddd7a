from django.apps import AppConfig


class AiproxyConfig(AppConfig):
    name = "aiproxy"
    verbose_name = "AI proxy"

    def ready(self) -> None:
        """Connect the provider registry, account hooks and the model memory."""
        from django.db.models.signals import post_delete, post_save

        from accounts.registry import (
            AccountContributor,
            register,
            register_user_export_column,
        )
        from aiproxy import providers  # noqa: F401 - connects setting_changed
        from aiproxy.models import AIModel
        from aiproxy.selectors import forget_models, usage_deletion_summary
        from aiproxy.services import usage_delete_for_user, usage_export_for_user
        from aiproxy.services.export import USER_EXPORT_COLUMNS

        register(
            AccountContributor(
                name="ai_usage",
                export=usage_export_for_user,
                delete=usage_delete_for_user,
                summary=usage_deletion_summary,
                order=50,
            )
        )
        for column in USER_EXPORT_COLUMNS:
            register_user_export_column(column)
        # A catalogue change is seen at once by this process (others within
        # AI_MODEL_CACHE_SECONDS).
        post_save.connect(forget_models, sender=AIModel)
        post_delete.connect(forget_models, sender=AIModel)
