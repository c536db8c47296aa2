"""A plain training loop with resumable, versioned checkpoints.

A training checkpoint holds two things: the *best* weights so far (by validation
objective), which is what gets shipped, and a ``resume`` section (latest weights,
optimizer, RNG state, epoch) that lets an interrupted run continue exactly where it
stopped. :func:`export_checkpoint` drops the resume section for shipping.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from generation.ml.data import SegmentDataset, dataset_statistics, iterate_batches
from generation.ml.latent_prior import DEFAULT_COMPONENTS, LatentPrior, fit_latent_prior
from generation.ml.models import (
    LEGACY_CONFIG_DEFAULTS,
    ConditionalVAE,
    TokenModel,
    build_model,
    parameter_count,
)

CHECKPOINT_FORMAT = "generation.ml/checkpoint"
CHECKPOINT_VERSION = 1
LATENT_PRIOR_KEY = "latent_prior"
GUIDANCE_KEY = "sampling_guidance"
TOP_P_KEY = "sampling_top_p"


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, or not a generator checkpoint."""


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 1e-3
    # Cosine decay over ``epochs`` to this fraction of ``learning_rate``; 1.0 keeps it constant.
    final_learning_rate_ratio: float = 0.05
    grad_clip: float = 1.0
    kl_weight: float = 0.2
    kl_warmup_steps: int = 1500
    free_bits: float = 0.5  # nats per latent dimension: 48 nats for 96 dimensions
    patience: int = 5
    max_transpose: int = 5
    # 0: every segment once per epoch; 1: every style equally often (data.epoch_order).
    style_balance: float = 0.0
    seed: int = 0
    max_steps_per_epoch: int | None = None
    time_limit_s: float | None = None


@dataclass
class TrainingResult:
    model: TokenModel
    history: list[dict[str, float]]
    best_metrics: dict[str, float]
    checkpoint_path: Path
    stopped_because: str


def kl_weight_at(step: int, config: TrainingConfig) -> float:
    """Linear KL annealing from 0 to ``config.kl_weight``."""
    if config.kl_warmup_steps <= 0:
        return config.kl_weight
    return config.kl_weight * min(1.0, step / config.kl_warmup_steps)


