from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"

    def ready(self) -> None:
        from musicsite.health import register_model_check
        from recommender import services, tasks  # noqa: F401  (registers the job handler)

        register_model_check("taste", services.taste_model_health)
