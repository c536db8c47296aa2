"""Writes on accounts and profiles."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers
from rest_framework.authtoken.models import Token

from profiles.models import Profile
from profiles.preferences import PreferencesSerializer

User = get_user_model()


@transaction.atomic
def register_user(*, username: str, password: str, email: str = "") -> tuple[Any, str]:
    """Create an account and its API token; raise ValidationError with field messages."""
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": ["A user with that username already exists."]})
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user = User.objects.create_user(username=username, password=password, email=email)
    token = Token.objects.create(user=user)
    return user, token.key


def profile_of(user: AbstractBaseUser) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def update_preferences(*, user: AbstractBaseUser, changes: dict[str, Any]) -> Profile:
    """Merge ``changes`` into the stored preferences; ``null`` removes a preference."""
    profile = Profile.objects.select_for_update().get(pk=profile_of(user).pk)
    merged = {**profile.preferences, **changes}
    merged = {key: value for key, value in merged.items() if value is not None}
    serializer = PreferencesSerializer(data=merged)
    if not serializer.is_valid():
        raise serializers.ValidationError({"preferences": serializer.errors})
    profile.preferences = serializer.validated_data
    profile.save(update_fields=["preferences", "updated_at"])
    return profile


def store_taste(
    *,
    user: AbstractBaseUser,
    vector: Sequence[float],
    styles: dict[str, float],
    model_version: str,
    updated_at: datetime | None = None,
) -> None:
    Profile.objects.filter(user=user).update(
        taste_vector=[float(v) for v in vector],
        taste_styles=styles,
        taste_model_version=model_version,
        taste_updated_at=updated_at or timezone.now(),
    )


@transaction.atomic
def delete_account(*, user: AbstractBaseUser) -> None:
    """Delete the person and, through cascades, every datum that belongs to them."""
    user.delete()


def ensure_demo_staff(*, username: str, password: str) -> tuple[Any, bool]:
    """The local demo account; its password is reset so that the printed one always works."""
    user, created = User.objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save(update_fields=["password", "is_staff", "is_superuser"])
    Token.objects.get_or_create(user=user)
    return user, created
