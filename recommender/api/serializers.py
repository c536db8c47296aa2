from __future__ import annotations

from rest_framework import serializers


class RecommendationQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    include_generated = serializers.BooleanField(default=True)
    include_heard = serializers.BooleanField(default=False)
    diversity = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.2)
