"""The preference (taste) model: listening history -> a conditioning vector in the style space.

Each listen, feedback and explicit preference becomes evidence about styles and attributes:

* a listen counts by how much of the track was heard (completion), how long ago (exponential
  recency decay), and negatively when skipped; repeats add up with diminishing returns
  (``log1p`` of a track's summed weight);
* a love adds, a hate subtracts, a fixed amount of evidence for the track;
* chosen styles and a tempo range reshape the person's own prior: ``preference_strength``
  parts of what they chose to one part of the population's taste. A newcomer's taste is
  then mostly what they said; as their listening grows, it outweighs what they said;
* styles the person said to avoid get no weight, whatever they listened to;
* a track without a style vector (a listening-history track outside the catalog) says
  nothing about style or attributes, and counts for nothing.

Empirical Bayes shrinkage: a user's style weights are the posterior mean under a Dirichlet-like
prior ``(evidence + kappa * prior) / (|evidence| + kappa)``. The population prior (the mean
taste of users) and ``kappa`` (how strongly users agree with it, by moment matching; the
weakest, ``min_kappa``, when nobody has listened yet and the prior is the catalog's mix) are
fitted on what users did (listens and feedback; one person's stated preferences are not
evidence about anyone else), so a user with little history stays near the population and a
user with no history gets exactly the prior. Attribute preferences shrink the same way toward
a scikit-learn ridge model that predicts a user's attributes from their style weights: a new
fiddle fan is expected to like fast tempi before they have shown it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import Ridge

from catalog.midi.style_space import (
    ATTRIBUTES,
    STYLE_DIM,
    STYLES,
    VECTOR_DIM,
    compose_vector,
    normalize_tempo,
    split_vector,
    style_weights_from_mapping,
    top_styles,
)

_SECONDS_PER_DAY = 86_400.0
_TEMPO = ATTRIBUTES.index("tempo")


@dataclass(frozen=True)
class ListenEvents:
    """One user's listens as parallel arrays (``listened_at`` in seconds since the epoch)."""

    track_index: np.ndarray
    listened_at: np.ndarray
    ms_played: np.ndarray
    duration_ms: np.ndarray
    skipped: np.ndarray

    @classmethod
    def empty(cls) -> ListenEvents:
        nothing = np.zeros(0)
        return cls(nothing.astype(np.int64), nothing, nothing, nothing, nothing.astype(bool))


@dataclass(frozen=True)
class Feedback:
    """Loves (+1) and hates (-1) of tracks."""

    track_index: np.ndarray
    score: np.ndarray

    @classmethod
    def empty(cls) -> Feedback:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0))


@dataclass(frozen=True)
class ExplicitPreferences:
    styles: tuple[str, ...] = ()
    tempo_bpm_range: tuple[float, float] | None = None
    avoid_styles: tuple[str, ...] = ()

    @property
    def shape_the_prior(self) -> bool:
        """Whether liked styles or a tempo were stated (avoided styles only take weight away)."""
        return bool(self.styles) or self.tempo_bpm_range is not None


def _no_vectors() -> np.ndarray:
    return np.zeros((0, VECTOR_DIM), dtype=np.float32)


@dataclass(frozen=True)
class UserHistory:
    """What one person did and said. Track indices are a fitted model's columns; from the
    model's track count on, they are rows of ``newer_track_vectors`` (tracks the model has
    not seen, with their style vectors)."""

    listens: ListenEvents = field(default_factory=ListenEvents.empty)
    feedback: Feedback = field(default_factory=Feedback.empty)
    preferences: ExplicitPreferences = field(default_factory=ExplicitPreferences)
    newer_track_vectors: np.ndarray = field(default_factory=_no_vectors)


@dataclass(frozen=True)
class Evidence:
    """Signed style evidence and per-attribute weighted sums with their weights, for one user."""

    styles: np.ndarray
    magnitude: float
    attribute_sum: np.ndarray
    attribute_weight: np.ndarray


