"""Single-file model artifacts: the fitted model plus its metadata.

An artifact is a joblib file holding ``{"format": ARTIFACT_FORMAT, "model": ..., "metadata":
{...}}``. The metadata records the version, metrics, hyperparameters, a summary of the training
data and the creation time, so a stored model always says what it is and what it saw.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

ARTIFACT_FORMAT = "musicsite.recommender.v2"  # v2: the blend gained latent factors


class ArtifactError(Exception):
    """A model artifact is missing, unreadable, or not one of ours."""


def save_artifact(
    model: object,
    path: str | Path,
    *,
    version: str,
    metrics: dict[str, Any] | None = None,
    hyperparameters: dict[str, Any] | None = None,
    data_summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``model`` and its metadata to ``path`` atomically; return the metadata."""
    path = Path(path)
    metadata = {
        "version": version,
        "model_class": type(model).__name__,
        "metrics": metrics or {},
        "hyperparameters": hyperparameters or {},
        "data_summary": data_summary or {},
        "created_at": datetime.now(UTC).isoformat(),
    }
    partial = path.with_name(path.name + ".partial")
    joblib.dump({"format": ARTIFACT_FORMAT, "model": model, "metadata": metadata}, partial)
    partial.replace(path)
    return metadata


def load_artifact(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Read ``(model, metadata)``; raise :class:`ArtifactError` on any missing or bad file."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"model artifact {path} does not exist")
    try:
        payload = joblib.load(path)
    except Exception as error:  # joblib/pickle raise many types on a damaged file
        raise ArtifactError(f"model artifact {path} is corrupt: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"{path} is not a {ARTIFACT_FORMAT} artifact")
    return payload["model"], payload["metadata"]
