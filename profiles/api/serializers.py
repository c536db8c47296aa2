from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from profiles.preferences import PreferencesSerializer

User = get_user_model()


class RegisterSerializer(serializers.Serializer):
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z",
        max_length=150,
        error_messages={"invalid": "Letters, digits and @/./+/-/_ only."},
    )
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class RegisteredSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    token = serializers.CharField()


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class TasteSerializer(serializers.Serializer):
    vector = serializers.ListField(child=serializers.FloatField())
    styles = serializers.DictField(child=serializers.FloatField())
    model_version = serializers.CharField()
    updated_at = serializers.DateTimeField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user.pk")
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    preferences = PreferencesSerializer()
    taste = TasteSerializer(allow_null=True)


class MeUpdateSerializer(serializers.Serializer):
    preferences = serializers.DictField(
        help_text="Preferences to change; see the `preferences` object of GET /me/. "
        "A null value removes that preference."
    )