class TasteModel:
    """Fit on every user's history and the track style vectors; then ``conditioning_vector``."""

    # Models stored before this setting existed unpickle without it: they get the default.
    preference_strength: float = 2.0

    def __init__(
        self,
        half_life_days: float = 90.0,
        skip_weight: float = 0.5,
        feedback_weight: float = 3.0,
        preference_strength: float = 2.0,
        min_kappa: float = 1.0,
        max_kappa: float = 50.0,
    ) -> None:
        self.half_life_days = half_life_days
        self.skip_weight = skip_weight
        self.feedback_weight = feedback_weight
        self.preference_strength = preference_strength
        self.min_kappa = min_kappa
        self.max_kappa = max_kappa

    def hyperparameters(self) -> dict[str, float]:
        return {
            "half_life_days": self.half_life_days,
            "skip_weight": self.skip_weight,
            "feedback_weight": self.feedback_weight,
            "preference_strength": self.preference_strength,
            "kappa": float(getattr(self, "kappa", float("nan"))),
        }

    def fit(
        self, histories: Sequence[UserHistory], track_vectors: np.ndarray, now: float | None = None
    ) -> TasteModel:
        """Estimate the population prior, ``kappa`` and the attribute model from all users."""
        track_vectors = np.asarray(track_vectors, dtype=np.float32)
        if track_vectors.ndim != 2 or track_vectors.shape[1] != VECTOR_DIM:
            raise ValueError(f"track_vectors must be (n_tracks, {VECTOR_DIM})")
        self.track_vectors = track_vectors
        self.now = now if now is not None else _latest_listen(histories)
        evidences = [self._evidence(history) for history in histories]
        informed = [e for e in evidences if e.magnitude > 0]
        catalog_styles, catalog_attributes = (part.mean(axis=0) for part in _split(track_vectors))
        self.training_summary = {"users": len(histories), "users_with_history": len(informed)}
        if not informed:
            # Nothing tells how much people agree with the catalog's mix: a newcomer's own
            # first listens lead (strong shrinkage here kept a first listener's fiddle
            # tunes behind the catalog's mix until the next refit).
            self.prior_styles, self.kappa = catalog_styles / catalog_styles.sum(), self.min_kappa
            self.attribute_model = None
            self.prior_attributes = catalog_attributes
            return self
        user_styles = np.stack([_positive_simplex(e.styles) for e in informed])
        self.prior_styles = user_styles.mean(axis=0)
        self.kappa = self._moment_matched_kappa(user_styles)
        user_attributes = np.array([_attribute_mean(e, catalog_attributes) for e in informed])
        self.prior_attributes = user_attributes.mean(axis=0)
        self.attribute_model = Ridge(alpha=1.0).fit(
            user_styles,
            user_attributes,
            sample_weight=np.array([e.attribute_weight.mean() for e in informed]) + 1e-6,
        )
        return self

    @property
    def prior_vector(self) -> np.ndarray:
        return compose_vector(
            self.prior_styles.astype(np.float32), self.prior_attributes.astype(np.float32)
        )

    def knows(self, history: UserHistory) -> bool:
        """Whether the history says anything about this person's taste (what they did with
        tracks that have a style, or liked styles or a tempo they stated)."""
        return self._evidence(history).magnitude > 0 or history.preferences.shape_the_prior

    def conditioning_vector(self, history: UserHistory) -> np.ndarray:
        """The user's 12-float vector: style weights summing to 1, attributes in [0, 1]."""
        vector = self._shrunk_vector(history)
        return without_styles(vector, history.preferences.avoid_styles)

    def _shrunk_vector(self, history: UserHistory) -> np.ndarray:
        evidence = self._evidence(history)
        stated = history.preferences
        if evidence.magnitude == 0 and not stated.shape_the_prior:
            return self.prior_vector
        kappa = self.kappa
        prior_styles = self.prior_styles
        if stated.styles:
            chosen = style_weights_from_mapping(dict.fromkeys(stated.styles, 1.0))
            prior_styles = _positive_simplex(prior_styles + self.preference_strength * chosen)
        raw = (evidence.styles + kappa * prior_styles) / (evidence.magnitude + kappa)
        styles = _positive_simplex(raw)
        attribute_prior = self._attribute_prior(styles)
        if stated.tempo_bpm_range is not None:
            target = normalize_tempo(float(np.mean(stated.tempo_bpm_range)))
            attribute_prior[_TEMPO] = (
                attribute_prior[_TEMPO] + self.preference_strength * target
            ) / (1.0 + self.preference_strength)
        attributes = (evidence.attribute_sum + kappa * attribute_prior) / (
            evidence.attribute_weight + kappa
        )
        return compose_vector(
            styles.astype(np.float32), np.clip(attributes, 0.0, 1.0).astype(np.float32)
        )

    def conditioning_vectors(self, histories: Sequence[UserHistory]) -> np.ndarray:
        return np.stack([self.conditioning_vector(history) for history in histories])

    @staticmethod
    def explain(vector: np.ndarray, limit: int = 3) -> dict[str, float]:
        """``{style: weight}`` of the dominant styles, for ``taste.styles``."""
        return top_styles(vector, limit)

    def _attribute_prior(self, styles: np.ndarray) -> np.ndarray:
        if self.attribute_model is None:
            return np.array(self.prior_attributes, dtype=float)
        return np.clip(self.attribute_model.predict(styles[None, :])[0], 0.0, 1.0)

    def _moment_matched_kappa(self, user_styles: np.ndarray) -> float:
        """Dirichlet precision from the spread of users' tastes: Var = m(1-m)/(kappa+1)."""
        mean = user_styles.mean(axis=0)
        variance = user_styles.var(axis=0)
        useful = variance > 1e-9
        if not useful.any() or len(user_styles) < 2:
            return self.max_kappa
        ratio = np.median(mean[useful] * (1 - mean[useful]) / variance[useful]) - 1.0
        return float(np.clip(ratio, self.min_kappa, self.max_kappa))

    def _track_weights(self, history: UserHistory) -> tuple[np.ndarray, np.ndarray]:
        """Signed evidence per distinct track of the history."""
        listens = history.listens
        duration = np.maximum(np.asarray(listens.duration_ms, dtype=float), 1.0)
        completion = np.clip(np.asarray(listens.ms_played, dtype=float) / duration, 0.0, 1.0)
        age_days = np.maximum(0.0, (self.now - np.asarray(listens.listened_at, float)))
        recency = 0.5 ** (age_days / _SECONDS_PER_DAY / self.half_life_days)
        skipped = np.asarray(listens.skipped, dtype=bool)
        per_listen = np.where(skipped, -self.skip_weight, completion) * recency
        tracks = np.concatenate([listens.track_index, history.feedback.track_index]).astype(int)
        if tracks.size == 0:
            return tracks, np.zeros(0)
        unique, inverse = np.unique(tracks, return_inverse=True)
        listened = np.bincount(inverse[: len(per_listen)], per_listen, minlength=len(unique))
        repeats_damped = np.sign(listened) * np.log1p(np.abs(listened))
        feedback = np.bincount(
            inverse[len(per_listen) :],
            self.feedback_weight * np.sign(np.asarray(history.feedback.score, dtype=float)),
            minlength=len(unique),
        )
        return unique, repeats_damped + feedback

    def _evidence(self, history: UserHistory) -> Evidence:
        """What the person did: listens and feedback (stated preferences shape the prior)."""
        tracks, weights = self._track_weights(history)
        vectors = self._vectors_of(tracks, history.newer_track_vectors)
        weights = np.where(vectors.any(axis=1), weights, 0.0)  # no style vector, no evidence
        styles, attributes = _split(vectors)
        style_evidence = weights @ styles if tracks.size else np.zeros(STYLE_DIM)
        positive = np.maximum(weights, 0.0)
        attribute_sum = positive @ attributes if tracks.size else np.zeros(len(ATTRIBUTES))
        attribute_weight = np.full(len(ATTRIBUTES), positive.sum())
        magnitude = float(np.abs(weights).sum())
        return Evidence(style_evidence, magnitude, attribute_sum, attribute_weight)

    def _vectors_of(self, tracks: np.ndarray, newer_track_vectors: np.ndarray) -> np.ndarray:
        known = len(self.track_vectors)
        vectors = np.zeros((len(tracks), VECTOR_DIM), dtype=np.float32)
        inside = tracks < known
        vectors[inside] = self.track_vectors[tracks[inside]]
        vectors[~inside] = np.asarray(newer_track_vectors)[tracks[~inside] - known]
        return vectors


