"""A scikit-learn style classifier over MIDI features, saved as a versioned artifact.

Tracks without a style label get their style weights from :meth:`StyleClassifier.style_weights`.
Held-out metrics are measured on a stratified split before the final model is refitted on
all the data, and they travel with the artifact.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from catalog.midi.features import MidiFeatures, numeric_features
from catalog.midi.style_space import STYLE_DIM, STYLES

ARTIFACT_FORMAT = 1
MIN_SAMPLES_PER_STYLE = 2


class ClassifierArtifactError(RuntimeError):
    """A saved classifier that is missing, corrupt or built for other features."""


@dataclass(frozen=True)
class ClassifierMetrics:
    accuracy: float
    balanced_accuracy: float
    labels: list[str]
    confusion_matrix: list[list[int]]  # rows: true style, columns: predicted, order: labels
    train_size: int
    test_size: int
    # Held-out excerpts (windows of held-out pieces), when the training data had them.
    excerpt_accuracy: float | None = None
    excerpt_test_size: int = 0

    def format_confusion_matrix(self) -> str:
        width = max(len(label) for label in self.labels) + 1
        header = " " * width + "".join(f"{label[:10]:>11}" for label in self.labels)
        rows = [
            f"{label:<{width}}" + "".join(f"{count:>11}" for count in row)
            for label, row in zip(self.labels, self.confusion_matrix, strict=True)
        ]
        return "\n".join([header, *rows])


@dataclass(frozen=True)
class TrainingConfig:
    test_size: float = 0.2
    seed: int = 0
    max_iter: int = 300
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31


@dataclass
class StyleClassifier:
    pipeline: Pipeline
    feature_names: tuple[str, ...]
    metrics: ClassifierMetrics
    config: TrainingConfig
    training_data: dict[str, Any]
    version: str
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def styles(self) -> tuple[str, ...]:
        return tuple(str(label) for label in self.pipeline.classes_)

    def predict(self, features: Sequence[MidiFeatures]) -> list[str]:
        return [str(label) for label in self.pipeline.predict(_matrix(features))]

    def style_weights(self, features: Sequence[MidiFeatures]) -> np.ndarray:
        """Class probabilities as style-space weights: shape ``(n, STYLE_DIM)``, rows sum to 1."""
        probabilities = self.pipeline.predict_proba(_matrix(features))
        weights = np.zeros((len(features), STYLE_DIM), dtype=np.float32)
        for column, style in enumerate(self.styles):
            weights[:, STYLES.index(style)] = probabilities[:, column]
        return weights

    def describe(self) -> dict[str, Any]:
        """Everything about the artifact except the fitted model, JSON-friendly."""
        return {
            "format": ARTIFACT_FORMAT,
            "version": self.version,
            "created_at": self.created_at,
            "styles": list(self.styles),
            "feature_names": list(self.feature_names),
            "metrics": asdict(self.metrics),
            "config": asdict(self.config),
            "training_data": self.training_data,
        }

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        joblib.dump({"description": self.describe(), "pipeline": self.pipeline}, temporary)
        temporary.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> StyleClassifier:
        if not path.is_file():
            raise ClassifierArtifactError(f"no style classifier artifact at {path}")
        try:
            stored = joblib.load(path)
            description, pipeline = stored["description"], stored["pipeline"]
        except Exception as error:  # unpickling can fail in many ways; all mean "corrupt"
            raise ClassifierArtifactError(f"corrupt style classifier artifact {path}") from error
        if description.get("format") != ARTIFACT_FORMAT:
            raise ClassifierArtifactError(
                f"{path} has artifact format {description.get('format')}, "
                f"this code reads {ARTIFACT_FORMAT}"
            )
        return cls(
            pipeline=pipeline,
            feature_names=tuple(description["feature_names"]),
            metrics=ClassifierMetrics(**description["metrics"]),
            config=TrainingConfig(**description["config"]),
            training_data=description["training_data"],
            version=description["version"],
            created_at=description["created_at"],
        )


def _matrix(features: Sequence[MidiFeatures]) -> np.ndarray:
    return np.vstack([item.to_array() for item in features])


def _pipeline(config: TrainingConfig, sample_count: int) -> Pipeline:
    # Scaling does not change the trees, but keeps the pipeline swappable for linear models.
    # Leaves shrink with the data so that a small catalog can still be split at all.
    min_samples_leaf = max(1, min(20, sample_count // 40))
    return Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "model",
                HistGradientBoostingClassifier(
                    max_iter=config.max_iter,
                    learning_rate=config.learning_rate,
                    max_leaf_nodes=config.max_leaf_nodes,
                    min_samples_leaf=min_samples_leaf,
                    class_weight="balanced",
                    random_state=config.seed,
                ),
            ),
        ]
    )


def train_style_classifier(
    features: Sequence[MidiFeatures],
    labels: Sequence[str],
    *,
    pieces: Sequence[str] | None = None,
    is_excerpt: Sequence[bool] | None = None,
    config: TrainingConfig = TrainingConfig(),
    data_description: str = "",
) -> StyleClassifier:
    """Measure on a held-out stratified split, then refit on everything.

    ``pieces`` names the piece each sample comes from (default: every sample its own piece);
    the split keeps a piece and its excerpts (``is_excerpt``) on one side, so held-out
    accuracy is measured on music the model has not heard any part of. ``accuracy`` counts
    whole pieces; ``excerpt_accuracy`` the held-out excerpts.
    """
    counts = collections.Counter(labels)
    unknown = sorted(set(counts) - set(STYLES))
    if unknown:
        raise ValueError(f"labels {unknown} are not styles of the style space")
    too_few = sorted(style for style, count in counts.items() if count < MIN_SAMPLES_PER_STYLE)
    if too_few or len(counts) < 2:
        raise ValueError(
            f"need at least two styles with {MIN_SAMPLES_PER_STYLE}+ examples each; "
            f"got {dict(counts)}"
        )
    matrix = _matrix(features)
    targets = np.asarray(labels)
    excerpt = np.zeros(len(targets), bool) if is_excerpt is None else np.asarray(is_excerpt)
    held_out = _held_out_mask(targets, pieces, config)
    evaluation_model = _pipeline(config, int((~held_out).sum())).fit(
        matrix[~held_out], targets[~held_out]
    )
    metrics = evaluate(
        evaluation_model,
        matrix[held_out & ~excerpt],
        targets[held_out & ~excerpt],
        train_size=int((~held_out).sum()),
    )
    excerpt_test = held_out & excerpt
    if excerpt_test.any():
        predicted = evaluation_model.predict(matrix[excerpt_test])
        accuracy = round(float(accuracy_score(targets[excerpt_test], predicted)), 4)
        metrics = replace(
            metrics, excerpt_accuracy=accuracy, excerpt_test_size=int(excerpt_test.sum())
        )
    final_model = _pipeline(config, len(targets)).fit(matrix, targets)
    return StyleClassifier(
        pipeline=final_model,
        feature_names=tuple(numeric_features(features[0])),
        metrics=metrics,
        config=config,
        training_data={
            "samples": len(targets),
            "excerpts": int(excerpt.sum()),
            "per_style": dict(sorted(counts.items())),
            "description": data_description,
        },
        version=datetime.now(UTC).strftime("style-%Y%m%dT%H%M%S%fZ"),
    )


def _held_out_mask(
    targets: np.ndarray, pieces: Sequence[str] | None, config: TrainingConfig
) -> np.ndarray:
    """Samples of a stratified random choice of ``config.test_size`` of the pieces."""
    piece_ids = np.arange(len(targets)).astype(str) if pieces is None else np.asarray(pieces)
    unique_pieces, first = np.unique(piece_ids, return_index=True)
    piece_labels = targets[first]
    piece_counts = collections.Counter(piece_labels.tolist())
    _, test_pieces = train_test_split(
        unique_pieces,
        test_size=config.test_size,
        random_state=config.seed,
        stratify=piece_labels if min(piece_counts.values()) * config.test_size >= 1 else None,
    )
    return np.isin(piece_ids, test_pieces)


def evaluate(
    model: Pipeline, test_x: np.ndarray, test_y: np.ndarray, *, train_size: int
) -> ClassifierMetrics:
    predicted = model.predict(test_x)
    labels = [style for style in STYLES if style in set(test_y) | set(predicted)]
    return ClassifierMetrics(
        accuracy=round(float(accuracy_score(test_y, predicted)), 4),
        balanced_accuracy=round(float(balanced_accuracy_score(test_y, predicted)), 4),
        labels=labels,
        confusion_matrix=confusion_matrix(test_y, predicted, labels=labels).tolist(),
        train_size=train_size,
        test_size=len(test_y),
    )
