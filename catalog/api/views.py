from __future__ import annotations

from pathlib import Path

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, UserRateThrottle
from rest_framework.views import APIView

from catalog import selectors, services
from catalog.api.files import file_response
from catalog.api.serializers import (
    AudioFormatSerializer,
    StyleSerializer,
    TrackFilterSerializer,
    TrackSerializer,
    TrackUploadSerializer,
)
from catalog.midi.rendering import (
    AUDIO_FORMATS,
    PNG_CONTENT_TYPE,
    RendererUnavailable,
    RenderFailed,
)
from catalog.midi.validation import InvalidMidi
from catalog.models import Track

MIDI_CONTENT_TYPE = "audio/midi"
DetailSerializer = inline_serializer("Detail", fields={"detail": serializers.CharField()})
NOT_MODIFIED = OpenApiResponse(description="Not modified: the If-None-Match ETag still holds.")


def _file_answers(content_type: str) -> dict:
    """The file itself, a byte range of it, or why not: for the schema of file endpoints."""
    return {
        (200, content_type): OpenApiTypes.BINARY,
        (206, content_type): OpenApiResponse(
            OpenApiTypes.BINARY, description="The byte range asked for (Range)."
        ),
        304: NOT_MODIFIED,
        416: OpenApiResponse(
            DetailSerializer, description="The Range starts past the end of the file."
        ),
    }


class FileContentNegotiation(BaseContentNegotiation):
    """For endpoints that answer with a file whatever the Accept header says.

    The file response bypasses renderers; errors use the first (JSON) renderer. The query
    parameter ``format`` picks an audio format here, not a renderer.
    """

    def select_parser(self, request: Request, parsers: list) -> object:
        return parsers[0] if parsers else None

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class StylesView(APIView):
    @extend_schema(responses=StyleSerializer(many=True), summary="Styles with track counts")
    def get(self, request: Request) -> Response:
        summaries = selectors.style_summaries(user=request.user)
        return Response(StyleSerializer(summaries, many=True).data)


class UploadRateThrottle(UserRateThrottle):
    scope = "upload"


class TrackViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = TrackSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = super().get_throttles()
        return [*throttles, UploadRateThrottle()] if self.action == "create" else throttles

    def get_queryset(self) -> object:
        if self.action != "list":
            return selectors.visible_tracks(self.request.user)
        filters = TrackFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.search_tracks(user=self.request.user, **filters.validated_data)

    @extend_schema(parameters=[TrackFilterSerializer], summary="Search and filter tracks")
    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": TrackUploadSerializer},
        responses={201: TrackSerializer, 200: TrackSerializer},
        summary="Upload a MIDI file (staff: into the catalog; others: a private upload)",
        description="The same file uploaded again by the same person answers 200 with the "
        "track made the first time (retries are safe).",
    )
    def create(self, request: Request) -> Response:
        upload = TrackUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        try:
            track, created = services.upload_midi(
                user=request.user,
                midi_bytes=upload.validated_data["midi"].read(),
                title=upload.validated_data["title"],
            )
        except InvalidMidi as error:
            raise ValidationError({"midi": [error.message]}) from error
        body = TrackSerializer(track, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        responses={204: OpenApiResponse(description="Deleted, with its files.")},
        summary="Delete one of your own unpublished tracks",
        description="A private upload, or a generated piece not published, of one's own; its "
        "files, and one's listens, feedback and playlist entries of it, go with it. 403 for "
        "someone else's track or a published one (staff withdraw those in the admin).",
    )
    def destroy(self, request: Request, *args: object, **kwargs: object) -> Response:
        services.delete_own_track(user=request.user, track=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _track_with_midi(self) -> Track:
        track = self.get_object()
        if not track.midi:
            raise NotFound("This track has no MIDI file.")
        return track

    @extend_schema(
        responses=_file_answers(MIDI_CONTENT_TYPE),
        summary="The track's MIDI file",
    )
    @action(detail=True, methods=["get"], content_negotiation_class=FileContentNegotiation)
    def midi(self, request: Request, pk: str | None = None) -> HttpResponse:
        track = self._track_with_midi()
        return file_response(
            request,
            Path(track.midi.path),
            content_type=MIDI_CONTENT_TYPE,
            etag=f"{track.midi_sha256}-midi",
            modified=track.updated_at,
            filename=f"track-{track.pk}.mid",
        )

    @extend_schema(
        parameters=[AudioFormatSerializer],
        responses={
            **{
                key: answer
                for spec in AUDIO_FORMATS.values()
                for key, answer in _file_answers(spec.content_type).items()
            },
            503: OpenApiResponse(DetailSerializer, description="Audio rendering unavailable."),
        },
        summary="The track rendered to audio with FluidSynth (cached after the first request)",
    )
    @action(detail=True, methods=["get"], content_negotiation_class=FileContentNegotiation)
    def audio(self, request: Request, pk: str | None = None) -> HttpResponse:
        track = self._track_with_midi()  # a track one cannot see is a 404, whatever is asked
        choice = AudioFormatSerializer(data=request.query_params)
        choice.is_valid(raise_exception=True)
        audio_format = choice.validated_data["format"]
        try:
            path = services.render_track_audio(track=track, audio_format=audio_format)
        except (RendererUnavailable, RenderFailed) as error:
            return Response(
                {"detail": f"Audio rendering is unavailable: {error}"},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return file_response(
            request,
            path,
            content_type=AUDIO_FORMATS[audio_format].content_type,
            etag=f"{track.midi_sha256}-{audio_format}",
            modified=track.updated_at,
            filename=f"track-{track.pk}.{audio_format}",
        )

    @extend_schema(
        responses=_file_answers(PNG_CONTENT_TYPE),
        summary="The track's piano roll (cached after the first request)",
    )
    @action(detail=True, methods=["get"], content_negotiation_class=FileContentNegotiation)
    def pianoroll(self, request: Request, pk: str | None = None) -> HttpResponse:
        track = self._track_with_midi()
        return file_response(
            request,
            services.render_track_pianoroll(track=track),
            content_type=PNG_CONTENT_TYPE,
            etag=f"{track.midi_sha256}-png",
            modified=track.updated_at,
            filename=f"track-{track.pk}.png",
        )
