from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


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


class Listen(models.Model):
    """One play of a track by a person; (user, track, listened_at) identifies it.

    ``play_count`` is 1 for a real play; an aggregate import (play counts per artist,
    with no times) stores one row whose ``play_count`` is the count.
    """

    # The unique index (user, listened_at, track) also serves every per-user query, so the
    # user column needs no index of its own: one index fewer to maintain per inserted row.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="listens", db_index=False
    )
    track = models.ForeignKey("catalog.Track", on_delete=models.CASCADE, related_name="listens")
    listened_at = models.DateTimeField()
    ms_played = models.PositiveIntegerField(null=True, blank=True)
    skipped = models.BooleanField(default=False)
    play_count = models.PositiveIntegerField(default=1)
    source = models.CharField(max_length=32, default="api", db_index=True)
    # What the client sent when it named the track by metadata (album, MusicBrainz ids,
    # tags...), kept as sent: the shared track holds only the matched artist and title.
    track_metadata = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-listened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "listened_at", "track"], name="listen_once_per_user_time_track"
            )
        ]
        # Whether anything arrived since a person's taste was stored (read on every GET /me/).
        indexes = [models.Index(fields=["user", "created_at"], name="listen_user_arrival")]

    def __str__(self) -> str:
        return f"{self.user} listened to {self.track_id} at {self.listened_at:%Y-%m-%d %H:%M}"


class FeedbackScore(models.IntegerChoices):
    LOVE = 1
    CLEAR = 0
    HATE = -1


class Feedback(models.Model):
    """A person's current love or hate of a track; clearing it deletes the row."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback"
    )
    track = models.ForeignKey("catalog.Track", on_delete=models.CASCADE, related_name="feedback")
    score = models.SmallIntegerField(
        choices=[(FeedbackScore.LOVE, "love"), (FeedbackScore.HATE, "hate")]
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "track"], name="one_feedback_per_user_track")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.get_score_display()}s {self.track_id}"


class FeedbackEvent(models.Model):
    """Every feedback given, clears included: the history the taste model learns from."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback_events"
    )
    track = models.ForeignKey("catalog.Track", on_delete=models.CASCADE, related_name="+")
    score = models.SmallIntegerField(choices=FeedbackScore.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"], name="feedback_event_user_time")]

    def __str__(self) -> str:
        return f"{self.user} scored {self.track_id} {self.score} at {self.created_at:%Y-%m-%d}"


class NowPlaying(models.Model):
    """What a person's player says it is playing (ListenBrainz ``playing_now``); not a listen."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="now_playing"
    )
    track = models.ForeignKey("catalog.Track", on_delete=models.CASCADE, related_name="+")
    track_metadata = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user} is playing {self.track_id}"


class AccountDeletion(models.Model):
    """That an account was deleted, and when; not whose. Models fitted on data read before
    it still hold the person's listening: the taste model is refitted and those versions
    are removed (``recommender.services``)."""

    deleted_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-deleted_at"]

    def __str__(self) -> str:
        return f"an account deleted at {self.deleted_at:%Y-%m-%d %H:%M:%S}"
