from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        from django.conf import settings

        from artifacts.services import register_loader
        from catalog import services, tasks
        from catalog.midi.classifier import StyleClassifier
        from jobs.registry import PeriodicJob, register_periodic
        from musicsite.health import register_model_check

        register_loader(services.STYLE_CLASSIFIER_KIND, StyleClassifier.load)
        register_model_check("style_classifier", services.style_classifier_health)

        register_periodic(
            PeriodicJob(
                kind=tasks.PRUNE_RENDERS_KIND,
                min_interval_s=lambda: settings.RENDER_CACHE_PRUNE_INTERVAL_S,
                is_due=services.render_cache_is_over,
            )
        )
