from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = "Documents"

    def ready(self) -> None:
        from accounts import registry
        from documents import schema, selectors, services  # noqa: F401 - schema
        from documents.links import admin as _links_admin  # noqa: F401 - registers
        from documents.links import services as link_services

        registry.register(
            registry.AccountContributor(
                name="documents",
                export=services.account_export,
                delete=services.account_delete,
                summary=selectors.account_deletion_summary,
            )
        )
        registry.register(
            registry.AccountContributor(
                name="share_links",
                export=link_services.account_export,
                delete=link_services.account_delete,
                order=90,  # before "documents": a user's links, then their documents
                summary=link_services.account_deletion_summary,
            )
        )
        registry.register_verified_email_hook(services.invitations_claim)
