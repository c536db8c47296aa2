from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"

    def ready(self) -> None:
        from django.conf import settings

        from artifacts.services import register_loader
        from jobs.registry import PeriodicJob, register_periodic
        from musicsite.health import register_model_check
        from recommender import services, signals, tasks  # noqa: F401  (job handler, receivers)

        register_model_check("taste", services.taste_model_health)
        register_loader(services.TASTE_KIND, services.load_bundle)
        register_periodic(
            PeriodicJob(
                kind="train_taste",
                min_interval_s=lambda: settings.TASTE_RETRAIN_INTERVAL_S,
                is_due=services.taste_retraining_is_due,
            )
        )
