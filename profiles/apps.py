from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    name = "profiles"

    def ready(self) -> None:
        from profiles import importing, selectors, signals  # noqa: F401  (see below)
        from profiles.export import register_export_section

        # signals: creates a profile with every user; importing: registers the import job.
        register_export_section("listens", selectors.export_listens)
        register_export_section("feedback", selectors.export_feedback)
