from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from artifacts.models import ModelArtifact
from artifacts.services import delete_artifact


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

    def delete_model(self, request: HttpRequest, obj: ModelArtifact) -> None:
        delete_artifact(obj)  # the file goes with the row

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ModelArtifact]) -> None:
        for artifact in queryset.filter(is_active=False):
            delete_artifact(artifact)
