from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"

    def ready(self) -> None:
        from artifacts.services import register_loader
        from catalog.services import register_deletion_check
        from generation import selectors, tasks  # noqa: F401  (registers the job handler)
        from generation.generator import GENERATOR_KIND, generator_health, load_generator
        from generation.services import piece_deletion_problem
        from musicsite.health import register_model_check
        from profiles.export import register_export_section

        register_model_check("generator", generator_health)
        register_loader(GENERATOR_KIND, load_generator)
        register_export_section("generations", selectors.export_generations)
        register_export_section("playlists", selectors.export_playlists)
        register_deletion_check(piece_deletion_problem)
