from django.urls import path, re_path

from aiproxy.views import (
    ChatCompletionApi,
    DocumentActionApi,
    ModelDetailApi,
    ModelListApi,
    UsageApi,
)

app_name = "aiproxy"

# The OpenAI SDK calls these paths without a trailing slash; both are served.
urlpatterns = [
    re_path(r"^ai/models/?$", ModelListApi.as_view(), name="model-list"),
    re_path(
        r"^ai/models/(?P<name>.+?)/?$", ModelDetailApi.as_view(), name="model-detail"
    ),
    re_path(
        r"^ai/chat/completions/?$", ChatCompletionApi.as_view(), name="chat-completion"
    ),
    re_path(r"^ai/usage/?$", UsageApi.as_view(), name="usage"),
    path(
        "documents/<str:document_id>/ai/<str:action>/",
        DocumentActionApi.as_view(),
        name="document-action",
    ),
]
