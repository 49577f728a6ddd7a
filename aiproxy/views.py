"""The AI endpoints: OpenAI-compatible chat completions, models, usage, actions.

Chat completions and document actions are async Django views (served by an
ASGI worker): authentication (our DRF Cognito authentication) and the short
quota/ledger transactions run in a thread, the provider call and the stream
run on the event loop, so an open stream holds no thread. Errors use the API
shape ``{detail, code}`` through the project's exception handler.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from aiproxy.prompts import LENGTHS, TASKS, TONES, ActionOptions, action_messages
from aiproxy.selectors import (
    ai_model_get_enabled,
    ai_model_list_enabled,
    usage_summary_for,
)
from aiproxy.services import (
    completion_abandon,
    completion_create,
    completion_prepare,
    completion_stream,
    run_db,
)
from aiproxy.services.refusals import Asked, asked_model_name, refusals_recorded
from aiproxy.wire import ChatParams, chat_params_parse
from documents.selectors import document_get_for_user
from project.exceptions import ApplicationError, NotFound, api_exception_handler
from project.fields import JsonBooleanField, JsonCharField, JsonIntegerField
from project.parsers import NESTED_TOO_DEEPLY
from project.schema import ApiDoc

# -- helpers of the async views ------------------------------------------------


def _authenticate(*, request: HttpRequest) -> Any:
    """Run the DRF authentication classes; return the user or raise 401."""
    authenticators = [auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
    drf_request = Request(request, authenticators=authenticators)
    header = (
        authenticators[0].authenticate_header(drf_request) if authenticators else None
    )
    try:
        user = drf_request.user
        if not getattr(user, "is_authenticated", False):
            raise drf_exceptions.NotAuthenticated()
    except (
        drf_exceptions.NotAuthenticated,
        drf_exceptions.AuthenticationFailed,
    ) as exc:
        exc.auth_header = header
        raise
    return user


def _error_response(exc: Exception) -> HttpResponse:
    if isinstance(exc, RequestDataTooBig):
        exc = _too_large()
    response = api_exception_handler(exc, {})
    if response is None:
        raise exc
    answer = JsonResponse(response.data, status=response.status_code)
    for name, value in response.headers.items():
        if name.lower() not in {"content-type", "vary", "allow"}:
            answer[name] = value
    return answer


def _too_large() -> ApplicationError:
    return ApplicationError(
        str(_("The request body is too large.")), code="request_too_large", status=413
    )


def _json_body(request: HttpRequest) -> Any:
    """Return the parsed JSON body (``{}`` when empty), bounded in size."""
    limit = settings.AI_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise _too_large()
    body = request.body
    if len(body) > limit:
        raise _too_large()
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApplicationError(
            str(_("The request body is not valid JSON.")), code="parse_error"
        ) from None
    except RecursionError:  # nested deeper than the interpreter's limit
        raise ApplicationError(str(NESTED_TOO_DEEPLY), code="parse_error") from None


async def _sse(
    request: HttpRequest, events: AsyncIterator[bytes]
) -> StreamingHttpResponse:
    """Return the SSE response; under WSGI, the stream read to its end first.

    A WSGI server would consume an async iterator on another event loop than
    the one holding the upstream connection, so there the events are
    gathered here (no streaming; serve the AI routes on ASGI to stream).
    """
    content: Any = events
    if not isinstance(request, ASGIRequest):
        content = [event async for event in events]
    response = StreamingHttpResponse(content, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not buffer the stream
    return response


class AsyncApiView(View):
    """An async view authenticated like our DRF views, answering ``{detail, code}``.

    The database work a request needs before its async part (authentication,
    then :meth:`admit`) runs in one hop to a database thread.
    """

    http_method_names = ["post", "options"]

    def http_method_not_allowed(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        """Answer 405 in the API's shape, with ``Allow``, before authenticating."""
        response = _error_response(drf_exceptions.MethodNotAllowed(request.method))
        allowed = [m.upper() for m in self.http_method_names if hasattr(self, m)]
        response["Allow"] = ", ".join(allowed)
        return response

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        """Return the view; bearer tokens, not cookies, so no CSRF check."""
        return csrf_exempt(super().as_view(**initkwargs))

    def admit(self, request: HttpRequest, **kwargs: Any) -> Any:
        """Do the POST's synchronous work once authenticated; return its result.

        Runs in the authentication's database thread; ``post`` finds the
        result in ``self.admitted``.
        """
        return None

    def _authenticate_and_admit(self, request: HttpRequest, kwargs: dict) -> Any:
        request.user = _authenticate(request=request)
        if request.method == "POST":
            return self.admit(request, **kwargs)
        return None

    async def abandon(self, admitted: Any) -> None:
        """Undo what :meth:`admit` holds (a quota reservation): the client left."""

    async def _admit(self, request: HttpRequest, kwargs: dict) -> Any:
        """Run the admission hop; if the client leaves meanwhile, undo it.

        The hop runs on in its thread when the request is cancelled, so its
        reservation would be held until ``quota_release_stale``: wait for
        it, release it, then let the cancellation go on.
        """
        hop = asyncio.ensure_future(
            run_db(self._authenticate_and_admit, request=request, kwargs=kwargs)
        )
        try:
            return await asyncio.shield(hop)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self.abandon(await hop)
            raise

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        """Authenticate and admit (in a thread), then run the async handler."""
        method = (request.method or "").lower()
        if method not in self.http_method_names:
            return self.http_method_not_allowed(request)
        try:
            self.admitted = await self._admit(request, kwargs)
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "__await__"):
                response = await response
            return response
        except Exception as exc:  # noqa: BLE001 - shaped or re-raised
            return _error_response(exc)


