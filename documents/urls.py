from django.urls import path

from documents import access_views, revision_views, transfer_views, views

app_name = "documents"

urlpatterns = [
    path("documents/", views.DocumentListCreateApi.as_view(), name="document-list"),
    path(
        "links/<str:secret>/export",
        transfer_views.ShareLinkExportApi.as_view(),
        name="link-export",
    ),
    path(
        "documents/import",
        transfer_views.DocumentImportApi.as_view(),
        name="document-import",
    ),
    path(
        "documents/<str:document_id>/",
        views.DocumentDetailApi.as_view(),
        name="document-detail",
    ),
    path(
        "documents/<str:document_id>/export",
        transfer_views.DocumentExportApi.as_view(),
        name="document-export",
    ),
    path(
        "documents/<str:document_id>/restore/",
        views.DocumentRestoreApi.as_view(),
        name="document-restore",
    ),
    path(
        "documents/<str:document_id>/revisions/",
        revision_views.RevisionListApi.as_view(),
        name="revision-list",
    ),
    path(
        "documents/<str:document_id>/revisions/<int:number>/",
        revision_views.RevisionDetailApi.as_view(),
        name="revision-detail",
    ),
    path(
        "documents/<str:document_id>/revisions/<int:number>/export",
        transfer_views.RevisionExportApi.as_view(),
        name="revision-export",
    ),
    path(
        "documents/<str:document_id>/revisions/<int:number>/restore/",
        revision_views.RevisionRestoreApi.as_view(),
        name="revision-restore",
    ),
    path(
        "documents/<str:document_id>/access/",
        access_views.AccessListCreateApi.as_view(),
        name="access-list",
    ),
    path(
        "documents/<str:document_id>/access/<str:access_id>/",
        access_views.AccessDetailApi.as_view(),
        name="access-detail",
    ),
]
