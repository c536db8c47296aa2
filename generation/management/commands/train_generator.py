from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.midi.style_space import STYLES
from generation.generator import (
    GeneratorUnavailable,
    attach_novelty_index,
    generator_work_dir,
    register_checkpoint,
    training_dataset,
    training_pieces,
)
from generation.management.options import (
    check_guidance_option,
    check_top_p_option,
    require_at_least_one,
)
from generation.ml.data import dataset_statistics
from generation.ml.latent_prior import DEFAULT_COMPONENTS
from generation.ml.models import VARIANTS, ConditionalVAE, TokenModel, build_model
from generation.ml.training import (
    CheckpointError,
    TrainingConfig,
    attach_latent_prior,
    export_checkpoint,
    set_sampling,
    train,
)


class Command(BaseCommand):
    help = (
        "Train the generator on the catalog's labelled public tracks (split by piece): "
        "progress bar, resumable checkpoint, early stopping on validation, metrics history. "
        "Writes a shippable checkpoint with its novelty index and, with --activate, serves it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--variant", choices=sorted(VARIANTS), default="cvae")
        parser.add_argument("--out", type=Path, help="the shippable checkpoint to write")
        parser.add_argument("--epochs", type=int, default=40)
        parser.add_argument("--time-limit", type=float, default=None, help="seconds")
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--limit-per-style", type=int, default=None)
        parser.add_argument("--styles", default="", help="comma-separated; default all")
        parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--kl-weight", type=float, default=TrainingConfig.kl_weight)
        parser.add_argument("--free-bits", type=float, default=TrainingConfig.free_bits)
        parser.add_argument(
            "--style-balance",
            type=float,
            default=TrainingConfig.style_balance,
            help="0: every segment once per epoch; 1: every style equally often",
        )
        parser.add_argument("--config", default="{}", help="JSON model config overrides")
        parser.add_argument(
            "--prior-components",
            type=int,
            default=DEFAULT_COMPONENTS,
            help="Gaussians per style in the CVAE's sampling prior (generation.ml.latent_prior)",
        )
        parser.add_argument(
            "--guidance",
            type=float,
            default=1.0,
            help="classifier-free guidance its samples get (a CVAE trained with "
            "condition_dropout); 1 samples as trained",
        )
        parser.add_argument(
            "--top-p",
            type=float,
            default=1.0,
            help="nucleus its samples are drawn from: the likeliest tokens holding this share "
            "of the probability at each step; 1 samples every token",
        )
        parser.add_argument("--activate", action="store_true", help="register and serve it")

    def handle(self, *args: Any, **options: Any) -> None:
        _check_options(options)
        # Built before the dataset, so a bad --config is refused before the data is read.
        model = _fresh_model(options["variant"], options["config"], options["seed"])
        check_guidance_option(model, options["guidance"])
        check_top_p_option(options["top_p"])
        if options["threads"]:
            torch.set_num_threads(options["threads"])
        styles = [s for s in options["styles"].split(",") if s]
        pieces = training_pieces(styles=styles or None, limit_per_style=options["limit_per_style"])
        try:
            dataset = training_dataset(pieces)
        except GeneratorUnavailable as exc:
            raise CommandError(str(exc)) from exc
        work = generator_work_dir()
        self.stdout.write(json.dumps(dataset_statistics(dataset), indent=1))
        train_set, valid_set = dataset.subset("train"), dataset.subset("valid")
        if not len(train_set):
            raise CommandError("no training segments: the pieces are all too short")
        training = TrainingConfig(
            epochs=options["epochs"],
            batch_size=options["batch_size"],
            seed=options["seed"],
            time_limit_s=options["time_limit"],
            kl_weight=options["kl_weight"],
            free_bits=options["free_bits"],
            style_balance=options["style_balance"],
        )
        started = time.monotonic()
        try:
            result = train(model, train_set, valid_set, training, work / f"{options['variant']}.pt")
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc
        wall_time = time.monotonic() - started
        out = options["out"] or work / f"{options['variant']}-{result.model.version}.pt"
        export_checkpoint(result.checkpoint_path, out)
        attach_novelty_index(out, list(train_set.tokens))
        if isinstance(result.model, ConditionalVAE):
            attach_latent_prior(out, result.model, train_set, options["prior_components"])
            if options["guidance"] != 1.0:
                set_sampling(out, result.model, guidance=options["guidance"])
        if options["top_p"] != 1.0:
            set_sampling(out, result.model, top_p=options["top_p"])
        self.stdout.write(
            f"{options['variant']} {result.model.version}: stopped by {result.stopped_because} "
            f"after {len(result.history)} epochs, {wall_time:.0f}s; best {result.best_metrics}; "
            f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)"
        )
        if options["activate"]:
            artifact = register_checkpoint(out, extra_metrics={"wall_time_s": round(wall_time, 1)})
            self.stdout.write(f"activated generator {artifact.version}")


def _check_options(options: dict[str, Any]) -> None:
    """Refuse what would fail or mislead only after the dataset is built."""
    if not 0.0 <= options["style_balance"] <= 1.0:
        raise CommandError("--style-balance must be between 0 and 1")
    require_at_least_one(
        options, "epochs", "batch_size", "limit_per_style", "threads", "prior_components"
    )
    if not 0 <= options["seed"] < 2**32:
        raise CommandError("--seed must be between 0 and 2**32 - 1")
    if options["time_limit"] is not None and options["time_limit"] <= 0:
        raise CommandError("--time-limit must be positive (seconds)")
    unknown = sorted({s for s in options["styles"].split(",") if s} - set(STYLES))
    if unknown:
        raise CommandError(f"--styles: unknown {unknown}; known: {list(STYLES)}")


def _fresh_model(variant: str, overrides: str, seed: int) -> TokenModel:
    kind, variant_config = VARIANTS[variant]
    try:
        config = json.loads(overrides)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--config is not JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise CommandError("--config must be a JSON object of model settings")
    try:
        return build_model(kind, {**variant_config, **config}, seed=seed)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CommandError(f"--config does not fit a {kind} model: {exc}") from exc
