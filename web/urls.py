from django.urls import path

from web import oidc, shared, views

app_name = "web"

urlpatterns = [
    path("", views.app, name="app"),
    path("signin", views.local_sign_in, name="signin"),
    path("signout", views.sign_out, name="signout"),
    path("auth/login", oidc.sign_in_start, name="oidc-start"),
    path("auth/callback", oidc.sign_in_callback, name="oidc-callback"),
    path("s/<str:secret>", shared.shared_document, name="shared"),
]
