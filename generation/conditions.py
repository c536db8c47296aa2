"""The condition a generation runs under: the person's taste, with the request's overrides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from catalog.midi.style_space import (
    ATTRIBUTES,
    STYLE_DIM,
    VECTOR_DIM,
    compose_vector,
    normalize_tempo,
    split_vector,
    style_weights_from_mapping,
)

_TEMPO = ATTRIBUTES.index("tempo")
NEUTRAL_ATTRIBUTES = np.full(len(ATTRIBUTES), 0.5, dtype=np.float32)


def neutral_condition() -> np.ndarray:
    """Every style equally, middling attributes: for someone with no taste on record."""
    return compose_vector(np.full(STYLE_DIM, 1.0 / STYLE_DIM, dtype=np.float32), NEUTRAL_ATTRIBUTES)


def build_condition(
    *,
    taste: Sequence[float] | None,
    style_mix: Mapping[str, float] | None = None,
    tempo_bpm: float | None = None,
    sharpen: float = 1.0,
) -> np.ndarray:
    """``taste`` (or a neutral vector), its styles replaced by ``style_mix`` and its tempo
    by ``tempo_bpm`` when given. ``sharpen`` > 1 raises the style weights to that power
    before renormalizing, so that a person's dominant style dominates the music more."""
    base = np.asarray(taste, dtype=np.float32) if taste is not None else neutral_condition()
    if base.shape != (VECTOR_DIM,):
        raise ValueError(f"a taste vector has {VECTOR_DIM} entries, got {base.shape}")
    weights, attributes = split_vector(base)
    attributes = attributes.copy()
    if style_mix:
        weights = style_weights_from_mapping(style_mix)
    elif sharpen != 1.0:
        powered = np.power(np.clip(weights, 0.0, None), sharpen)
        weights = powered / powered.sum() if powered.sum() > 0 else weights
    if tempo_bpm is not None:
        attributes[_TEMPO] = normalize_tempo(tempo_bpm)
    return compose_vector(weights.astype(np.float32), attributes.astype(np.float32))
