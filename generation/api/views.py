from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.api.views import DetailSerializer
from generation import selectors, services
from generation.api.serializers import (
    GenerationAcceptedSerializer,
    GenerationCreateSerializer,
    GenerationSerializer,
    PlaylistCreateSerializer,
    PlaylistSerializer,
    PlaylistUpdateSerializer,
)
from generation.models import GenerationRequest, Playlist
from jobs.services import Idempotency

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Any string of up to 255 printable ASCII characters, new for each new "
    "request: a retry with the same key and body within 24 hours gets what the first one "
    "made (answer header `Idempotent-Replayed: true`) instead of a second one; the same key "
    "with another body is a 422.",
)


IDEMPOTENCY_ANSWERS = {
    409: OpenApiResponse(
        response=DetailSerializer,
        description="What a request with this Idempotency-Key made has been deleted since.",
    ),
    422: OpenApiResponse(
        response=DetailSerializer,
        description="This Idempotency-Key came with another request in the last 24 hours.",
    ),
}


def _idempotency(request: Request, scope: str, body: dict) -> Idempotency | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not (0 < len(key) <= 255 and key.isascii() and key.isprintable()):
        message = "Up to 255 printable ASCII characters, not empty."
        raise ValidationError({"Idempotency-Key": [message]})
    return Idempotency.of(scope, key, body)


def _mark_replayed(response: Response, idempotency: Idempotency | None) -> Response:
    if idempotency is not None and idempotency.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class GenerationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = GenerationSerializer

    def get_queryset(self) -> QuerySet[GenerationRequest]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return GenerationRequest.objects.none()
        return selectors.generation_requests(self.request.user)

    @extend_schema(
        request=GenerationCreateSerializer,
        responses={202: GenerationAcceptedSerializer, **IDEMPOTENCY_ANSWERS},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> Response:
        serializer = GenerationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        idempotency = _idempotency(request, "generation", data)
        generation = services.request_generation(user=request.user, idempotency=idempotency, **data)
        body = {
            "id": generation.pk,
            "status": generation.job.status,
            "url": request.build_absolute_uri(reverse("generation-detail", args=[generation.pk])),
        }
        return _mark_replayed(Response(body, status=status.HTTP_202_ACCEPTED), idempotency)


class PlaylistViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = PlaylistSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Playlist]:
        if getattr(self, "swagger_fake_view", False):
            return Playlist.objects.none()
        return selectors.playlists(self.request.user).prefetch_related(
            selectors.visible_playlist_items(self.request.user)
        )

    @extend_schema(
        request=PlaylistCreateSerializer,
        responses={201: PlaylistSerializer, 202: PlaylistSerializer, **IDEMPOTENCY_ANSWERS},
        description="201 when the playlist is complete; 202 while its generated tracks are "
        "being made (poll the playlist until its status is `ready`).",
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> Response:
        serializer = PlaylistCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        idempotency = _idempotency(request, "playlist", dict(data))
        playlist = services.create_playlist(user=request.user, idempotency=idempotency, **data)
        playlist = self.get_queryset().get(pk=playlist.pk)
        code = (
            status.HTTP_202_ACCEPTED if playlist.status == "building" else status.HTTP_201_CREATED
        )
        return _mark_replayed(self._with_version(playlist, code), idempotency)

    def retrieve(self, request: Request, *args: object, **kwargs: object) -> Response:
        return self._with_version(self.get_object())

    @extend_schema(
        request=PlaylistUpdateSerializer,
        responses={
            200: PlaylistSerializer,
            412: OpenApiResponse(
                response=DetailSerializer,
                description="The playlist changed since the If-Match ETag was read.",
            ),
        },
        parameters=[
            OpenApiParameter(
                "If-Match",
                location=OpenApiParameter.HEADER,
                required=False,
                description="The ETag the playlist was read with: if it changed since "
                "(generated pieces joined, another change), nothing is changed and the "
                "answer is 412. Without it the change applies to the playlist as it is.",
            )
        ],
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        playlist = self.get_object()
        serializer = PlaylistUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.update_playlist(
            playlist=playlist,
            if_match=request.headers.get("If-Match"),
            **serializer.validated_data,
        )
        return self._with_version(self.get_queryset().get(pk=playlist.pk))

    def _with_version(self, playlist: Playlist, code: int = status.HTTP_200_OK) -> Response:
        """The playlist with its ``ETag``, for a later ``PATCH`` with ``If-Match``."""
        context = {"request": self.request}
        response = Response(PlaylistSerializer(playlist, context=context).data, code)
        response["ETag"] = services.playlist_version(playlist)
        return response
