"""Catalog tracks: real music (corpus, uploads, generated) and metadata-only external tracks."""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from catalog.midi.style_space import STYLES

STYLE_CHOICES = [(style, style) for style in STYLES]
_NOT_WORD = re.compile(r"[\W_]+")


# Normalizing can lengthen a name (NFKD expands ligatures, casefold turns "ß" into "ss"):
# the stored form is cut to its column, as matching cuts it (catalog.external.match_key).
NORMALIZED_MAX_CHARS = 300


def normalize_name(value: str) -> str:
    """Artist or title reduced for matching: accents, case, punctuation and spacing ignored.

    A name made only of punctuation ("!!!", "( )") keeps its punctuation, or every such
    name would match every other.
    """
    decomposed = unicodedata.normalize("NFKD", value or "")
    without_marks = "".join(char for char in decomposed if not unicodedata.combining(char))
    folded = without_marks.casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split()) or " ".join(folded.split())


def track_midi_path(track: Track, filename: str) -> str:
    return f"tracks/midi/{uuid.uuid4().hex}.mid"


class Origin(models.TextChoices):
    CATALOG = "catalog", "catalog"
    UPLOAD = "upload", "upload"
    GENERATED = "generated", "generated"
    EXTERNAL = "external", "external"


class Track(models.Model):
    title = models.CharField(max_length=300)
    artist = models.CharField(max_length=300, blank=True, help_text="Composer or performer.")
    collection = models.CharField(max_length=100, blank=True)
    style_label = models.CharField(
        max_length=32,
        choices=STYLE_CHOICES,
        null=True,
        blank=True,
        help_text="The known style, where the source says it.",
    )
    style = models.CharField(
        max_length=32,
        choices=STYLE_CHOICES,
        null=True,
        blank=True,
        help_text="The label, else the classifier's most likely style.",
    )
    style_vector = models.JSONField(default=list, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.CATALOG)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tracks",
    )
    is_public = models.BooleanField(default=False)
    ai_generated = models.BooleanField(default=False)
    provenance = models.JSONField(default=dict, blank=True)
    midi = models.FileField(upload_to=track_midi_path, blank=True)
    midi_sha256 = models.CharField(max_length=64, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    tempo_bpm = models.FloatField(null=True, blank=True)
    key = models.CharField(max_length=16, blank=True)
    features = models.JSONField(default=dict, blank=True)
    source_id = models.CharField(
        max_length=300, blank=True, default="", help_text="Identity in its source, for re-imports."
    )
    normalized_artist = models.CharField(
        max_length=NORMALIZED_MAX_CHARS, blank=True, editable=False
    )
    normalized_title = models.CharField(max_length=NORMALIZED_MAX_CHARS, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_id"],
                condition=~Q(source_id=""),
                name="catalog_track_unique_source_id",
            )
        ]
        indexes = [
            models.Index(fields=["normalized_artist", "normalized_title"]),
            models.Index(fields=["is_public", "origin"]),
            models.Index(fields=["style"]),
            models.Index(fields=["title"]),
            # The track list, newest first, without the listening-history tracks that
            # imports add by the hundred thousand.
            models.Index(
                fields=["-created_at", "-id"],
                condition=~Q(origin="external"),
                name="catalog_track_listing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.artist})" if self.artist else self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.normalized_artist = normalize_name(self.artist)[:NORMALIZED_MAX_CHARS]
        self.normalized_title = normalize_name(self.title)[:NORMALIZED_MAX_CHARS]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"artist", "title"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "normalized_artist", "normalized_title"}
        super().save(*args, **kwargs)
