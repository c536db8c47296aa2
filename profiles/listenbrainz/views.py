"""ListenBrainz-compatible endpoints: what ListenBrainz clients and scrobblers talk to.

Answers keep ListenBrainz's shapes: errors are ``{"code": ..., "error": "..."}`` and every
answer carries its X-RateLimit-* headers. Reads are of one's own data only: another
person's name is answered like an unknown one.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from musicsite.parsers import JSONParser
from profiles import selectors, services
from profiles.importers.rules import MAX_LISTEN_BYTES, MAX_LISTENS_PER_REQUEST, MAX_UNIX_SECONDS
from profiles.listen_input import (
    ListenInput,
    ListenProblems,
    PlayingNowInput,
    read_listenbrainz_listens,
)
from profiles.listenbrainz.serializers import (
    LISTEN_TYPES,
    ListenCountResponseSerializer,
    ListensResponseSerializer,
    PlayingNowResponseSerializer,
    StatusSerializer,
    SubmitListensSerializer,
    ValidateTokenSerializer,
    listen_payload,
    shown_metadata,
)

MAX_LISTEN_PAYLOAD_BYTES = 10_240_000
DEFAULT_ITEMS_PER_GET = 25
MAX_ITEMS_PER_GET = 1000
SOURCE = "listenbrainz"


class ListenBrainzError(APIException):
    def __init__(self, message: str, status_code: int = status.HTTP_400_BAD_REQUEST) -> None:
        super().__init__(message)
        self.status_code = status_code


def _token_from_header(header: str) -> str:
    """The key after the scheme word: ListenBrainz takes ``Token``, ``token``, ``Bearer``..."""
    _, _, key = header.strip().partition(" ")
    return key.strip()


class ListenBrainzTokenAuthentication(TokenAuthentication):
    """A token under any scheme word, as ListenBrainz reads the Authorization header."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        key = _token_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
        return self.authenticate_credentials(key) if key else None


class ListenBrainzTokenScheme(OpenApiAuthenticationExtension):
    target_class = ListenBrainzTokenAuthentication
    name = "listenBrainzToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`; as ListenBrainz, any scheme word before the key.",
        }


