"""Keeps a person's stored taste in step with what they say they like and do."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from profiles.models import Profile
from profiles.signals import taste_shown
from recommender.services import refresh_stale_taste, refresh_taste


@receiver(post_save, sender=Profile)
def refresh_taste_on_new_preferences(
    sender: type, instance: Profile, update_fields: frozenset[str] | None, **kwargs: Any
) -> None:
    if update_fields and "preferences" in update_fields:
        refresh_taste(instance)


@receiver(taste_shown)
def refresh_taste_before_showing_it(sender: type, profile: Profile, **kwargs: Any) -> None:
    refresh_stale_taste(profile)
