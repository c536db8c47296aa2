"""Curation: staff review generated tracks before anyone but their owner can hear them."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, QuerySet, Value, When
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

_QUEUE_ORDER = Case(
    When(review_status=ReviewStatus.PENDING, then=Value(0)),
    When(review_status=ReviewStatus.APPROVED, then=Value(1)),
    When(review_status=ReviewStatus.PUBLISHED, then=Value(2)),
    default=Value(3),
)


class GeneratedTrackReviewForm(forms.ModelForm):
    class Meta:
        model = GeneratedTrack
        fields = ["review_status"]

    def clean_review_status(self) -> str:
        decision = self.cleaned_data["review_status"]
        problem = services.review_problem(self.instance.review_status, decision)
        if problem:
            raise forms.ValidationError(f"{problem[0].upper()}{problem[1:]}.")
        return decision


@admin.register(GeneratedTrack)
class GeneratedTrackAdmin(admin.ModelAdmin):
    """The review queue: pending first (oldest first), with the audio, the piano roll and the
    evidence. Approve, then publish; a decision is recorded once, with who made it."""

    form = GeneratedTrackReviewForm
    list_display = [
        "track",
        "requested_by",
        "review_status",
        "classifier_style",
        "classifier_confidence",
        "novelty_shared_run",
        "seed",
        "model_version",
        "created_at",
        "reviewed_by",
    ]
    list_filter = ["review_status", "classifier_style", "model_version", "created_at"]
    search_fields = ["track__title", "requested_by__username", "model_version"]
    list_select_related = ["track", "requested_by", "reviewed_by"]
    actions = ["approve", "publish", "unpublish", "reject"]
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
        "request",
        "seed",
        "provenance",
    ]
    readonly_fields = [f for f in fields if f != "review_status"]

    def get_ordering(self, request: HttpRequest) -> list:
        return [_QUEUE_ORDER.asc(), "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # The decision is the record: reject a track to take it back, never delete it.
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
        self, request: HttpRequest, obj: GeneratedTrack, form: forms.ModelForm, change: bool
    ) -> None:
        """A decision made on the change page is recorded like a bulk one: who and when."""
        if "review_status" in form.changed_data:
            services.review_generated(
                generated=obj, decision=obj.review_status, reviewer=request.user
            )

    def _review(
        self,
        request: HttpRequest,
        queryset: QuerySet[GeneratedTrack],
        decision: str,
        verb: str,
        only_from: frozenset[str] | None = None,
    ) -> None:
        changed = unchanged = 0
        for generated in list(queryset.select_related("track")):
            if only_from is not None and generated.review_status not in only_from:
                messages.warning(
                    request, f"{generated.track}: {generated.review_status}, left as it was."
                )
                continue
            try:
                moved = services.review_generated(
                    generated=generated, decision=decision, reviewer=request.user
                )
            except services.ReviewRefused as refusal:
                messages.warning(request, str(refusal))
                continue
            if moved:
                changed += 1
                self.log_change(request, generated, f"{verb} ({decision}).")
            else:
                unchanged += 1
        if changed:
            messages.success(request, f"{verb} {changed} generated track(s).")
        if unchanged:
            messages.info(request, f"{unchanged} already {decision}: left as they were.")

    @admin.action(description="Approve the selected generated tracks", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[GeneratedTrack]) -> None:
        not_published = frozenset(set(ReviewStatus) - {ReviewStatus.PUBLISHED})
        self._review(request, queryset, ReviewStatus.APPROVED, "Approved", not_published)

    @admin.action(
        description="Publish the selected approved tracks to the catalog", permissions=["change"]
    )
    def publish(self, request: HttpRequest, queryset: QuerySet[GeneratedTrack]) -> None:
        self._review(request, queryset, ReviewStatus.PUBLISHED, "Published")

    @admin.action(
        description="Unpublish the selected tracks (back to approved)", permissions=["change"]
    )
    def unpublish(self, request: HttpRequest, queryset: QuerySet[GeneratedTrack]) -> None:
        only_published = frozenset({ReviewStatus.PUBLISHED})
        self._review(request, queryset, ReviewStatus.APPROVED, "Unpublished", only_published)

    @admin.action(
        description="Reject the selected generated tracks (owner only)", permissions=["change"]
    )
    def reject(self, request: HttpRequest, queryset: QuerySet[GeneratedTrack]) -> None:
        self._review(request, queryset, ReviewStatus.REJECTED, "Rejected")


@admin.register(GenerationRequest)
class GenerationRequestAdmin(admin.ModelAdmin):
    """What was asked for and with which model: a provenance record, never edited."""

    list_display = ["id", "user", "count", "bars", "seed", "model_version", "resampled"]
    list_display += ["created_at"]
    list_filter = ["model_version", "created_at"]
    search_fields = ["user__username"]
    list_select_related = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PlaylistItemInline(admin.TabularInline):
    model = PlaylistItem
    raw_id_fields = ["track"]
    extra = 0


@admin.register(Playlist)
class PlaylistAdmin(admin.ModelAdmin):
    """A person's playlists: staff may rename or fix items; how it was made stays as made."""

    list_display = ["id", "name", "user", "status", "length", "generated_share", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["name", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["user", "job", "status", "length", "generated_share", "created_at"]
    inlines = [PlaylistItemInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
