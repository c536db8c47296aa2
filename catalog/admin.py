from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from catalog.models import Track


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "artist", "style", "origin", "is_public", "ai_generated"]
    list_filter = ["style", "origin", "is_public", "ai_generated", "collection"]
    search_fields = ["title", "artist", "collection", "source_id"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]
    readonly_fields = [
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
