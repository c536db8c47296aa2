from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pretty_midi
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.midi.features import extract_features
from catalog.services import active_style_classifier
from generation.generator import (
    GeneratorUnavailable,
    generator_from,
    training_dataset,
    training_pieces,
)
from generation.management.options import (
    check_guidance_option,
    check_top_p_option,
    require_at_least_one,
)
from generation.ml.evaluation import LIKELIHOOD_SAMPLES, evaluate_models, style_conditions
from generation.ml.models import ConditionalVAE, LSTMBaseline, TokenModel
from generation.ml.sampling import DEFAULT_TEMPERATURE
from generation.ml.training import CheckpointError, load_model

SILENT = "silent"
# What each comparison slot must hold, so that a swapped file cannot pass as the other.
COMPARISONS: dict[str, tuple[str, type[TokenModel], bool]] = {
    "ablation": ("an unconditional CVAE", ConditionalVAE, False),
    "baseline": ("a conditional LSTM", LSTMBaseline, True),
}


class Command(BaseCommand):
    help = (
        "Evaluate the generator on held-out pieces and on samples per style: reconstruction, "
        "ELBO, feature overlap with real music, conditioning fidelity (the catalog's style "
        "classifier) and novelty; side by side with --ablation and --baseline checkpoints."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--checkpoint", type=Path, default=None, help="default: active")
        parser.add_argument("--ablation", type=Path, default=None, help="unconditional CVAE")
        parser.add_argument("--baseline", type=Path, default=None, help="LSTM baseline")
        parser.add_argument("--samples-per-style", type=int, default=32)
        parser.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--guidance",
            type=float,
            default=None,
            help="classifier-free guidance of the main model's samples (default: its own)",
        )
        parser.add_argument(
            "--top-p",
            type=float,
            default=None,
            help="nucleus of every model's samples, as the temperature is every model's "
            "(default: the main model's own)",
        )
        parser.add_argument(
            "--likelihood-samples",
            type=int,
            default=LIKELIHOOD_SAMPLES,
            help="codes per held-out segment for the CVAE's importance-weighted log-likelihood",
        )
        parser.add_argument(
            "--limit-per-style",
            type=int,
            default=None,
            help="the pieces per style the checkpoint was trained with (train_generator's)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object only")

    def handle(self, *args: Any, **options: Any) -> None:
        require_at_least_one(options, "samples_per_style", "likelihood_samples")
        if not math.isfinite(options["temperature"]) or options["temperature"] < 0:
            raise CommandError("--temperature must be at least 0 (0 decodes greedily)")
        try:
            main = generator_from(options["checkpoint"])
        except GeneratorUnavailable as exc:
            raise CommandError(f"no generator to evaluate: {exc}") from exc
        if options["guidance"] is not None:
            check_guidance_option(main.model, options["guidance"])
            main.model.guidance = options["guidance"]
        if options["top_p"] is not None:
            check_top_p_option(options["top_p"])
        models: dict[str, TokenModel] = {"cvae": main.model}
        for name, path in ((name, options[name]) for name in COMPARISONS):
            if path:
                models[name] = _comparison(name, path)
        # The same nucleus for every model, so that the comparison is of the models.
        top_p = main.model.top_p if options["top_p"] is None else options["top_p"]
        for model in models.values():
            model.top_p = top_p
        classifier = active_style_classifier()
        if classifier is None:
            raise CommandError("train the style classifier first (train_style_classifier)")
        try:
            dataset = training_dataset(training_pieces(limit_per_style=options["limit_per_style"]))
        except GeneratorUnavailable as exc:
            raise CommandError(str(exc)) from exc
        heldout = dataset.subset("test")

        def classify(midi: pretty_midi.PrettyMIDI) -> str:
            if not any(instrument.notes for instrument in midi.instruments):
                return SILENT  # a silent sample is in no style
            return classifier.predict([extract_features(midi)])[0]

        report = evaluate_models(
            models,
            heldout,
            main.novelty,
            style_conditions(dataset),
            classify,
            options["samples_per_style"],
            options["temperature"],
            options["seed"],
            training=dataset.subset("train"),
            likelihood_samples=options["likelihood_samples"],
            show_progress=True,
        )
        self.stdout.write(json.dumps(report, indent=None if options["json"] else 2, default=str))


def _comparison(name: str, path: Path) -> TokenModel:
    expected, kind, conditional = COMPARISONS[name]
    try:
        model, _ = load_model(path)  # no novelty index needed: the main model's is used
    except CheckpointError as exc:
        raise CommandError(f"--{name} {path}: {exc}") from exc
    if not isinstance(model, kind) or model.use_condition != conditional:
        raise CommandError(f"--{name} must be {expected}; {path} holds {model.version}")
    return model
