from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.serializers import TrackSerializer
from recommender.api.serializers import RecommendationQuerySerializer
from recommender.selectors import recommend_for

RecommendationsSerializer = inline_serializer(
    "Recommendations",
    {
        "model_version": serializers.CharField(),
        "results": inline_serializer(
            "Recommendation",
            {
                "track": TrackSerializer(),
                "score": serializers.FloatField(),
                "reason": serializers.CharField(),
            },
            many=True,
        ),
    },
)


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
        context = {"request": request}
        return Response(
            {
                "model_version": version,
                "results": [
                    {
                        "track": TrackSerializer(r.track, context=context).data,
                        "score": round(r.score, 6),
                        "reason": r.reason,
                    }
                    for r in results
                ],
            }
        )
