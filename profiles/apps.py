from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    name = "profiles"

    def ready(self) -> None:
        from catalog.services import register_deletion_check
        from profiles import importing, selectors, signals  # noqa: F401  (see below)
        from profiles.export import register_export_section
        from profiles.services import kept_by_others

        # signals: creates a profile with every user; importing: registers the import job.
        register_export_section("listens", selectors.export_listens)
        register_export_section("feedback", selectors.export_feedback)
        register_export_section("now_playing", selectors.export_now_playing)
        register_export_section("uploads", selectors.export_uploads)
        register_export_section("import_jobs", selectors.export_import_jobs)
        register_deletion_check(kept_by_others)
