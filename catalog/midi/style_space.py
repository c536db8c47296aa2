"""The style space shared by tracks, users' conditioning vectors and the generator.

A style vector is ``len(STYLES) + len(ATTRIBUTES)`` floats:

* the first ``len(STYLES)`` entries are non-negative style weights that sum to 1
  (a one-hot vector for a track with a known label, classifier probabilities otherwise,
  a blend of tastes for a user);
* the last ``len(ATTRIBUTES)`` entries are musical attributes, each normalized to [0, 1]
  so that they are commensurable with the style weights.

The vocabulary is fixed, not read from the database, because the generator's condition
layer is sized by it: adding a style means retraining the generator and the classifier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

STYLES: tuple[str, ...] = (
    "chorale",
    "renaissance",
    "madrigal",
    "medieval",
    "fiddle",
    "folk",
    "classical",
)

STYLE_DESCRIPTIONS: dict[str, str] = {
    "chorale": "Four-part Lutheran chorale harmonizations (J. S. Bach).",
    "renaissance": "Sacred Renaissance polyphony: masses and motets (Palestrina, Josquin).",
    "madrigal": "Secular vocal part-songs of the late Renaissance (Monteverdi).",
    "medieval": "Trecento and Ars nova pieces of the 14th and early 15th centuries.",
    "fiddle": "Irish and Scottish dance tunes: reels, jigs, hornpipes (Ryan, O'Neill).",
    "folk": "Monophonic European folk songs (Essen folksong collection).",
    "classical": "Classical-era chamber music: string quartets and sonatas.",
}

ATTRIBUTES: tuple[str, ...] = ("tempo", "note_density", "register", "polyphony", "major")

STYLE_DIM = len(STYLES)
VECTOR_DIM = STYLE_DIM + len(ATTRIBUTES)

# Ranges chosen to cover the bundled corpus; values outside are clipped.
TEMPO_BPM_RANGE = (40.0, 240.0)
NOTE_DENSITY_MAX = 16.0  # notes per second
REGISTER_PITCH_RANGE = (36.0, 96.0)  # mean MIDI pitch, C2..C7
POLYPHONY_MAX = 4.0  # mean simultaneously sounding notes


@dataclass(frozen=True)
class MusicalAttributes:
    """Raw, unnormalized attributes of a piece of music."""

    tempo_bpm: float
    notes_per_second: float
    mean_pitch: float
    mean_polyphony: float
    is_major: bool


def _clip01(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def normalize_tempo(tempo_bpm: float) -> float:
    """Tempo on a log scale, because a step from 60 to 90 bpm feels like 120 to 180."""
    low, high = TEMPO_BPM_RANGE
    tempo = min(high, max(low, tempo_bpm))
    return _clip01(math.log(tempo / low) / math.log(high / low))


def denormalize_tempo(value: float) -> float:
    low, high = TEMPO_BPM_RANGE
    return float(low * (high / low) ** _clip01(value))


def normalize_attributes(attributes: MusicalAttributes) -> np.ndarray:
    low_pitch, high_pitch = REGISTER_PITCH_RANGE
    return np.array(
        [
            normalize_tempo(attributes.tempo_bpm),
            _clip01(attributes.notes_per_second / NOTE_DENSITY_MAX),
            _clip01((attributes.mean_pitch - low_pitch) / (high_pitch - low_pitch)),
            _clip01(attributes.mean_polyphony / POLYPHONY_MAX),
            1.0 if attributes.is_major else 0.0,
        ],
        dtype=np.float32,
    )


def style_weights_from_mapping(weights: Mapping[str, float]) -> np.ndarray:
    """A normalized style-weight vector from ``{style: weight}``; unknown styles raise."""
    unknown = sorted(set(weights) - set(STYLES))
    if unknown:
        raise ValueError(f"unknown style(s) {unknown}; known styles are {list(STYLES)}")
    vector = np.array([max(0.0, float(weights.get(s, 0.0))) for s in STYLES], dtype=np.float32)
    total = vector.sum()
    if total <= 0:
        raise ValueError("style weights must contain at least one positive weight")
    return vector / total


def one_hot_style(style: str) -> np.ndarray:
    return style_weights_from_mapping({style: 1.0})


def compose_vector(style_weights: np.ndarray, attributes: np.ndarray) -> np.ndarray:
    if style_weights.shape != (STYLE_DIM,) or attributes.shape != (len(ATTRIBUTES),):
        raise ValueError(
            f"expected {STYLE_DIM} style weights and {len(ATTRIBUTES)} attributes, "
            f"got {style_weights.shape} and {attributes.shape}"
        )
    return np.concatenate([style_weights, attributes]).astype(np.float32)


def split_vector(vector: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    array = np.asarray(vector, dtype=np.float32)
    if array.shape != (VECTOR_DIM,):
        raise ValueError(f"a style vector has {VECTOR_DIM} entries, got shape {array.shape}")
    return array[:STYLE_DIM], array[STYLE_DIM:]


def top_styles(vector: Sequence[float] | np.ndarray, limit: int = 3) -> dict[str, float]:
    """The dominant styles of a vector, for explaining it to a person."""
    weights, _ = split_vector(vector)
    order = np.argsort(-weights)[:limit]
    return {STYLES[i]: round(float(weights[i]), 4) for i in order if weights[i] > 0}
