from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import post_save, pre_delete
from django.dispatch import Signal, receiver

from profiles import sign_in
from profiles.models import Profile

taste_shown = Signal()
"""Sent with ``profile`` just before a person's profile, taste included, is shown to them: the
app that models taste may bring a stale one up to date (listens and feedback do not refresh
it one by one; that would cost a history read per scrobble)."""


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_profile(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        Profile.objects.get_or_create(user=instance)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def discard_uploads(sender: type, instance: Any, **kwargs: Any) -> None:
    """Imports that have not run keep their files under MEDIA_ROOT: they go with the account."""
    from profiles.importing import discard_import_uploads  # importing needs the services

    discard_import_uploads(user=instance)


@receiver(user_login_failed)
def count_failed_sign_in(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    """Every wrong password (API, admin) counts against the account it named."""
    username = credentials.get("username")
    if isinstance(username, str):
        sign_in.note_failure(username)
