from __future__ import annotations

from rest_framework import serializers


class RecommendationQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    include_generated = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Offer generated tracks; when left out, the person's `include_generated` "
        "preference decides (true if unset).",
    )
    include_heard = serializers.BooleanField(default=False)
    diversity = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.2)
