"""Train a generator variant from a cached segment dataset, on any torch device.

``manage.py train_generator`` builds the dataset from the catalog and trains on the CPU; this
entry point needs no database, only the dataset cache it wrote (``MODEL_ROOT/generator-
training/cache/segments-*.npz``), so the baselines can be trained with the same data and
schedule on another machine, e.g. one with an accelerator:

    python -m generation.ml.train_from_cache --cache segments-....npz --variant lstm \\
        --epochs 80 --device cuda --out lstm.pt

A CVAE's checkpoint gets its sampling prior (:mod:`generation.ml.latent_prior`) fitted on
the cached training segments. The checkpoint it exports has no novelty index: attach one
with ``manage.py train_generator``'s data (``generation.generator.attach_novelty_index``)
before serving it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from generation.ml.data import load_dataset
from generation.ml.models import VARIANTS, ConditionalVAE, build_model
from generation.ml.training import (
    CheckpointError,
    TrainingConfig,
    attach_latent_prior,
    export_checkpoint,
    train,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="cvae")
    parser.add_argument("--epochs", type=int, default=TrainingConfig.epochs)
    parser.add_argument("--time-limit", type=float, default=None, help="seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kl-weight", type=float, default=TrainingConfig.kl_weight)
    parser.add_argument("--free-bits", type=float, default=TrainingConfig.free_bits)
    parser.add_argument("--style-balance", type=float, default=TrainingConfig.style_balance)
    parser.add_argument("--config", type=json.loads, default={}, help="JSON model overrides")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--work", type=Path, default=Path("."), help="resumable checkpoints")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    dataset = load_dataset(args.cache)
    kind, config = VARIANTS[args.variant]
    model = build_model(kind, {**config, **args.config}, seed=args.seed).to(
        torch.device(args.device)
    )
    training = TrainingConfig(
        epochs=args.epochs,
        seed=args.seed,
        time_limit_s=args.time_limit,
        kl_weight=args.kl_weight,
        free_bits=args.free_bits,
        style_balance=args.style_balance,
    )
    started = time.monotonic()
    try:
        result = train(
            model,
            dataset.subset("train"),
            dataset.subset("valid"),
            training,
            args.work / f"{args.variant}.pt",
        )
    except CheckpointError as error:
        parser.error(str(error))
    export_checkpoint(result.checkpoint_path, args.out)
    if isinstance(result.model, ConditionalVAE):
        attach_latent_prior(args.out, result.model, dataset.subset("train"))
    summary = {
        "variant": args.variant,
        "version": result.model.version,
        "stopped_because": result.stopped_because,
        "epochs": len(result.history),
        "wall_time_s": round(time.monotonic() - started, 1),
        "device": args.device,
        "best": result.best_metrics,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
