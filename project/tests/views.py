"""Test-only views that exercise the shared API machinery (never routed in prod)."""

import threading
import uuid

from django.http import HttpRequest, JsonResponse

from csp.decorators import csp_update
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from project.exceptions import ApplicationError, NotFound
from project.idempotency import idempotent
from project.schema import error_responses

# State of IdempotentThingCreateApi, reset by the idempotency tests.
ATTEMPTS: list[str] = []
CREATED: list[str] = []
STARTED = threading.Event()
RELEASE = threading.Event()


class EchoInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=50)


class EchoOutputSerializer(serializers.Serializer):
    title = serializers.CharField()


class EchoApi(APIView):
    """Accept a JSON body and echo it back (parse, validation, 405 tests)."""

    @extend_schema(
        request=EchoInputSerializer,
        responses={200: EchoOutputSerializer, **error_responses(404)},
    )
    def post(self, request: Request) -> Response:
        incoming = EchoInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        return Response(incoming.validated_data)


class PublicApi(APIView):
    """An anonymous-friendly endpoint (anon throttle tests)."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: EchoOutputSerializer})
    def get(self, request: Request) -> Response:
        return Response({"title": "public"})


class ScopedApi(APIView):
    """An endpoint with its own throttle scope."""

    throttle_scope = "burst"

    @extend_schema(responses={200: EchoOutputSerializer})
    def get(self, request: Request) -> Response:
        return Response({"title": "scoped"})


class FailingApi(APIView):
    """Raise the exception chosen by ``kind`` inside a DRF view."""

    @extend_schema(responses={200: EchoOutputSerializer})
    def get(self, request: Request, kind: str) -> Response:
        if kind == "conflict":
            raise ApplicationError(
                "Already done.", code="already_done", status=status.HTTP_409_CONFLICT
            )
        if kind == "missing":
            raise NotFound()
        raise RuntimeError("secret internals: password=hunter2")


def plain_failing_view(request: HttpRequest, kind: str) -> JsonResponse:
    """Raise from a plain Django view (not DRF), as the async AI views may."""
    if kind == "conflict":
        raise ApplicationError(
            "Quota spent.",
            code="quota_exceeded",
            status=429,
            headers={"Retry-After": "30"},
        )
    raise RuntimeError("secret internals: token=abc")


def make_id() -> str:
    """Return a fresh id, so replays can be told from re-runs."""
    return str(uuid.uuid4())


class ThingInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=50)


class ThingOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()


class IdempotentThingCreateApi(APIView):
    """Create a "thing" (recorded in ``CREATED``), honouring Idempotency-Key.

    The title steers the outcome: ``crash`` raises, ``busy`` is a transient
    409, ``slow`` waits for ``RELEASE`` (concurrency tests), ``reenter`` sends
    the same request again from inside the view (in-progress test).
    """

    @extend_schema(
        request=ThingInputSerializer,
        responses={201: ThingOutputSerializer, **error_responses(409, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        incoming = ThingInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        title = incoming.validated_data["title"]
        ATTEMPTS.append(title)
        if title == "crash":
            raise RuntimeError("boom")
        if title == "busy":
            raise ApplicationError("Busy.", code="busy", status=409)
        if title == "slow":
            STARTED.set()
            RELEASE.wait(timeout=10)
        extra = {}
        if title == "reenter":
            client = APIClient()
            client.force_authenticate(user=request.user)
            nested = client.post(
                request.path,
                data=request.body,
                content_type="application/json",
                headers={"Idempotency-Key": request.headers["Idempotency-Key"]},
            )
            extra = {"nested": {"status": nested.status_code, "body": nested.json()}}
        thing_id = make_id()
        CREATED.append(thing_id)
        return Response(
            {"id": thing_id, "title": title, **extra},
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/test/things/{thing_id}", "X-Other": "x"},
        )


@csp_update({"img-src": ["https://images.example"]})
def csp_updated_view(request: HttpRequest) -> JsonResponse:
    """An API-like view that changes the policy (the CSP fast path must step aside)."""
    return JsonResponse({"ok": True})


def csp_nonce_view(request: HttpRequest) -> JsonResponse:
    """An API-like view that uses the request's nonce."""
    return JsonResponse({"nonce": str(request.csp_nonce)})
