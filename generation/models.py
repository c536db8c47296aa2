"""Generation requests, generated tracks and their curation, playlists."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from generation.ml.sampling import DEFAULT_TEMPERATURE


class GenerationRequest(models.Model):
    """What a person asked the generator for; its progress lives in the linked job."""

    job = models.OneToOneField("jobs.Job", on_delete=models.CASCADE, related_name="generation")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_requests"
    )
    count = models.PositiveSmallIntegerField()
    bars = models.PositiveSmallIntegerField(default=16)
    temperature = models.FloatField(default=DEFAULT_TEMPERATURE)
    seed = models.BigIntegerField()
    style_mix = models.JSONField(null=True, blank=True)
    tempo_bpm = models.FloatField(null=True, blank=True)
    variation_of = models.ForeignKey(
        "catalog.Track", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    condition = models.JSONField(default=list, blank=True)
    model_version = models.CharField(max_length=96, blank=True)
    resampled = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"generation #{self.pk} by {self.user}"


class ReviewStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"


class GeneratedTrack(models.Model):
    """Provenance and curation of one generated catalog track."""

    track = models.OneToOneField(
        "catalog.Track", on_delete=models.CASCADE, related_name="generated"
    )
    request = models.ForeignKey(
        GenerationRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="outputs"
    )
    # A published piece outlives the account that asked for it (catalog.services.delete_tracks_of).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_version = models.CharField(max_length=96)
    seed = models.BigIntegerField()
    condition = models.JSONField()
    novelty_shared_run = models.PositiveIntegerField(
        help_text="Longest run of (interval, duration) pairs shared with any training piece."
    )
    classifier_style = models.CharField(max_length=32, blank=True)
    classifier_confidence = models.FloatField(null=True, blank=True)
    review_status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING, db_index=True
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"generated {self.track}"


class PlaylistStatus(models.TextChoices):
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class Playlist(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="playlists"
    )
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=PlaylistStatus.choices, default=PlaylistStatus.BUILDING
    )
    length = models.PositiveSmallIntegerField()
    generated_share = models.FloatField(default=0.0)
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class PlaylistItem(models.Model):
    playlist = models.ForeignKey(Playlist, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    track = models.ForeignKey("catalog.Track", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["playlist", "position"]
        constraints = [
            models.UniqueConstraint(fields=["playlist", "position"], name="one_item_per_position")
        ]

    def __str__(self) -> str:
        return f"{self.playlist} #{self.position}"
