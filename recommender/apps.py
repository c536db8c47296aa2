from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"

    def ready(self) -> None:
        from musicsite.health import register_model_check
        from recommender import services, signals, tasks  # noqa: F401  (job handler, receivers)

        register_model_check("taste", services.taste_model_health)