# -- OpenAI-compatible endpoints -----------------------------------------------


class ChatCompletionApi(AsyncApiView):
    """``POST /api/v1/ai/chat/completions`` in OpenAI's wire format."""

    def admit(self, request: HttpRequest, **kwargs: Any) -> Any:
        """Parse the request, then resolve the model and reserve its quota.

        Each refusal leaves a ``refused`` ledger row (``completion_prepare``
        records its own).
        """
        with refusals_recorded(user=request.user) as asked:
            body = _json_body(request)
            asked.model_name = asked_model_name(body)
            params = chat_params_parse(body)
        return params, completion_prepare(user=request.user, params=params)

    async def abandon(self, admitted: Any) -> None:
        """Release the reservation of a request whose client left."""
        if admitted is not None:
            await completion_abandon(call=admitted[1])

    async def post(self, request: HttpRequest) -> HttpResponse:
        """Answer one chat completion, whole or as an SSE stream."""
        params, call = self.admitted
        if params.stream:
            events = await completion_stream(
                call=call, include_usage=params.include_usage
            )
            return await _sse(request, events)
        answer = await completion_create(call=call)
        return JsonResponse(answer)


def _model_json(model: Any) -> dict[str, Any]:
    return {
        "id": model.name,
        "object": "model",
        "created": int(model.created_at.timestamp()),
        "owned_by": "quire",
        "context_length": model.context_limit,
        "max_output_tokens": model.max_output_tokens,
    }


@extend_schema_serializer(component_name="AIModelInfo")
class ModelOutputSerializer(serializers.Serializer):
    """One catalogue model in OpenAI's ``model`` shape (plus limits)."""

    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()
    context_length = serializers.IntegerField()
    max_output_tokens = serializers.IntegerField()


class ModelListApi(APIView):
    """``GET /api/v1/ai/models``: the enabled models, OpenAI's list shape."""

    @extend_schema_serializer(component_name="AIModelList")
    class OutputSerializer(serializers.Serializer):
        object = serializers.CharField()
        data = ModelOutputSerializer(many=True)

    @ApiDoc(
        tag="ai",
        summary="List the AI models",
        description=(
            "The models the caller may name in `model`, in OpenAI's list shape "
            "(the `openai` SDK's `models.list()`), with each model's context "
            "and output limits."
        ),
    )
    @extend_schema(responses=OutputSerializer, operation_id="ai_models_list")
    def get(self, request: Request) -> Response:
        """List the models a client may ask for."""
        data = [_model_json(model) for model in ai_model_list_enabled()]
        return Response({"object": "list", "data": data})


class ModelDetailApi(APIView):
    """``GET /api/v1/ai/models/{name}``."""

    @ApiDoc(
        tag="ai",
        summary="Read one AI model",
        description="One enabled model by its name, as listed by `GET /ai/models`.",
        # not_found: a name the URL pattern cannot take (a line break...).
        errors={404: ("model_not_found", "not_found")},
    )
    @extend_schema(responses=ModelOutputSerializer, operation_id="ai_models_retrieve")
    def get(self, request: Request, name: str) -> Response:
        """Return one enabled model, or 404 ``model_not_found``."""
        return Response(_model_json(ai_model_get_enabled(name=name)))