class ListenBrainzRateThrottle(UserRateThrottle):
    """DRF's per-user (per-address when anonymous) rate, reported the ListenBrainz way."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            self.scope = "anon"
            self.rate = self.get_rate()
            self.num_requests, self.duration = self.parse_rate(self.rate)
        allowed = super().allow_request(request, view)
        if self.rate is not None:
            remaining = max(0, self.num_requests - len(self.history))
            window_ends = self.history[-1] + self.duration if self.history else self.now
            reset_in = max(0, math.ceil(window_ends - self.now))
            view.rate_limit_headers = {
                "X-RateLimit-Limit": str(self.num_requests),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset-In": str(reset_in),
                "X-RateLimit-Reset": str(int(time.time()) + reset_in),
            }
        return allowed


def _message(detail: Any) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_message(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_message(item) for item in detail)
    return str(detail)


class ListenBrainzView(APIView):
    # ListenBrainz's error body, documented in the schema instead of the site's own shape.
    error_schema = {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "error": {"type": "string"}},
        "required": ["code", "error"],
    }
    authentication_classes = [ListenBrainzTokenAuthentication]
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [ListenBrainzRateThrottle]
    renderer_classes = [JSONRenderer]
    rate_limit_headers: dict[str, str] = {}

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        detail = response.data.get("detail", response.data) if response.data else ""
        response.data = {"code": response.status_code, "error": _message(detail)}
        return response

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        for header, value in self.rate_limit_headers.items():
            response[header] = value
        return response


def _problem_message(exc: ListenProblems) -> str:
    first = exc.problems[0]
    return f"Listen {first.index}: {first.field}: {first.message}"


class SubmitListensView(ListenBrainzView):
    # The body is read as JSON whatever its Content-Type: liblistenbrainz sends none.
    parser_classes = [JSONParser]

    @extend_schema(
        request=SubmitListensSerializer,
        responses={200: StatusSerializer},
        description="Submit listens as ListenBrainz defines it: `single` (one listen), "
        "`import` (up to 1000) or `playing_now` (one, without listened_at; shown as now "
        "playing, not stored as a listen). All-or-nothing; duplicates are ignored.",
    )
    def post(self, request: Request) -> Response:
        listen_type, items = self._read_body(request)
        try:
            listens = read_listenbrainz_listens(
                items, now=timezone.now(), playing_now=listen_type == "playing_now"
            )
            if listen_type == "playing_now":
                playing = listens[0]
                assert isinstance(playing, PlayingNowInput)
                services.set_now_playing(
                    user=request.user,
                    metadata=playing.metadata,
                    track_metadata=playing.track_metadata,
                )
            else:
                submitted = [listen for listen in listens if isinstance(listen, ListenInput)]
                services.record_listens(user=request.user, listens=submitted, source=SOURCE)
        except ListenProblems as exc:
            raise ListenBrainzError(_problem_message(exc)) from None
        return Response({"status": "ok"})

    def _read_body(self, request: Request) -> tuple[str, list[Any]]:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > MAX_LISTEN_PAYLOAD_BYTES:
            raise ListenBrainzError(f"Payload exceeds {MAX_LISTEN_PAYLOAD_BYTES} bytes.")
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ListenBrainzError("Cannot parse JSON document.") from None
        if not isinstance(body, dict) or body.get("listen_type") not in LISTEN_TYPES:
            raise ListenBrainzError(f"listen_type must be one of {', '.join(LISTEN_TYPES)}.")
        items = body.get("payload")
        if not isinstance(items, list) or not items:
            raise ListenBrainzError("payload must be a non-empty list of listens.")
        listen_type = body["listen_type"]
        if listen_type != "import" and len(items) != 1:
            raise ListenBrainzError(f"A {listen_type} submission holds exactly one listen.")
        if len(items) > MAX_LISTENS_PER_REQUEST:
            raise ListenBrainzError(f"Too many listens; at most {MAX_LISTENS_PER_REQUEST}.")
        if len(request.body) > len(items) * MAX_LISTEN_BYTES:
            raise ListenBrainzError(
                "JSON document is too large. In aggregate, listens may not be larger than "
                f"{MAX_LISTEN_BYTES} bytes each."
            )
        return listen_type, items


class ValidateTokenView(ListenBrainzView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("token", str, required=False)],
        responses={200: ValidateTokenSerializer},
        description="Whether a token is valid: from the Authorization header "
        "(`Token <key>`) or the `token` parameter.",
    )
    def get(self, request: Request) -> Response:
        key = _token_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
        key = key or request.query_params.get("token", "")
        if not key:
            raise ListenBrainzError("You need to provide an Authorization token.")
        token = Token.objects.select_related("user").filter(key=key[:40]).first()
        if token is None or len(key) > 40 or not token.user.is_active:
            return Response({"code": 200, "message": "Token invalid.", "valid": False})
        body = {
            "code": 200,
            "message": "Token valid.",
            "valid": True,
            "user_name": token.user.get_username(),
        }
        return Response(body)


class OwnDataView(ListenBrainzView):
    def own_user(self, request: Request, user_name: str) -> Any:
        # Usernames are unique without regard to case (registration refuses "ALICE" beside
        # "alice"), so they are matched the same way here.
        if user_name.casefold() != request.user.get_username().casefold():
            raise ListenBrainzError(f"Cannot find user: {user_name}", status.HTTP_404_NOT_FOUND)
        return request.user


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ListenBrainzError(f"{name} must be an integer.") from None
    if not 0 <= number <= MAX_UNIX_SECONDS:
        raise ListenBrainzError(f"{name} is out of range.")
    return number


class UserListensView(OwnDataView):
    @extend_schema(
        parameters=[
            OpenApiParameter("max_ts", int, description="Listens before this Unix time."),
            OpenApiParameter("min_ts", int, description="Listens after this Unix time."),
            OpenApiParameter(
                "count", int, description=f"Default 25; more than {MAX_ITEMS_PER_GET} gives that."
            ),
        ],
        responses={200: ListensResponseSerializer},
        description="One's own listens, newest first, as ListenBrainz answers them.",
    )
    def get(self, request: Request, user_name: str) -> Response:
        user = self.own_user(request, user_name)
        max_ts, min_ts = _int_param(request, "max_ts"), _int_param(request, "min_ts")
        count = _int_param(request, "count")
        count = min(DEFAULT_ITEMS_PER_GET if count is None else count, MAX_ITEMS_PER_GET)
        if max_ts is not None and min_ts is not None and min_ts >= max_ts:
            raise ListenBrainzError("min_ts must be less than max_ts.")
        listens = selectors.listenbrainz_listens(
            user=user, min_ts=min_ts, max_ts=max_ts, count=count
        )
        latest, oldest = selectors.listen_time_range(user=user)
        payload = {
            "count": len(listens),
            "listens": [listen_payload(listen, user.get_username()) for listen in listens],
            "latest_listen_ts": int(latest.timestamp()) if latest else None,
            "oldest_listen_ts": int(oldest.timestamp()) if oldest else None,
            "user_id": user.get_username(),
        }
        return Response({"payload": payload})


class PlayingNowView(OwnDataView):
    @extend_schema(responses={200: PlayingNowResponseSerializer})
    def get(self, request: Request, user_name: str) -> Response:
        user = self.own_user(request, user_name)
        playing = selectors.now_playing_of(user=user)
        listens = (
            [{"playing_now": True, "track_metadata": shown_metadata(playing)}] if playing else []
        )
        payload = {
            "count": len(listens),
            "listens": listens,
            "playing_now": True,
            "user_id": user.get_username(),
        }
        return Response({"payload": payload})


class ListenCountView(OwnDataView):
    @extend_schema(responses={200: ListenCountResponseSerializer})
    def get(self, request: Request, user_name: str) -> Response:
        count = selectors.listen_count(user=self.own_user(request, user_name))
        return Response({"payload": {"count": count}})
