"""Versioned model artifacts: one file per trained model, one active version per kind."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ModelArtifact(models.Model):
    kind = models.CharField(max_length=64, db_index=True)
    version = models.CharField(max_length=96, unique=True)
    path = models.CharField(max_length=500, help_text="Relative to MODEL_ROOT.")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    metrics = models.JSONField(default=dict, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    data_summary = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=Q(is_active=True), name="one_active_artifact_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version}{' (active)' if self.is_active else ''}"
