from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from profiles import selectors, services
from profiles.api.serializers import (
    MeSerializer,
    MeUpdateSerializer,
    RegisteredSerializer,
    RegisterSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)


class AuthView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class RegisterView(AuthView):
    @extend_schema(request=RegisterSerializer, responses={201: RegisteredSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, token = services.register_user(**serializer.validated_data)
        body = {"id": user.pk, "username": user.username, "token": token}
        return Response(RegisteredSerializer(body).data, status=status.HTTP_201_CREATED)


class TokenView(AuthView):
    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request=request._request, **serializer.validated_data)
        if user is None:
            message = "Unable to log in with these credentials."
            raise ValidationError({"non_field_errors": [message]})
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MeView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(services.profile_of(request.user)).data)

    @extend_schema(request=MeUpdateSerializer, responses={200: MeSerializer})
    def patch(self, request: Request) -> Response:
        serializer = MeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        profile = services.update_preferences(
            user=request.user, changes=serializer.validated_data["preferences"]
        )
        return Response(MeSerializer(profile).data)

    @extend_schema(responses={204: OpenApiResponse(description="Account and data deleted.")})
    def delete(self, request: Request) -> Response:
        services.delete_account(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportView(APIView):
    @extend_schema(
        responses={200: OpenApiResponse(description="Every stored datum of this user (JSON).")}
    )
    def get(self, request: Request) -> Response:
        data = selectors.export_user_data(user=request.user)
        response = Response(data)
        filename = f"musicsite-export-{request.user.username}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
