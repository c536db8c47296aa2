from django.contrib import admin
from django.http import HttpRequest

from jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "owner", "status", "progress", "attempts", "created_at")
    list_filter = ("status", "kind", "created_at")
    search_fields = ("kind", "owner__username", "error", "message")
    readonly_fields = [f.name for f in Job._meta.fields]
    date_hierarchy = "created_at"
    list_select_related = ("owner",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Jobs are submitted by the services that know what to run.
        return False
