from django.urls import path

from attachments import views

app_name = "attachments"

urlpatterns = [
    path(
        "documents/<uuid:document_id>/attachments/",
        views.DocumentAttachmentsApi.as_view(),
        name="document-attachments",
    ),
    path(
        "attachments/<uuid:attachment_id>/",
        views.AttachmentDetailApi.as_view(),
        name="attachment-detail",
    ),
    path(
        "attachments/<uuid:attachment_id>/complete/",
        views.AttachmentCompleteApi.as_view(),
        name="attachment-complete",
    ),
    path(
        "attachments/<uuid:attachment_id>/download/",
        views.AttachmentDownloadApi.as_view(),
        name="attachment-download",
    ),
]
