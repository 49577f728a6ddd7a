from django.apps import AppConfig


class AttachmentsConfig(AppConfig):
    name = "attachments"
    verbose_name = "Attachments"

    def ready(self) -> None:
        """Join document purges and account export/deletion."""
        from accounts.registry import AccountContributor, register
        from attachments.housekeeping import (
            attachments_delete_for_documents,
            attachments_delete_for_user,
            attachments_export_for_user,
        )
        from attachments.selectors import attachments_deletion_summary
        from documents.hooks import register_purge_hook

        register_purge_hook(attachments_delete_for_documents)
        register(
            AccountContributor(
                name="attachments",
                export=attachments_export_for_user,
                delete=attachments_delete_for_user,
                summary=attachments_deletion_summary,
                order=50,
            )
        )