def without_styles(vector: np.ndarray, avoided: Sequence[str]) -> np.ndarray:
    """``vector`` with the ``avoided`` styles' weight given to the others (unchanged when
    every style with weight is avoided: there is nothing to give it to)."""
    styles, attributes = split_vector(vector)
    kept = styles * np.array([style not in avoided for style in STYLES])
    if kept.sum() <= 0:
        return vector
    return compose_vector((kept / kept.sum()).astype(np.float32), attributes)


def _split(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return vectors[:, :STYLE_DIM], vectors[:, STYLE_DIM:]


def _positive_simplex(values: np.ndarray) -> np.ndarray:
    clipped = np.maximum(np.asarray(values, dtype=float), 0.0)
    total = clipped.sum()
    return clipped / total if total > 0 else np.full(len(clipped), 1.0 / len(clipped))


def _attribute_mean(evidence: Evidence, fallback: np.ndarray) -> np.ndarray:
    known = evidence.attribute_weight > 0
    means = evidence.attribute_sum / np.maximum(evidence.attribute_weight, 1e-12)
    return np.where(known, means, fallback)


def _latest_listen(histories: Sequence[UserHistory]) -> float:
    stamps = [float(np.max(h.listens.listened_at)) for h in histories if h.listens.listened_at.size]
    return max(stamps, default=0.0)
