from __future__ import annotations

import unicodedata
from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.midi.rendering import AUDIO_FORMATS
from catalog.midi.style_space import STYLES
from catalog.midi.validation import DEFAULT_LIMITS
from catalog.models import Origin, Track
from musicsite.api import RejectUnknownFields

CATALOG_ORIGINS = [Origin.CATALOG, Origin.UPLOAD, Origin.GENERATED]
DEFAULT_AUDIO_FORMAT = "ogg"


class StyleSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=STYLES)
    description = serializers.CharField()
    track_count = serializers.IntegerField(min_value=0)


class TrackSerializer(serializers.ModelSerializer):
    style = serializers.ChoiceField(
        choices=STYLES,
        allow_null=True,
        help_text="The track's style label, else the classifier's most likely style.",
    )
    style_vector = serializers.ListField(
        child=serializers.FloatField(),
        help_text="The track in the style space: style weights, then musical attributes.",
    )
    features = serializers.DictField(help_text="Features extracted from the MIDI file.")
    provenance = serializers.DictField(help_text="For generated tracks: model, seed, request.")
    midi_url = serializers.SerializerMethodField()
    audio_url = serializers.SerializerMethodField()
    pianoroll_url = serializers.SerializerMethodField()

    class Meta:
        model = Track
        fields = [
            "id",
            "title",
            "artist",
            "collection",
            "style",
            "style_label",
            "style_vector",
            "origin",
            "is_public",
            "ai_generated",
            "duration_s",
            "tempo_bpm",
            "key",
            "features",
            "midi_url",
            "audio_url",
            "pianoroll_url",
            "provenance",
            "created_at",
        ]
        read_only_fields = fields

    def _url(self, name: str, track: Track, query: str = "") -> str:
        url = reverse(name, kwargs={"pk": track.pk}) + query
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url

    @extend_schema_field(OpenApiTypes.URI)
    def get_midi_url(self, track: Track) -> str:
        return self._url("track-midi", track)

    @extend_schema_field(OpenApiTypes.URI)
    def get_audio_url(self, track: Track) -> str:
        return self._url("track-audio", track, f"?format={DEFAULT_AUDIO_FORMAT}")

    @extend_schema_field(OpenApiTypes.URI)
    def get_pianoroll_url(self, track: Track) -> str:
        return self._url("track-pianoroll", track)


class TrackFilterSerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Words that must each appear in the title, artist or collection; case, "
        "accents and punctuation are ignored.",
    )
    style = serializers.ChoiceField(choices=STYLES, required=False)
    origin = serializers.ChoiceField(choices=CATALOG_ORIGINS, required=False)


class TrackUploadSerializer(RejectUnknownFields):
    midi = serializers.FileField(
        help_text=f"A Standard MIDI File of at most {DEFAULT_LIMITS.max_bytes} bytes."
    )
    title = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=300,
        trim_whitespace=False,
        help_text='Default: the file name without its extension, else "Untitled".',
    )

    def validate_midi(self, value: object) -> object:
        if value.size > DEFAULT_LIMITS.max_bytes:
            raise serializers.ValidationError(
                f"the file is {value.size} bytes; the limit is {DEFAULT_LIMITS.max_bytes} bytes"
            )
        return value

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        file_name = (data["midi"].name or "").rsplit(".", 1)[0]
        data["title"] = (
            readable_title(data.get("title", "")) or readable_title(file_name) or "Untitled"
        )
        return data


_ZERO_WIDTH_JOINER = "\u200d"


def readable_title(text: str) -> str:
    """``text`` without control or invisible formatting characters (bidi overrides,
    zero-width spaces) and with its spacing collapsed; empty when nothing readable (a letter,
    a digit or a symbol such as an emoji) is left. The zero-width joiner stays: it joins
    emoji into one (a family, a profession)."""
    visible = "".join(
        " " if character.isspace() else character
        for character in text
        if character.isspace()
        or character == _ZERO_WIDTH_JOINER
        or unicodedata.category(character) not in ("Cc", "Cf")
    )
    title = " ".join(visible.split())
    readable = any(c.isalnum() or unicodedata.category(c) == "So" for c in title)
    return title if readable else ""


class AudioFormatSerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=sorted(AUDIO_FORMATS), default=DEFAULT_AUDIO_FORMAT, required=False
    )
