from django.contrib import admin

from artifacts.models import ModelArtifact


@admin.register(ModelArtifact)
class ModelArtifactAdmin(admin.ModelAdmin):
    list_display = ("version", "kind", "is_active", "size_bytes", "created_at", "activated_at")
    list_filter = ("kind", "is_active")
    search_fields = ("version",)
    readonly_fields = [f.name for f in ModelArtifact._meta.fields]
