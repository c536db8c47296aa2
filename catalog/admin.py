from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from catalog.models import Origin, Track
from catalog.services import delete_tracks, set_style_label


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    """Staff fix names and styles; what a track is (its MIDI, origin and AI provenance) comes
    from the importers, uploads and the generator, and a generated track goes public only
    through the review queue."""

    list_display = ["id", "title", "artist", "style", "origin", "is_public", "ai_generated"]
    list_filter = ["style", "origin", "is_public", "ai_generated", "collection"]
    search_fields = ["title", "artist", "collection", "source_id"]
    list_select_related = ["owner"]
    readonly_fields = [
        "style",
        "origin",
        "ai_generated",
        "owner",
        "midi",
        "player",
        "pianoroll",
        "midi_sha256",
        "duration_s",
        "tempo_bpm",
        "key",
        "style_vector",
        "features",
        "provenance",
        "source_id",
        "created_at",
        "updated_at",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Track | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        # Uploads stay their owner's, external tracks are never listed, and generated ones
        # are published through curation: only catalog tracks are shown or hidden here.
        if obj is not None and obj.origin != Origin.CATALOG:
            fields.append("is_public")
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Track, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "style_label" in form.changed_data:  # the style and its vector follow the label
            set_style_label(track=obj, style_label=obj.style_label)

    def delete_model(self, request: HttpRequest, obj: Track) -> None:
        delete_tracks(tracks=Track.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Track]) -> None:
        delete_tracks(tracks=queryset)

    @admin.display(description="Audio")
    def player(self, track: Track) -> str:
        if not track.pk or not track.midi:
            return "—"
        url = reverse("track-audio", kwargs={"pk": track.pk})
        return format_html(
            '<audio controls preload="none" src="{}?format=ogg">'
            '<a href="{}?format=wav">Download the audio</a></audio>',
            url,
            url,
        )

    @admin.display(description="Piano roll")
    def pianoroll(self, track: Track) -> str:
        if not track.pk or not track.midi:
            return "—"
        url = reverse("track-pianoroll", kwargs={"pk": track.pk})
        return format_html('<img src="{}" alt="Piano roll" style="max-width: 100%;">', url)
