"""Reads on accounts and profiles."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from profiles.export import export_sections
from profiles.services import profile_of


def export_user_data(*, user: AbstractBaseUser) -> dict[str, Any]:
    """Everything stored about ``user``, as one JSON-able document."""
    profile = profile_of(user)
    data: dict[str, Any] = {
        "exported_at": timezone.now(),
        "account": {
            "id": user.pk,
            "username": user.get_username(),
            "email": getattr(user, "email", ""),
            "date_joined": getattr(user, "date_joined", None),
            "last_login": getattr(user, "last_login", None),
        },
        "preferences": profile.preferences,
        "taste": profile.taste,
    }
    for name, section in export_sections().items():
        data[name] = section(user)
    return data
