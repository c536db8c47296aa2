from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from profiles.models import Profile


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_profile(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        Profile.objects.get_or_create(user=instance)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def discard_uploads(sender: type, instance: Any, **kwargs: Any) -> None:
    """Imports that have not run keep their files under MEDIA_ROOT: they go with the account."""
    from profiles.importing import discard_import_uploads  # importing needs the services

    discard_import_uploads(user=instance)
