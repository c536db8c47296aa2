"""Curation: staff review generated tracks before anyone but their owner can hear them."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from catalog.admin import TrackAdmin
from generation import services
from generation.models import (
    GeneratedTrack,
    GenerationRequest,
    Playlist,
    PlaylistItem,
    ReviewStatus,
)


def _review(
    request: HttpRequest, queryset: QuerySet[GeneratedTrack], decision: str, verb: str
) -> None:
    for generated in queryset.select_related("track"):
        services.review_generated(generated=generated, decision=decision, reviewer=request.user)
    messages.success(request, f"{verb} {queryset.count()} generated track(s).")


@admin.register(GeneratedTrack)
class GeneratedTrackAdmin(admin.ModelAdmin):
    """The review queue: pending first, with the audio, the piano roll and the evidence."""

    list_display = [
        "track",
        "requested_by",
        "review_status",
        "classifier_style",
        "classifier_confidence",
        "novelty_shared_run",
        "model_version",
        "created_at",
        "reviewed_by",
    ]
    list_filter = ["review_status", "classifier_style", "model_version"]
    search_fields = ["track__title", "requested_by__username", "model_version"]
    list_select_related = ["track", "requested_by", "reviewed_by"]
    ordering = ["review_status", "created_at"]
    actions = ["approve", "reject", "publish"]
    fields = [
        "track",
        "player",
        "pianoroll",
        "review_status",
        "reviewed_by",
        "reviewed_at",
        "classifier_style",
        "classifier_confidence",
        "novelty_shared_run",
        "provenance",
    ]
    readonly_fields = [f for f in fields if f != "review_status"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Audio")
    def player(self, generated: GeneratedTrack) -> str:
        return TrackAdmin.player(self, generated.track)

    @admin.display(description="Piano roll")
    def pianoroll(self, generated: GeneratedTrack) -> str:
        return TrackAdmin.pianoroll(self, generated.track)

    @admin.display(description="Provenance (AI-generated)")
    def provenance(self, generated: GeneratedTrack) -> str:
        return format_html("<pre>{}</pre>", json.dumps(generated.track.provenance, indent=2))

    def save_model(
        self, request: HttpRequest, obj: GeneratedTrack, form: object, change: bool
    ) -> None:
        """A decision made on the change page is recorded like a bulk one: who and when."""
        services.review_generated(generated=obj, decision=obj.review_status, reviewer=request.user)

    @admin.action(description="Approve the selected generated tracks")
    def approve(self, request: HttpRequest, queryset: QuerySet[GeneratedTrack]) -> None:
        _review(request, queryset, ReviewStatus.APPROVED, "Approved")

    @admin.action(description="Reject the selected generated tracks (owner only)")
    def reject(self, request: HttpRequest, queryset: QuerySet[GeneratedTrack]) -> None:
        _review(request, queryset, ReviewStatus.REJECTED, "Rejected")

    @admin.action(description="Publish the selected generated tracks to the catalog")
    def publish(self, request: HttpRequest, queryset: QuerySet[GeneratedTrack]) -> None:
        _review(request, queryset, ReviewStatus.PUBLISHED, "Published")


@admin.register(GenerationRequest)
class GenerationRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "count", "bars", "seed", "model_version", "resampled"]
    list_display += ["created_at"]
    list_filter = ["model_version", "created_at"]
    search_fields = ["user__username"]
    raw_id_fields = ["user", "job", "variation_of"]


class PlaylistItemInline(admin.TabularInline):
    model = PlaylistItem
    raw_id_fields = ["track"]
    extra = 0


@admin.register(Playlist)
class PlaylistAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "user", "status", "length", "generated_share", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["name", "user__username"]
    raw_id_fields = ["user", "job"]
    inlines = [PlaylistItemInline]
