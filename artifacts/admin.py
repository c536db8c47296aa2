from django.contrib import admin
from django.http import HttpRequest

from artifacts.models import ModelArtifact


@admin.register(ModelArtifact)
class ModelArtifactAdmin(admin.ModelAdmin):
    """Model versions are made by training commands; the active one serves and stays."""

    list_display = ("version", "kind", "is_active", "size_bytes", "created_at", "activated_at")
    list_filter = ("kind", "is_active")
    search_fields = ("version",)
    readonly_fields = [f.name for f in ModelArtifact._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ModelArtifact | None = None) -> bool:
        if obj is not None and obj.is_active:
            return False
        return super().has_delete_permission(request, obj)
