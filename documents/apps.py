from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = "Documents"

    def ready(self) -> None:
        from accounts import registry
        from documents import selectors, services

        registry.register(
            registry.AccountContributor(
                name="documents",
                export=services.account_export,
                delete=services.account_delete,
                summary=selectors.account_deletion_summary,
            )
        )
        registry.register_verified_email_hook(services.invitations_claim)
