"""Explicit preferences: what a person says they like, blended in by the taste model."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from catalog.midi.style_space import STYLES
from musicsite.api import RejectUnknownFields

TEMPO_LIMITS_BPM = (20.0, 300.0)


class PreferencesSerializer(RejectUnknownFields):
    styles = serializers.ListField(
        child=serializers.ChoiceField(choices=STYLES),
        required=False,
        max_length=len(STYLES),
        help_text="Styles the person likes; they are weighted up in their taste.",
    )
    avoid_styles = serializers.ListField(
        child=serializers.ChoiceField(choices=STYLES),
        required=False,
        max_length=len(STYLES),
        help_text="Styles the person does not want recommended or generated.",
    )
    tempo_bpm = serializers.ListField(
        child=serializers.FloatField(min_value=TEMPO_LIMITS_BPM[0], max_value=TEMPO_LIMITS_BPM[1]),
        required=False,
        min_length=2,
        max_length=2,
        help_text="Preferred tempo range [min, max] in beats per minute.",
    )
    generated_share = serializers.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        help_text="Default share of freshly generated tracks in playlists.",
    )
    include_generated = serializers.BooleanField(
        required=False, help_text="Whether recommendations may include generated tracks."
    )

    def validate_styles(self, value: list[str]) -> list[str]:
        return _once_each(value)

    def validate_avoid_styles(self, value: list[str]) -> list[str]:
        value = _once_each(value)
        if len(value) == len(STYLES):
            raise serializers.ValidationError(
                "Leave at least one style to be recommended and generated."
            )
        return value

    def validate_tempo_bpm(self, value: list[float]) -> list[float]:
        if value[0] > value[1]:
            raise serializers.ValidationError("The minimum must not exceed the maximum.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        overlap = set(attrs.get("styles", [])) & set(attrs.get("avoid_styles", []))
        if overlap:
            raise serializers.ValidationError(
                {"avoid_styles": [f"Also listed as liked: {sorted(overlap)}."]}
            )
        return attrs


def _once_each(styles: list[str]) -> list[str]:
    """Listing a style twice says nothing more (and must not weigh it twice)."""
    return list(dict.fromkeys(styles))
