from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        """Register the OpenAPI description and the token memory's invalidation."""
        from django.db.models.signals import post_delete, post_save

        from accounts import schema  # noqa: F401
        from accounts.authcache import forget_saved_user
        from accounts.models import User

        # A saved user (the admin deactivating one, say) is re-checked on the
        # next request of this process instead of served from memory.
        post_save.connect(forget_saved_user, sender=User)
        post_delete.connect(forget_saved_user, sender=User)