def learning_rate_at(step: int, total_steps: int, config: TrainingConfig) -> float:
    """Cosine decay from ``learning_rate`` to ``learning_rate * final_learning_rate_ratio``.

    Annealing the step size at the end of a fixed budget settles the weights into a minimum
    that a constant rate keeps jumping around; it is a function of the step alone, so a
    resumed run continues on the same curve.
    """
    progress = min(1.0, step / max(1, total_steps))
    floor = config.learning_rate * config.final_learning_rate_ratio
    return floor + (config.learning_rate - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def steps_per_epoch(dataset: SegmentDataset, config: TrainingConfig) -> int:
    batches = math.ceil(len(dataset) / config.batch_size)
    if config.max_steps_per_epoch is not None:
        batches = min(batches, config.max_steps_per_epoch)
    return batches


def _on_model_device(
    model: TokenModel, tokens: np.ndarray, conditions: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch as tensors where the model's weights are (CPU, or an accelerator if moved)."""
    device = next(model.parameters()).device
    return torch.from_numpy(tokens).to(device), torch.from_numpy(conditions).to(device)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def evaluate_loss(
    model: TokenModel, dataset: SegmentDataset, config: TrainingConfig
) -> dict[str, float]:
    """Mean validation figures at the full KL weight (the objective training converges to)."""
    model.eval()
    totals = {"loss": 0.0, "reconstruction": 0.0, "kl": 0.0, "token_accuracy": 0.0}
    rng = np.random.default_rng(config.seed)
    with torch.no_grad():
        for tokens, conditions in iterate_batches(dataset, config.batch_size, rng):
            breakdown = model.loss(
                *_on_model_device(model, tokens, conditions),
                config.kl_weight,
                config.free_bits,
            )
            for name in totals:
                totals[name] += float(getattr(breakdown, name)) * len(tokens)
    return {f"valid_{name}": value / max(1, len(dataset)) for name, value in totals.items()}


def train_epoch(
    model: TokenModel,
    optimizer: torch.optim.Optimizer,
    dataset: SegmentDataset,
    config: TrainingConfig,
    epoch: int,
    global_step: int,
    progress: bool,
) -> tuple[dict[str, float], int]:
    model.train()
    rng = np.random.default_rng([config.seed, epoch])
    batches = iterate_batches(
        dataset, config.batch_size, rng, config.max_transpose, config.style_balance
    )
    total_batches = steps_per_epoch(dataset, config)
    total_steps = total_batches * config.epochs
    sums = {"loss": 0.0, "reconstruction": 0.0, "kl": 0.0, "token_accuracy": 0.0}
    bar = tqdm(total=total_batches, desc=f"epoch {epoch}", disable=not progress, leave=False)
    seen = 0
    for tokens, conditions in batches:
        if seen == total_batches:
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(global_step, total_steps, config)
        breakdown = model.loss(
            *_on_model_device(model, tokens, conditions),
            kl_weight_at(global_step, config),
            config.free_bits,
        )
        optimizer.zero_grad(set_to_none=True)
        breakdown.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        global_step += 1
        seen += 1
        for name in sums:
            sums[name] += float(getattr(breakdown, name).detach())
        bar.update(1)
        bar.set_postfix(
            loss=f"{sums['loss'] / seen:.1f}", acc=f"{sums['token_accuracy'] / seen:.3f}"
        )
    bar.close()
    return {f"train_{name}": value / max(1, seen) for name, value in sums.items()}, global_step


def training_data_summary(train: SegmentDataset, valid: SegmentDataset) -> dict[str, object]:
    statistics = dataset_statistics(train)
    return {
        "train_segments": len(train),
        "valid_segments": len(valid),
        "pieces_per_style": {s: v["pieces"] for s, v in statistics.items()},
        "segments_per_style": {s: v["segments"] for s, v in statistics.items()},
    }


def train(
    model: TokenModel,
    train_set: SegmentDataset,
    valid_set: SegmentDataset,
    config: TrainingConfig,
    checkpoint_path: Path,
    progress: bool = True,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainingResult:
    """Train ``model``, resuming from ``checkpoint_path`` when it holds an unfinished run.

    Stops after ``config.epochs`` epochs, when the validation objective has not improved
    for ``config.patience`` epochs, or when ``config.time_limit_s`` has passed. The model
    returned carries the best weights.
    """
    checkpoint_path = Path(checkpoint_path)
    seed_everything(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    state = {
        "epoch": 0,
        "global_step": 0,
        "history": [],
        "best_metrics": {},
        "best_state": None,
        "stale": 0,
    }
    if checkpoint_path.exists():
        state = _restore(model, optimizer, checkpoint_path, config)
    started = time.monotonic()
    stopped_because = "max epochs"
    summary = training_data_summary(train_set, valid_set)
    while state["epoch"] < config.epochs:
        if state["stale"] >= config.patience:
            stopped_because = "early stopping"
            break
        if config.time_limit_s is not None and time.monotonic() - started > config.time_limit_s:
            stopped_because = "time limit"
            break
        epoch = state["epoch"] + 1
        metrics, state["global_step"] = train_epoch(
            model, optimizer, train_set, config, epoch, state["global_step"], progress
        )
        metrics.update(evaluate_loss(model, valid_set if len(valid_set) else train_set, config))
        metrics.update(epoch=epoch, seconds=round(time.monotonic() - started, 2))
        state["history"].append(metrics)
        state["epoch"] = epoch
        best = state["best_metrics"].get("valid_loss", math.inf)
        if metrics["valid_loss"] < best:
            state["best_metrics"] = dict(metrics)
            state["best_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
            state["stale"] = 0
        else:
            state["stale"] += 1
        if on_epoch is not None:
            on_epoch(metrics)
        save_checkpoint(
            checkpoint_path,
            model,
            best_state=state["best_state"],
            metrics=state["best_metrics"],
            training_config=asdict(config),
            data_summary=summary,
            history=state["history"],
            resume={
                "optimizer": optimizer.state_dict(),
                "epoch": state["epoch"],
                "global_step": state["global_step"],
                "stale": state["stale"],
                "torch_rng": torch.get_rng_state(),
            },
        )
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    model.version = model_version(model.kind, model.state_dict())
    model.eval()
    return TrainingResult(
        model, state["history"], state["best_metrics"], checkpoint_path, stopped_because
    )


# A run may be resumed with more epochs or another time limit; anything else would mix two
# different trainings in one checkpoint.
_RESUMABLE_CHANGES = ("epochs", "time_limit_s")


def _restore(
    model: TokenModel, optimizer: torch.optim.Optimizer, path: Path, config: TrainingConfig
) -> dict[str, object]:
    checkpoint = read_checkpoint(path)
    resume = checkpoint.get("resume")
    if resume is None:
        raise CheckpointError(f"{path} is an exported checkpoint without a resume section")
    if checkpoint["model_kind"] != model.kind or checkpoint["model_config"] != model.config_dict():
        raise CheckpointError(
            f"{path} is a run of another model kind or configuration: remove it to start afresh"
        )
    stored, wanted = dict(checkpoint["training_config"]), asdict(config)
    changed = sorted(
        name
        for name in set(stored) | set(wanted)
        if name not in _RESUMABLE_CHANGES and stored.get(name) != wanted.get(name)
    )
    if changed:
        raise CheckpointError(
            f"{path} is an unfinished run with other training settings ({', '.join(changed)}): "
            "resume it with its own settings or remove it to start afresh"
        )
    model.load_state_dict(resume["model_state"])
    optimizer.load_state_dict(resume["optimizer"])
    torch.set_rng_state(resume["torch_rng"])
    return {
        "epoch": resume["epoch"],
        "global_step": resume["global_step"],
        "history": list(checkpoint["history"]),
        "best_metrics": dict(checkpoint["metrics"]),
        "best_state": checkpoint["state_dict"],
        "stale": resume["stale"],
    }


def model_version(
    kind: str,
    state_dict: dict[str, torch.Tensor],
    prior: LatentPrior | None = None,
    guidance: float = 1.0,
    top_p: float = 1.0,
) -> str:
    """``kind-<12 hex>``: a digest of the weights (and of the sampling prior, guidance and
    nucleus, which change what the model writes), so equal models give equal versions."""
    tensors = dict(state_dict)
    if prior is not None:
        tensors.update({f"{LATENT_PRIOR_KEY}.{k}": v for k, v in prior.state().items()})
    for key, value in ((GUIDANCE_KEY, guidance), (TOP_P_KEY, top_p)):
        if value != 1.0:
            tensors[key] = torch.tensor(value, dtype=torch.float64)
    hasher = hashlib.sha256()
    for name, tensor in sorted(tensors.items()):
        hasher.update(name.encode())
        hasher.update(tensor.detach().cpu().numpy().tobytes())
    return f"{kind}-{hasher.hexdigest()[:12]}"


def save_checkpoint(
    path: Path,
    model: TokenModel,
    *,
    best_state: dict[str, torch.Tensor] | None = None,
    metrics: dict[str, float] | None = None,
    training_config: dict[str, object] | None = None,
    data_summary: dict[str, object] | None = None,
    history: list[dict[str, float]] | None = None,
    resume: dict[str, object] | None = None,
) -> None:
    """Write atomically (temporary file, then rename) so a crash never leaves half a file."""
    state_dict = best_state if best_state is not None else model.state_dict()
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "model_kind": model.kind,
        "model_config": model.config_dict(),
        "model_version": model_version(model.kind, state_dict),
        "parameters": parameter_count(model),
        "state_dict": state_dict,
        "metrics": metrics or {},
        "training_config": training_config or {},
        "data_summary": data_summary or {},
        "history": history or [],
        "created_at": datetime.now(UTC).isoformat(),
    }
    if resume is not None:
        checkpoint["resume"] = {"model_state": model.state_dict(), **resume}
    _write_atomically(checkpoint, path)


def _write_atomically(checkpoint: dict[str, object], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, temporary)
    temporary.replace(path)


def read_checkpoint(path: Path) -> dict[str, object]:
    """The checkpoint dictionary; raises :class:`CheckpointError` with the reason."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"generator checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise CheckpointError(f"generator checkpoint {path} is corrupt: {error}") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a generator checkpoint")
    if checkpoint.get("format_version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {checkpoint.get('format_version')}, "
            f"this code reads {CHECKPOINT_VERSION}"
        )
    return checkpoint


def load_model(path: Path) -> tuple[TokenModel, dict[str, object]]:
    """The best weights of a checkpoint as a model in eval mode, and the checkpoint's metadata."""
    checkpoint = read_checkpoint(path)
    try:
        kind = checkpoint["model_kind"]
        model = build_model(
            kind, {**LEGACY_CONFIG_DEFAULTS.get(kind, {}), **checkpoint["model_config"]}
        )
        model.load_state_dict(checkpoint["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} does not match the model code: {error}") from error
    if LATENT_PRIOR_KEY in checkpoint:
        model.latent_prior = _stored_prior(checkpoint[LATENT_PRIOR_KEY], model, path)
    if GUIDANCE_KEY in checkpoint:
        model.guidance = _stored_guidance(checkpoint[GUIDANCE_KEY], model, path)
    if TOP_P_KEY in checkpoint:
        model.top_p = _stored_top_p(checkpoint[TOP_P_KEY], path)
    model.version = checkpoint["model_version"]
    model.eval()
    metadata = {k: v for k, v in checkpoint.items() if k not in ("state_dict", "resume")}
    return model, metadata


def export_checkpoint(source: Path, destination: Path) -> Path:
    """A shippable copy of a training checkpoint: best weights and metadata, no resume state."""
    checkpoint = read_checkpoint(source)
    checkpoint.pop("resume", None)
    _write_atomically(checkpoint, Path(destination))
    load_model(destination)  # refuse to ship something that does not load
    return Path(destination)


def attach_latent_prior(
    path: Path,
    model: ConditionalVAE,
    train_set: SegmentDataset,
    components: int = DEFAULT_COMPONENTS,
    seed: int = 0,
) -> str:
    """Fit the sampling prior of :mod:`generation.ml.latent_prior` to ``model``'s codes of
    ``train_set`` (one mixture per style, one shared mixture for the unconditional
    ablation), store it in the CVAE checkpoint at ``path`` and return the new model version.
    """
    checkpoint = _checkpoint_of(path, model)
    if not isinstance(model, ConditionalVAE):
        raise CheckpointError(f"{path} holds a {model.kind!r} model, not a CVAE")
    mu, log_var = model.posterior(train_set.tokens, train_set.conditions)
    styles = list(train_set.segment_styles) if model.use_condition else None
    prior = fit_latent_prior(mu, log_var, styles, components, seed)
    checkpoint[LATENT_PRIOR_KEY] = {
        "state": prior.state(),
        "fitted_on": {
            "train_segments": len(train_set),
            "per_style": model.use_condition,
            "components": components,
            "seed": seed,
        },
    }
    return _store_sampling_settings(path, checkpoint, model)


def set_sampling(
    path: Path, model: TokenModel, *, guidance: float | None = None, top_p: float | None = None
) -> str:
    """Store how sampling from the checkpoint at ``path`` goes (those given of: the CVAE's
    classifier-free guidance, :meth:`ConditionalVAE.decode`; the nucleus,
    :meth:`TokenModel.pick`) and return the new model version; raises ValueError for a
    setting out of range or a guidance the model was not trained for."""
    checkpoint = _checkpoint_of(path, model)
    if guidance is not None:
        if not isinstance(model, ConditionalVAE):
            raise ValueError(f"a {model.kind!r} model is not sampled with guidance")
        model.check_guidance(guidance)
        checkpoint[GUIDANCE_KEY] = float(guidance)
    if top_p is not None:
        check_top_p(top_p)
        checkpoint[TOP_P_KEY] = float(top_p)
    return _store_sampling_settings(path, checkpoint, model)


def check_top_p(top_p: float) -> None:
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be above 0 and at most 1, not {top_p}")


def _checkpoint_of(path: Path, model: TokenModel) -> dict[str, object]:
    """The checkpoint at ``path``, refused unless it holds ``model``'s weights."""
    checkpoint = read_checkpoint(path)
    if checkpoint["model_kind"] != model.kind:
        raise CheckpointError(
            f"{path} holds a {checkpoint['model_kind']!r} model, not a {model.kind!r} one"
        )
    if model_version(model.kind, model.state_dict()) != model_version(
        checkpoint["model_kind"], checkpoint["state_dict"]
    ):
        raise CheckpointError(f"{path} holds other weights than the model given")
    return checkpoint


def _store_sampling_settings(path: Path, checkpoint: dict[str, object], model: TokenModel) -> str:
    """Write ``checkpoint`` with the version that its weights and sampling settings (prior,
    guidance, nucleus) give, and give ``model`` those settings and that version."""
    stored_prior = checkpoint.get(LATENT_PRIOR_KEY)
    prior = None if stored_prior is None else _stored_prior(stored_prior, model, path)
    guidance = float(checkpoint.get(GUIDANCE_KEY, 1.0))
    top_p = float(checkpoint.get(TOP_P_KEY, 1.0))
    version = model_version(model.kind, checkpoint["state_dict"], prior, guidance, top_p)
    checkpoint["model_version"] = version
    _write_atomically(checkpoint, Path(path))
    if isinstance(model, ConditionalVAE):
        model.latent_prior, model.guidance = prior, guidance
    model.top_p, model.version = top_p, version
    return version


def _stored_prior(stored: dict[str, object], model: TokenModel, path: Path) -> LatentPrior:
    try:
        prior = LatentPrior.from_state(stored["state"])
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} has an unreadable latent prior: {error}") from error
    if not isinstance(model, ConditionalVAE) or prior.latent_dim != model.config.latent_dim:
        raise CheckpointError(f"{path} has a latent prior that does not fit its model")
    return prior


def _stored_guidance(stored: object, model: TokenModel, path: Path) -> float:
    if not isinstance(stored, float) or not math.isfinite(stored) or stored < 0:
        raise CheckpointError(f"{path} has an unreadable sampling guidance: {stored!r}")
    if not isinstance(model, ConditionalVAE):
        raise CheckpointError(f"{path} has a sampling guidance but holds no CVAE")
    try:
        model.check_guidance(stored)
    except ValueError as error:
        raise CheckpointError(
            f"{path} has a sampling guidance its model cannot use: {error}"
        ) from error
    return stored


def _stored_top_p(stored: object, path: Path) -> float:
    try:
        check_top_p(stored)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path} has an unreadable sampling nucleus: {stored!r}") from error
    return float(stored)
