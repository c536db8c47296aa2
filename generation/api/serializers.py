from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.api.serializers import TrackSerializer
from catalog.midi.style_space import STYLES, style_weights_from_mapping
from generation.ml.data import BARS_PER_SEGMENT
from generation.ml.sampling import DEFAULT_TEMPERATURE
from generation.models import GenerationRequest, Playlist, PlaylistItem, PlaylistStatus
from generation.selectors import pieces_to_come, playlist_status
from generation.services import MAX_PIECES_PER_REQUEST
from jobs.models import JobStatus
from musicsite.api import RejectUnknownFields


class GenerationCreateSerializer(RejectUnknownFields):
    count = serializers.IntegerField(min_value=1, max_value=MAX_PIECES_PER_REQUEST)
    bars = serializers.IntegerField(min_value=4, max_value=64, default=16)
    temperature = serializers.FloatField(min_value=0.1, max_value=2.0, default=DEFAULT_TEMPERATURE)
    # Up to 2³² - 1: every seed a piece's provenance shows can be sent back.
    seed = serializers.IntegerField(min_value=0, max_value=2**32 - 1, required=False)
    style_mix = serializers.DictField(
        child=serializers.FloatField(min_value=0.0, max_value=1000.0),
        required=False,
        help_text=f"Weights per style, e.g. {{'fiddle': 3, 'folk': 1}}; styles: {list(STYLES)}.",
    )
    tempo_bpm = serializers.FloatField(min_value=40.0, max_value=240.0, required=False)
    variation_of = serializers.IntegerField(
        required=False,
        help_text=f"A catalog track or one of your own to vary: its first {BARS_PER_SEGMENT} "
        "bars, in its style and tempo (bars, style_mix and tempo_bpm do not apply).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """A variation keeps its source's length, style and tempo: asking to change them is
        an error rather than silently ignored. It is sampled at the temperature asked for
        (the usual default): greedy decoding collapsed into two- or three-note drones."""
        if "variation_of" not in attrs:
            return attrs
        given = self.initial_data if isinstance(self.initial_data, dict) else {}
        kept = {"bars": "length", "style_mix": "style", "tempo_bpm": "tempo"}
        clashes = {
            field: [f"A variation keeps its source's {what}; leave {field} out."]
            for field, what in kept.items()
            if field in given
        }
        if clashes:
            raise serializers.ValidationError(clashes)
        attrs["bars"] = BARS_PER_SEGMENT
        return attrs

    def validate_style_mix(self, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(STYLES))
        if unknown:
            raise serializers.ValidationError(f"Unknown styles {unknown}; known: {list(STYLES)}.")
        try:  # as the condition is built: a weight too small for a float32 is none
            style_weights_from_mapping(value)
        except ValueError as error:
            raise serializers.ValidationError(
                "Give at least one style a positive weight (one too small to store is none)."
            ) from error
        return value


class GenerationAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField()


class GenerationSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(source="job.status", choices=JobStatus.choices)
    progress = serializers.FloatField(source="job.progress", min_value=0.0, max_value=1.0)
    message = serializers.CharField(source="job.message")
    error = serializers.CharField(source="job.error")
    finished_at = serializers.DateTimeField(source="job.finished_at", allow_null=True)
    tracks = serializers.SerializerMethodField()

    class Meta:
        model = GenerationRequest
        fields = [
            "id",
            "status",
            "progress",
            "message",
            "tracks",
            "error",
            "count",
            "bars",
            "temperature",
            "seed",
            "style_mix",
            "tempo_bpm",
            "variation_of",
            "condition",
            "model_version",
            "resampled",
            "created_at",
            "finished_at",
        ]

    @extend_schema_field(TrackSerializer(many=True))
    def get_tracks(self, request: GenerationRequest) -> list[dict[str, Any]]:
        tracks = [output.track for output in request.outputs.all()]  # prefetched, in order
        return TrackSerializer(tracks, many=True, context=self.context).data


class PlaylistCreateSerializer(RejectUnknownFields):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    length = serializers.IntegerField(min_value=5, max_value=100)
    generated_share = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        required=False,
        allow_null=True,
        default=None,
        help_text="Share of freshly generated tracks (at most "
        f"{MAX_PIECES_PER_REQUEST}, counted against the generation quota: 429 when it is "
        "used up); when left out, the person's `generated_share` preference, else 0.25 (0 "
        "whenever their `include_generated` preference is off), and a used-up quota gives "
        "catalog tracks only.",
    )


class PlaylistItemSerializer(serializers.ModelSerializer):
    track = TrackSerializer()

    class Meta:
        model = PlaylistItem
        fields = ["position", "track", "reason"]


class PlaylistSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    items = PlaylistItemSerializer(many=True)

    class Meta:
        model = Playlist
        fields = ["id", "name", "status", "length", "generated_share", "items", "error"]
        fields += ["created_at", "updated_at"]

    @extend_schema_field(serializers.ChoiceField(choices=PlaylistStatus.choices))
    def get_status(self, playlist: Playlist) -> str:
        return playlist_status(playlist)

    def to_representation(self, playlist: Playlist) -> dict[str, Any]:
        """Positions counted from 1 in order: a track deleted since (an upload its owner
        removed, one staff withdrew) leaves no gap."""
        data = super().to_representation(playlist)
        for number, item in enumerate(data["items"], start=1):
            item["position"] = number
        data["length"] = len(data["items"]) + pieces_to_come(playlist)
        return data


class PlaylistUpdateSerializer(RejectUnknownFields):
    name = serializers.CharField(max_length=200, required=False)
    tracks = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        min_length=1,
        max_length=100,
        help_text="The new order of the playlist's tracks (ids); tracks left out are removed. "
        "At least one stays (DELETE removes the playlist).",
    )