class UsageApi(APIView):
    """``GET /api/v1/ai/usage``: the caller's usage this month and what is left."""

    @extend_schema_serializer(
        component_name="AIUsage",
        examples=[
            OpenApiExample(
                "Usage this month",
                value={
                    "period_start": "2026-12-01",
                    "period_end": "2027-01-01T00:00:00Z",
                    "tokens_limit": 200000,
                    "tokens_used": 5321,
                    "tokens_reserved": 0,
                    "tokens_remaining": 194679,
                    "requests_per_minute": 20,
                    "requests": 14,
                    "cost": "0.0114",
                    "by_model": [
                        {
                            "model": "quire-mock",
                            "requests": 14,
                            "prompt_tokens": 4410,
                            "completion_tokens": 911,
                            "cost": "0.0114",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="AIModelUsage")
        class ModelUsage(serializers.Serializer):
            model = serializers.CharField()
            requests = serializers.IntegerField()
            prompt_tokens = serializers.IntegerField()
            completion_tokens = serializers.IntegerField()
            cost = serializers.CharField()

        period_start = serializers.DateField()
        period_end = serializers.DateTimeField()
        tokens_limit = serializers.IntegerField()
        tokens_used = serializers.IntegerField()
        tokens_reserved = serializers.IntegerField()
        tokens_remaining = serializers.IntegerField()
        requests_per_minute = serializers.IntegerField()
        requests = serializers.IntegerField()
        cost = serializers.CharField()
        by_model = ModelUsage(many=True)

    @ApiDoc(
        tag="ai",
        summary="Read the caller's AI usage and quota",
        description=(
            "This month's tokens used, reserved (by requests still running) and "
            "remaining, the per-minute request limit, and the requests and cost "
            "per model. The quota resets at `period_end` (UTC)."
        ),
    )
    @extend_schema(responses=OutputSerializer, operation_id="ai_usage_retrieve")
    def get(self, request: Request) -> Response:
        """Return the summary."""
        summary = usage_summary_for(user=request.user, now=timezone.now())
        return Response(self.OutputSerializer(summary).data)


# -- document actions ----------------------------------------------------------


class DocumentActionApi(AsyncApiView):
    """``POST /api/v1/documents/{id}/ai/{action}/``: answer, never write."""

    class InputSerializer(serializers.Serializer):
        model = JsonCharField(max_length=100, required=False)
        stream = JsonBooleanField(default=False)
        max_tokens = JsonIntegerField(min_value=1, required=False)
        target_language = JsonCharField(max_length=50, required=False)
        tone = serializers.ChoiceField(choices=TONES, default="neutral")
        length = serializers.ChoiceField(choices=LENGTHS, default="medium")
        instructions = JsonCharField(
            max_length=500, required=False, allow_blank=True, default=""
        )

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            action = self.context["action"]
            if action == "translate" and not attrs.get("target_language"):
                raise serializers.ValidationError(
                    {"target_language": [_("Required to translate.")]}
                )
            cap = settings.AI_MAX_TOKENS_CAP
            if attrs.get("max_tokens", 0) > cap:
                raise serializers.ValidationError(
                    {"max_tokens": [_("Must be at most %(cap)s.") % {"cap": cap}]}
                )
            return attrs

    def admit(
        self, request: HttpRequest, *, document_id: str, action: str
    ) -> tuple[Any, ChatParams, Any]:
        """Check the options and the document, then reserve the model's quota.

        Each refusal leaves a ``refused`` ledger row (``completion_prepare``
        records its own).
        """
        known = Asked(action=action if action in TASKS else "")
        with refusals_recorded(user=request.user, asked=known):
            if action not in TASKS:
                raise NotFound(str(_("Unknown AI action.")), code="action_not_found")
            body = _json_body(request)
            known.model_name = asked_model_name(body) or settings.AI_DEFAULT_MODEL
            incoming = self.InputSerializer(data=body, context={"action": action})
            incoming.is_valid(raise_exception=True)
            data = incoming.validated_data
            document = document_get_for_user(user=request.user, document_id=document_id)
            known.document = document
            if len(document.body) > settings.AI_DOCUMENT_MAX_CHARS:
                raise ApplicationError(
                    str(_("The document is too long for an AI action.")),
                    code="document_too_large",
                    status=413,
                )
        messages = action_messages(
            action=action,
            title=document.title,
            body=document.body,
            options=ActionOptions(
                target_language=data.get("target_language", ""),
                tone=data["tone"],
                length=data["length"],
                instructions=data["instructions"],
            ),
        )
        params = ChatParams(
            model=data.get("model") or settings.AI_DEFAULT_MODEL,
            messages=messages,
            max_tokens=data.get("max_tokens"),
            stream=data["stream"],
            include_usage=True,
        )
        call = completion_prepare(
            user=request.user, params=params, document=document, action=action
        )
        return document, params, call

    async def abandon(self, admitted: Any) -> None:
        """Release the reservation of a request whose client left."""
        if admitted is not None:
            await completion_abandon(call=admitted[2])

    async def post(
        self, request: HttpRequest, document_id: str, action: str
    ) -> HttpResponse:
        """Run ``action`` on the document with its current text."""
        document, params, call = self.admitted
        if params.stream:
            events = await completion_stream(call=call, include_usage=True)
            return await _sse(request, events)
        answer = await completion_create(call=call)
        choice = answer["choices"][0]
        return JsonResponse(
            {
                "action": action,
                "document": str(document.pk),
                "version": document.version,
                "model": answer["model"],
                "content": choice["message"]["content"],
                "finish_reason": choice["finish_reason"],
                "usage": answer["usage"],
            }
        )
