from django.contrib import admin

from jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "owner", "status", "progress", "attempts", "created_at")
    list_filter = ("status", "kind", "created_at")
    search_fields = ("kind", "owner__username", "error", "message")
    readonly_fields = [f.name for f in Job._meta.fields]
    date_hierarchy = "created_at"
