from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.serializers import TrackSerializer
from catalog.selectors import visible_tracks
from recommender.api.serializers import RecommendationQuerySerializer
from recommender.selectors import Recommendation, recommend_for, similar_to

RecommendationSerializer = inline_serializer(
    "Recommendation",
    {
        "track": TrackSerializer(),
        "score": serializers.FloatField(),
        "reason": serializers.CharField(),
    },
    many=True,
)
RecommendationsSerializer = inline_serializer(
    "Recommendations",
    {"model_version": serializers.CharField(), "results": RecommendationSerializer},
)
SimilarTracksSerializer = inline_serializer(
    "SimilarTracks",
    {
        "model_version": serializers.CharField(),
        "track": TrackSerializer(),
        "results": RecommendationSerializer,
    },
)


def _results(request: Request, results: list[Recommendation]) -> list[dict[str, Any]]:
    context = {"request": request}
    return [
        {
            "track": TrackSerializer(r.track, context=context).data,
            "score": round(r.score, 6),
            "reason": r.reason,
        }
        for r in results
    ]


class RecommendationsView(APIView):
    @extend_schema(
        parameters=[RecommendationQuerySerializer],
        responses={200: RecommendationsSerializer},
        description="Personalized recommendations from the active taste model; 503 before "
        "the first model is trained. Tracks the person has heard or loved are left out unless "
        "`include_heard`; hated tracks and `avoid_styles` always are. `diversity` (0..1) trades "
        "relevance for variety across styles. Someone with no listens, feedback or stated "
        "preferences gets the most-listened tracks, styles taking turns.",
    )
    def get(self, request: Request) -> Response:
        query = RecommendationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        version, results = recommend_for(request.user, **query.validated_data)
        return Response({"model_version": version, "results": _results(request, results)})


class SimilarTracksView(APIView):
    @extend_schema(
        parameters=[RecommendationQuerySerializer],
        responses={200: SimilarTracksSerializer},
        summary="Tracks like this one (track radio)",
        description="Tracks like the given one, from the active taste model: those its "
        "listeners play, then those close to it in style (a track newer than the model is "
        "matched by style alone). The same choices as recommendations: the person's heard and "
        "loved tracks are left out unless `include_heard`, hated tracks, `avoid_styles` and "
        "their own tracks always are; `diversity` (0..1) trades likeness for variety. 404 for "
        "a track the person cannot see; 503 before the first model is trained.",
    )
    def get(self, request: Request, pk: int) -> Response:
        track = get_object_or_404(visible_tracks(request.user), pk=pk)
        query = RecommendationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        version, results = similar_to(request.user, track, **query.validated_data)
        context = {"request": request}
        return Response(
            {
                "model_version": version,
                "track": TrackSerializer(track, context=context).data,
                "results": _results(request, results),
            }
        )
