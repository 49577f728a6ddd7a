from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("me", views.MeApi.as_view(), name="me"),
    path("me/export", views.MeExportApi.as_view(), name="me-export"),
    path("me/sign-out", views.MeSignOutApi.as_view(), name="me-sign-out"),
]
