from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation.generator import (
    GeneratorUnavailable,
    register_checkpoint,
    registered_artifact_at,
    training_dataset,
    training_pieces,
)
from generation.management.options import (
    check_guidance_option,
    check_top_p_option,
    require_at_least_one,
)
from generation.ml.latent_prior import DEFAULT_COMPONENTS
from generation.ml.models import ConditionalVAE
from generation.ml.training import (
    CheckpointError,
    attach_latent_prior,
    load_model,
    set_sampling,
)


class Command(BaseCommand):
    help = (
        "Fit a trained CVAE checkpoint's sampling prior (a Gaussian mixture per style over "
        "the codes of its training segments; generation.ml.latent_prior) and store it in the "
        "checkpoint, which gets a new model version. train_generator does this itself; this "
        "command refits it, e.g. with another number of components, and with --guidance sets "
        "the classifier-free guidance its samples get, and with --top-p their nucleus."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("checkpoint", type=Path)
        parser.add_argument(
            "--limit-per-style",
            type=int,
            default=None,
            help="the pieces per style the checkpoint was trained with (train_generator's)",
        )
        parser.add_argument("--components", type=int, default=DEFAULT_COMPONENTS)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--guidance",
            type=float,
            default=None,
            help="classifier-free guidance of its samples (default: keep the stored one)",
        )
        parser.add_argument(
            "--top-p",
            type=float,
            default=None,
            help="nucleus its samples are drawn from (default: keep the stored one)",
        )
        parser.add_argument(
            "--activate", action="store_true", help="register the refitted checkpoint and serve it"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        require_at_least_one(options, "components")
        registered = registered_artifact_at(options["checkpoint"])
        if registered is not None:
            raise CommandError(
                f"{options['checkpoint']} is the stored file of generator {registered.version}, "
                "which must not change: refit a copy and register it with --activate"
            )
        try:
            model, metadata = load_model(options["checkpoint"])
            dataset = training_dataset(training_pieces(limit_per_style=options["limit_per_style"]))
        except (CheckpointError, GeneratorUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        if not isinstance(model, ConditionalVAE):
            raise CommandError(f"{options['checkpoint']} holds a {model.kind!r} model, not a CVAE")
        if options["guidance"] is not None:
            check_guidance_option(model, options["guidance"])
        if options["top_p"] is not None:
            check_top_p_option(options["top_p"])
        train_set = dataset.subset("train")
        expected = metadata["data_summary"].get("train_segments")
        if expected is not None and expected != len(train_set):
            raise CommandError(
                f"the checkpoint was trained on {expected} segments, the catalog gives "
                f"{len(train_set)}: the prior must see the catalog the model was trained on "
                "(the shipped checkpoint: the whole corpus, `manage.py import_corpus`, where "
                "bin/run imports a balanced subset) with the --limit-per-style it was "
                "trained with"
            )
        previous = model.version
        version = attach_latent_prior(
            options["checkpoint"], model, train_set, options["components"], options["seed"]
        )
        if options["guidance"] is not None or options["top_p"] is not None:
            version = set_sampling(
                options["checkpoint"], model, guidance=options["guidance"], top_p=options["top_p"]
            )
        scope = "per style" if model.use_condition else "shared by all styles"
        self.stdout.write(
            f"fitted a {options['components']}-component prior {scope} on {len(train_set)} "
            f"segments, sampling guidance {model.guidance}, nucleus {model.top_p}: "
            f"{previous} -> {version} in {options['checkpoint']}"
        )
        if options["activate"]:
            artifact = register_checkpoint(options["checkpoint"])
            self.stdout.write(f"activated generator {artifact.version}")
