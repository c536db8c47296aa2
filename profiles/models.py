from __future__ import annotations

from django.conf import settings
from django.db import models


class Profile(models.Model):
    """A person's explicit preferences and their current taste (conditioning vector).

    The taste is written by the recommender through ``profiles.services.store_taste``;
    this app stores it without knowing how it is modelled.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    preferences = models.JSONField(default=dict, blank=True)
    taste_vector = models.JSONField(null=True, blank=True)
    taste_styles = models.JSONField(null=True, blank=True)
    taste_model_version = models.CharField(max_length=64, blank=True)
    taste_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of {self.user}"

    @property
    def taste(self) -> dict | None:
        if self.taste_vector is None:
            return None
        return {
            "vector": self.taste_vector,
            "styles": self.taste_styles or {},
            "model_version": self.taste_model_version,
            "updated_at": self.taste_updated_at,
        }
