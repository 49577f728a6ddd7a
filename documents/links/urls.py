from django.urls import path

from documents.links import views

app_name = "links"

urlpatterns = [
    path(
        "documents/<str:document_id>/links/",
        views.ShareLinkListCreateApi.as_view(),
        name="link-list",
    ),
    path(
        "documents/<str:document_id>/links/<str:link_id>/",
        views.ShareLinkDetailApi.as_view(),
        name="link-detail",
    ),
    path("links/<str:secret>/", views.ShareLinkOpenApi.as_view(), name="link-open"),
]
