from django.contrib import admin

from profiles.models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "taste_model_version", "taste_updated_at", "updated_at")
    list_filter = ("taste_model_version",)
    search_fields = ("user__username", "user__email")
    readonly_fields = ("taste_vector", "taste_styles", "taste_model_version", "taste_updated_at")
