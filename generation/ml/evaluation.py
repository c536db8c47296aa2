"""Evaluation of generators: reconstruction, likelihood, musical features, conditioning
fidelity and novelty, for several models side by side in one JSON-able dictionary.

Musical features follow MusPy's definitions, computed on the token grid (which is what
the models write): pitch-class entropy, scale consistency, groove consistency, empty-beat
rate, polyphony and pitch range. Generated and real pieces are compared per feature by
the overlapping area of their kernel density estimates (Yang & Lerch 2018): 1 means
indistinguishable distributions, 0 disjoint ones.

Novelty is the longest run of consecutive notes, as (pitch interval, duration) pairs,
that a generated voice shares with any voice of any training piece. Intervals make the
measure blind to transposition, which matters because training transposes the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pretty_midi
import torch
from scipy.stats import gaussian_kde
from tqdm.auto import tqdm

from catalog.midi.style_space import STYLE_DIM, compose_vector, one_hot_style
from generation.ml.data import (
    HOLD,
    MIN_PITCH,
    PITCH_OFFSET,
    STEPS_PER_BAR,
    STEPS_PER_QUARTER,
    SegmentDataset,
)
from generation.ml.models import ConditionalVAE, TokenModel
from generation.ml.sampling import grid_to_midi

# Codes per held-out segment for the CVAE's importance-weighted log-likelihood.
LIKELIHOOD_SAMPLES = 64
FEATURES = (
    "pitch_class_entropy",
    "scale_consistency",
    "groove_consistency",
    "empty_beat_rate",
    "polyphony",
    "pitch_range",
)
# A shared run this long is a copy. Independent real music shares short formulas (scale
# runs, repeated notes, cadences): on 106 bundled pieces of four styles, held-out pieces
# shared at most 11 consecutive (interval, duration) pairs with the training pieces, and
# samples of a briefly trained CVAE at most 4. 24 notes, twice the longest formula that
# independent pieces share, is a quotation of a phrase or more, not a formula.
NOVELTY_THRESHOLD = 24
_MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR_SCALE = np.array([0, 2, 3, 5, 7, 8, 10])
_HASH_BASE = np.uint64(1_000_003)
_SEPARATOR = np.uint64(0)


def sounding_pitches(tokens: np.ndarray) -> np.ndarray:
    """``(voice, step)`` MIDI pitch sounding at each step, -1 where the voice rests."""
    steps = np.arange(tokens.shape[-1])
    articulated = np.where(tokens != HOLD, steps, -1)
    last = np.maximum.accumulate(articulated, axis=-1)
    token = np.take_along_axis(tokens, np.maximum(last, 0), axis=-1).astype(np.int16)
    return np.where((last >= 0) & (token >= PITCH_OFFSET), token - PITCH_OFFSET + MIN_PITCH, -1)


def musical_features(tokens: np.ndarray) -> dict[str, float]:
    """MusPy-style features of one ``(voice, step)`` grid; NaN where undefined (silence)."""
    onsets = tokens >= PITCH_OFFSET
    onset_pitches = tokens[onsets].astype(int) - PITCH_OFFSET + MIN_PITCH
    sounding = sounding_pitches(tokens)
    voices_sounding = (sounding >= 0).sum(axis=0)
    if onset_pitches.size == 0:
        return dict.fromkeys(FEATURES, float("nan"))
    histogram = np.bincount(onset_pitches % 12, minlength=12) / onset_pitches.size
    nonzero = histogram[histogram > 0]
    classes = onset_pitches % 12
    scale_rates = [
        np.isin((classes - root) % 12, scale).mean()
        for root in range(12)
        for scale in (_MAJOR_SCALE, _MINOR_SCALE)
    ]
    bars = onsets.any(axis=0)[: tokens.shape[1] // STEPS_PER_BAR * STEPS_PER_BAR]
    patterns = bars.reshape(-1, STEPS_PER_BAR)
    groove = 1.0 - np.mean(patterns[1:] != patterns[:-1]) if len(patterns) > 1 else float("nan")
    beats = voices_sounding[: tokens.shape[1] // STEPS_PER_QUARTER * STEPS_PER_QUARTER]
    empty_beats = (beats.reshape(-1, STEPS_PER_QUARTER).sum(axis=1) == 0).mean()
    played = sounding[sounding >= 0]
    return {
        "pitch_class_entropy": float(-(nonzero * np.log2(nonzero)).sum()),
        "scale_consistency": float(max(scale_rates)),
        "groove_consistency": float(groove),
        "empty_beat_rate": float(empty_beats),
        "polyphony": float(voices_sounding[voices_sounding > 0].mean()),
        "pitch_range": float(played.max() - played.min()),
    }


# Values that a feature takes exactly on a bound, for whole families of pieces: a monophonic
# tune's polyphony is exactly 1, a piece that never falls silent has an empty-beat rate of
# exactly 0, a diatonic piece a scale consistency of 1, a strict repetition a groove
# consistency of 1. These are point masses; a kernel density smears each of them into a
# bump whose width depends on the rest of the sample, so two samples that agree on the point
# mass would look apart (a set of tunes 96 % monophonic scored 0.36 against a 100 % one).
FEATURE_POINT_MASSES: dict[str, tuple[float, ...]] = {
    "scale_consistency": (1.0,),
    "groove_consistency": (1.0,),
    "empty_beat_rate": (0.0,),
    "polyphony": (1.0,),
}


def _density(values: np.ndarray, grid: np.ndarray, spread: float) -> np.ndarray:
    if values.size > 1 and np.std(values) > 1e-9:
        density = gaussian_kde(values)(grid)
    else:  # a constant feature: a narrow bump instead of a singular KDE
        width = 0.01 * spread
        density = np.exp(-0.5 * ((grid[:, None] - values[None]) / width) ** 2).sum(axis=1)
    area = np.trapezoid(density, grid)
    return density / area if area > 0 else density


def overlapping_area(
    a: Iterable[float],
    b: Iterable[float],
    point_masses: Sequence[float] = (),
    points: int = 1024,
) -> float:
    """Overlapping area of the distributions of two samples of one feature (NaNs ignored).

    Values exactly equal to one of ``point_masses`` count as such: their shares overlap as
    ``min(share in a, share in b)``. The remaining values are compared by the overlapping
    area of their kernel density estimates, each weighted by its share of its sample.
    """
    a = np.asarray([v for v in a if np.isfinite(v)], dtype=float)
    b = np.asarray([v for v in b if np.isfinite(v)], dtype=float)
    if a.size == 0 or b.size == 0:
        return float("nan")
    masses = np.asarray(point_masses, dtype=float)
    shared = sum(min(np.mean(a == mass), np.mean(b == mass)) for mass in masses)
    rest_a, rest_b = a[~np.isin(a, masses)], b[~np.isin(b, masses)]
    if rest_a.size == 0 or rest_b.size == 0:
        return float(min(1.0, shared))
    low, high = min(rest_a.min(), rest_b.min()), max(rest_a.max(), rest_b.max())
    spread = max(high - low, 1e-3)
    grid = np.linspace(low - 0.5 * spread, high + 0.5 * spread, points)
    overlap = np.minimum(
        rest_a.size / a.size * _density(rest_a, grid, spread),
        rest_b.size / b.size * _density(rest_b, grid, spread),
    )
    return float(min(1.0, shared + np.trapezoid(overlap, grid)))


def feature_comparison(
    generated: Sequence[np.ndarray], real: Sequence[np.ndarray]
) -> dict[str, dict[str, float]]:
    """Per feature: the mean of generated and of real grids, and their overlapping area."""
    generated_features = [musical_features(g) for g in generated]
    real_features = [musical_features(r) for r in real]
    comparison = {}
    for name in FEATURES:
        generated_values = [f[name] for f in generated_features]
        real_values = [f[name] for f in real_features]
        comparison[name] = {
            "generated_mean": _finite_mean(generated_values),
            "real_mean": _finite_mean(real_values),
            "overlap": overlapping_area(
                generated_values, real_values, FEATURE_POINT_MASSES.get(name, ())
            ),
        }
    return comparison


def _finite_mean(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _batches(dataset: SegmentDataset, size: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    for start in range(0, len(dataset), size):
        yield (
            torch.from_numpy(dataset.tokens[start : start + size]).long(),
            torch.from_numpy(dataset.conditions[start : start + size]),
        )


def reconstruction_metrics(
    model: TokenModel,
    dataset: SegmentDataset,
    batch_size: int = 64,
    seed: int = 0,
    likelihood_samples: int = LIKELIHOOD_SAMPLES,
) -> dict[str, float | str]:
    """On held-out segments: token and note-onset accuracy with teacher forcing, free-running
    accuracy after the first bar, the ELBO (exact log-likelihood for the LSTM) and the
    log-likelihood (for the CVAE an importance-weighted estimate with
    ``likelihood_samples`` codes per segment, comparable with the LSTM's exact figure).

    Free-running: the CVAE decodes greedily from the posterior mean; the LSTM, which has
    no latent code, continues the true first bar greedily. Both are scored on bars 2-16.
    """
    model.eval()
    torch.manual_seed(seed)
    counts = {"tokens": 0, "onsets": 0, "free": 0}
    hits = {"tokens": 0.0, "onsets": 0.0, "free": 0.0}
    negative_elbo = log_likelihood = 0.0
    # Its own stream, so the likelihood's draws leave the ELBO's as they were without it.
    codes = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tokens, conditions in _batches(dataset, batch_size):
            predicted = model.teacher_forced_logits(tokens, conditions).argmax(-1).transpose(1, 2)
            onsets = tokens >= PITCH_OFFSET
            hits["tokens"] += float((predicted == tokens).sum())
            hits["onsets"] += float((predicted == tokens)[onsets].sum())
            later = model.reconstruct(tokens, conditions)[..., STEPS_PER_BAR:]
            hits["free"] += float((later == tokens[..., STEPS_PER_BAR:]).sum())
            counts["tokens"] += tokens.numel()
            counts["onsets"] += int(onsets.sum())
            counts["free"] += later.numel()
            breakdown = model.loss(tokens, conditions, kl_weight=1.0, free_bits=0.0)
            negative_elbo += float(breakdown.reconstruction + breakdown.kl) * len(tokens)
            estimate = model.log_likelihood(tokens, conditions, likelihood_samples, codes)
            log_likelihood += float(estimate.sum())
    segments = len(dataset) or float("nan")  # no held-out segment: undefined, not perfect
    return {
        "segments": len(dataset),
        "teacher_forced_accuracy": hits["tokens"] / max(1, counts["tokens"]),
        "teacher_forced_onset_accuracy": hits["onsets"] / max(1, counts["onsets"]),
        "free_running_accuracy": hits["free"] / max(1, counts["free"]),
        "elbo_per_segment": -negative_elbo / segments,
        "nll_bound_per_token": negative_elbo / max(1, counts["tokens"]),
        "log_likelihood_per_segment": log_likelihood / segments,
        "log_likelihood_method": (
            f"importance-weighted, {likelihood_samples} codes per segment"
            if isinstance(model, ConditionalVAE)
            else "exact"
        ),
    }


def style_conditions(dataset: SegmentDataset) -> dict[str, np.ndarray]:
    """A condition per style: the one-hot style and the style's mean attributes."""
    styles = dataset.segment_styles
    return {
        style: compose_vector(
            one_hot_style(style), dataset.conditions[styles == style, STYLE_DIM:].mean(axis=0)
        )
        for style in sorted(set(styles))
    }


def sample_grids(
    model: TokenModel, condition: np.ndarray, count: int, seed: int, temperature: float = 1.0
) -> np.ndarray:
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    conditions = torch.from_numpy(np.asarray(condition, np.float32)).expand(count, -1)
    with torch.inference_mode():
        return model.sample(conditions.contiguous(), temperature=temperature, generator=generator)


def conditioning_fidelity(
    generated: Mapping[str, Sequence[pretty_midi.PrettyMIDI]],
    classify: Callable[[pretty_midi.PrettyMIDI], str],
) -> dict[str, float]:
    """Per requested style, the fraction of its pieces the style classifier recognizes."""
    accuracy = {
        style: _finite_mean([float(classify(midi) == style) for midi in midis])
        for style, midis in generated.items()
    }
    accuracy["mean"] = _finite_mean(list(accuracy.values()))  # over the styles with pieces
    return accuracy


def note_sequences(tokens: np.ndarray) -> list[np.ndarray]:
    """Per voice, the (pitch interval, duration in steps) of each note after the first,
    encoded as one positive integer per note."""
    sequences = []
    for row in tokens:
        starts = np.flatnonzero(row >= PITCH_OFFSET)
        if starts.size < 2:
            continue
        articulated = np.flatnonzero(row != HOLD)
        following = np.searchsorted(articulated, starts, side="right")
        ends = np.append(articulated, len(row))[following]
        durations = np.minimum(ends - starts, 255)
        intervals = np.diff(row[starts].astype(np.int64))
        sequences.append(((intervals + 128) << 8 | durations[1:]).astype(np.uint64) + 1)
    return sequences


def _ngram_hashes(sequences: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Polynomial hashes (mod 2**64) of every ``length``-gram inside a single sequence."""
    joined = np.concatenate([np.append(s, _SEPARATOR) for s in sequences]).astype(np.uint64)
    count = joined.size - length + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    hashes = np.zeros(count, dtype=np.uint64)
    for offset in range(length):
        hashes = hashes * _HASH_BASE + joined[offset : offset + count]
    separators = np.concatenate([[0], np.cumsum(joined == _SEPARATOR)])
    inside = separators[length : length + count] - separators[:count] == 0
    return hashes[inside]


class NoveltyIndex:
    """Hashed n-grams of the training pieces' note sequences, built lazily per length."""

    def __init__(self, training_grids: Iterable[np.ndarray]) -> None:
        self.sequences = [s for grid in training_grids for s in note_sequences(grid)]
        self._hashes: dict[int, np.ndarray] = {}

    def _training_hashes(self, length: int) -> np.ndarray:
        if length not in self._hashes:
            self._hashes[length] = np.unique(_ngram_hashes(self.sequences, length))
        return self._hashes[length]

    def shares_run(self, grid: np.ndarray, length: int) -> bool:
        query = _ngram_hashes(note_sequences(grid), length)
        if query.size == 0 or not self.sequences:
            return False
        return bool(np.isin(query, self._training_hashes(length)).any())

    def longest_shared_run(self, grid: np.ndarray) -> int:
        """Binary search on the run length: sharing a run implies sharing its sub-runs."""
        longest = max((len(s) for s in note_sequences(grid)), default=0)
        low, high = 0, longest
        while low < high:
            middle = (low + high + 1) // 2
            if self.shares_run(grid, middle):
                low = middle
            else:
                high = middle - 1
        return low


def is_novel(grid: np.ndarray, index: NoveltyIndex, threshold: int = NOVELTY_THRESHOLD) -> bool:
    """True unless the piece shares ``threshold`` consecutive notes with a training piece."""
    return not index.shares_run(grid, threshold)


def novelty_report(
    grids: Sequence[np.ndarray], index: NoveltyIndex, threshold: int = NOVELTY_THRESHOLD
) -> dict[str, float]:
    runs = [index.longest_shared_run(grid) for grid in grids]
    return {
        "threshold": threshold,
        "max_shared_run": int(max(runs, default=0)),
        "mean_shared_run": float(np.mean(runs)) if runs else 0.0,
        "copies": int(sum(run >= threshold for run in runs)),
    }


def evaluate_models(
    models: Mapping[str, TokenModel],
    heldout: SegmentDataset,
    novelty_index: NoveltyIndex,
    conditions: Mapping[str, np.ndarray],
    classify: Callable[[pretty_midi.PrettyMIDI], str] | None = None,
    samples_per_style: int = 32,
    temperature: float = 1.0,
    seed: int = 0,
    training: SegmentDataset | None = None,
    likelihood_samples: int = LIKELIHOOD_SAMPLES,
    show_progress: bool = False,
) -> dict[str, object]:
    """Every figure for every model (e.g. CVAE, ablation, LSTM) on the same data and seeds.

    ``conditions`` maps each style to evaluate to its condition (see :func:`style_conditions`);
    ``classify`` is the catalog's style classifier, or None to skip conditioning fidelity.
    With ``training``, a ``reference`` entry treats real training segments as if they were
    samples: their feature overlap with the held-out segments and the classifier's accuracy
    on held-out segments written through the same MIDI path are the ceilings that sample
    size and classifier set for any model.
    """
    real_by_style = {style: heldout.tokens[heldout.segment_styles == style] for style in conditions}
    report: dict[str, object] = {
        "settings": {
            "heldout_segments": len(heldout),
            "samples_per_style": samples_per_style,
            "temperature": temperature,
            "seed": seed,
            "novelty_threshold": NOVELTY_THRESHOLD,
            "likelihood_samples": likelihood_samples,
        },
        "models": {},
    }
    progress = tqdm(models.items(), desc="evaluate_generator", disable=not show_progress)
    for name, model in progress:
        progress.set_postfix_str(f"{name}: sampling")
        generated = {
            style: sample_grids(model, condition, samples_per_style, seed, temperature).numpy()
            for style, condition in conditions.items()
        }
        progress.set_postfix_str(f"{name}: reconstruction, likelihood, features, fidelity")
        entry: dict[str, object] = {
            "kind": model.kind,
            "version": model.version,
            "conditional": model.use_condition,
            "latent": isinstance(model, ConditionalVAE),
            "guidance": model.guidance if isinstance(model, ConditionalVAE) else None,
            "top_p": model.top_p,
            "reconstruction": reconstruction_metrics(
                model, heldout, seed=seed, likelihood_samples=likelihood_samples
            ),
            **_sample_figures(generated, real_by_style, conditions, classify, model.version, seed),
            "novelty": novelty_report(
                [g for grids in generated.values() for g in grids], novelty_index
            ),
        }
        report["models"][name] = entry
    if training is not None:
        real_samples = {
            style: training.tokens[training.segment_styles == style][:samples_per_style]
            for style in conditions
        }
        reference = _sample_figures(real_samples, real_by_style, conditions, None, "real", seed)
        if classify is not None:
            reference["conditioning_fidelity"] = _fidelity(
                real_by_style, conditions, classify, "real", seed
            )
        report["reference"] = reference
    return _undefined_as_none(report)


def _undefined_as_none(value: object) -> object:
    """NaN (a figure with nothing to measure, e.g. a style without held-out segments) as
    None, so that the report is strict JSON."""
    if isinstance(value, dict):
        return {key: _undefined_as_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_undefined_as_none(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _sample_figures(
    samples: Mapping[str, np.ndarray],
    real_by_style: Mapping[str, np.ndarray],
    conditions: Mapping[str, np.ndarray],
    classify: Callable[[pretty_midi.PrettyMIDI], str] | None,
    version: str,
    seed: int,
) -> dict[str, object]:
    features = {
        style: feature_comparison(list(samples[style]), list(real_by_style[style]))
        for style in conditions
    }
    overlaps = [f["overlap"] for per_style in features.values() for f in per_style.values()]
    figures: dict[str, object] = {
        "features": features,
        "mean_feature_overlap": _finite_mean(overlaps),
    }
    if classify is not None:
        figures["conditioning_fidelity"] = _fidelity(samples, conditions, classify, version, seed)
    return figures


def _fidelity(
    grids: Mapping[str, np.ndarray],
    conditions: Mapping[str, np.ndarray],
    classify: Callable[[pretty_midi.PrettyMIDI], str],
    version: str,
    seed: int,
) -> dict[str, float]:
    midis = {
        style: [grid_to_midi(grid, conditions[style], version, seed) for grid in style_grids]
        for style, style_grids in grids.items()
    }
    return conditioning_fidelity(midis, classify)
