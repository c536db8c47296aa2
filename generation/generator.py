"""The generator as a served artifact: checkpoint + novelty index, and its training data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from django.conf import settings

from artifacts.models import ModelArtifact
from artifacts.services import (
    ArtifactUnavailable,
    LoadedArtifact,
    health,
    load_active,
    register_artifact,
)
from catalog.midi.corpus import evenly_spaced
from catalog.models import Track
from catalog.selectors import labelled_tracks_by_style
from generation.ml.data import SegmentDataset, TrainingPiece, build_dataset
from generation.ml.evaluation import NoveltyIndex, note_sequences
from generation.ml.models import TokenModel
from generation.ml.training import (
    GUIDANCE_KEY,
    LATENT_PRIOR_KEY,
    TOP_P_KEY,
    CheckpointError,
    load_model,
    read_checkpoint,
)

GENERATOR_KIND = "generator"
NO_TRAINING_PIECES = "no labelled catalog tracks with MIDI: run import_corpus first"
SHIPPED = "shipped"
NOVELTY_KEY = "novelty_sequences"


@dataclass
class Generator:
    model: TokenModel
    metadata: dict[str, Any]
    novelty: NoveltyIndex

    @property
    def version(self) -> str:
        return str(self.metadata["model_version"])


def load_generator(path: Path) -> Generator:
    model, metadata = load_model(path)
    return Generator(model=model, metadata=metadata, novelty=_novelty_index(path))


def active_generator() -> LoadedArtifact[Generator]:
    return load_active(GENERATOR_KIND, load_generator)


def generator_from(checkpoint: Path | None) -> Generator:
    """The generator in ``checkpoint``, or the active one; ``GeneratorUnavailable`` if none."""
    try:
        return load_generator(checkpoint) if checkpoint else active_generator().model
    except (ArtifactUnavailable, CheckpointError, OSError, ValueError) as exc:
        raise GeneratorUnavailable(str(exc)) from exc


class GeneratorUnavailable(RuntimeError):
    pass


def generator_health() -> str:
    return health(GENERATOR_KIND, load_generator)


def attach_novelty_index(checkpoint_path: Path, training_grids: list[np.ndarray]) -> None:
    """Store the training pieces' note sequences inside the checkpoint, so that every
    worker can check generated music for copies without the training data at hand."""
    sequences = [s for grid in training_grids for s in note_sequences(grid)]
    checkpoint = read_checkpoint(checkpoint_path)
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    flat = np.concatenate(sequences) if sequences else np.zeros(0, dtype=np.uint64)
    checkpoint[NOVELTY_KEY] = {
        "values": torch.from_numpy(flat.astype(np.int64)),
        "lengths": torch.from_numpy(lengths),
    }
    partial = checkpoint_path.with_name(checkpoint_path.name + ".partial")
    torch.save(checkpoint, partial)
    partial.replace(checkpoint_path)


def _novelty_index(path: Path) -> NoveltyIndex:
    stored = read_checkpoint(path).get(NOVELTY_KEY)
    if stored is None:
        raise CheckpointError(f"{path} has no novelty index: train it with train_generator")
    values = stored["values"].numpy().astype(np.uint64)
    offsets = np.cumsum(stored["lengths"].numpy())[:-1]
    index = NoveltyIndex([])
    index.sequences = list(np.split(values, offsets)) if values.size else []
    return index


def training_pieces(
    *, styles: list[str] | None = None, limit_per_style: int | None = None
) -> list[TrainingPiece]:
    """The catalog's labelled public tracks with MIDI, as the generator's training data.

    With ``limit_per_style``, each style's pieces are taken evenly spaced from its tracks in
    ``source_id`` order, so that every collection of a style contributes and the choice does
    not depend on the order in which the catalog was imported.
    """
    tracks = Track.objects.filter(is_public=True).exclude(midi="")
    if styles:
        tracks = tracks.filter(style_label__in=styles)
    chosen: list[Track] = []
    for style_tracks in labelled_tracks_by_style(tracks).values():
        cap = len(style_tracks) if limit_per_style is None else limit_per_style
        chosen.extend(evenly_spaced(style_tracks, cap))
    return [
        TrainingPiece(
            piece_id=track.source_id or f"track-{track.pk}",
            midi_path=Path(track.midi.path),
            condition=np.asarray(track.style_vector, dtype=np.float32),
            style=track.style_label,
        )
        for track in chosen
    ]


def generator_work_dir() -> Path:
    """Training runs and the segment cache (``cache/``) of the generator commands."""
    return Path(settings.MODEL_ROOT) / "generator-training"


def training_dataset(pieces: list[TrainingPiece]) -> SegmentDataset:
    """The segments of ``pieces``, read from the cache when they were built before."""
    if not pieces:
        raise GeneratorUnavailable(NO_TRAINING_PIECES)
    return build_dataset(pieces, cache_dir=generator_work_dir() / "cache")


def register_checkpoint(
    path: Path, source: str | None = None, extra_metrics: dict[str, float] | None = None
) -> ModelArtifact:
    """Register and activate a generator checkpoint as the version it names, with the metrics,
    hyperparameters and data summary it carries (plus ``extra_metrics``, e.g. wall time);
    ``source`` (e.g. :data:`SHIPPED`) says where it came from."""
    metadata = read_checkpoint(path)
    prior = metadata.get(LATENT_PRIOR_KEY)
    return register_artifact(
        kind=GENERATOR_KIND,
        source=path,
        loader=load_generator,
        metrics={**metadata.get("metrics", {}), **(extra_metrics or {})},
        hyperparameters={
            "model": metadata.get("model_config", {}),
            "training": metadata.get("training_config", {}),
            "latent_prior": None if prior is None else dict(prior["fitted_on"]),
            "sampling_guidance": metadata.get(GUIDANCE_KEY, 1.0),
            "sampling_top_p": metadata.get(TOP_P_KEY, 1.0),
            "source": source,
        },
        data_summary=dict(metadata.get("data_summary", {})),
        version=str(metadata["model_version"]),
    )


def is_shipped(artifact: ModelArtifact) -> bool:
    """Whether ``artifact`` was registered from a checkpoint shipped in the repository."""
    return artifact.hyperparameters.get("source") == SHIPPED


def registered_artifact_at(path: Path) -> ModelArtifact | None:
    """The registered generator whose stored file is ``path``, if any: such a file must not
    change, since the registry checks its checksum before serving it."""
    root = Path(settings.MODEL_ROOT).resolve()
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(root):
        return None
    relative = str(resolved.relative_to(root))
    return ModelArtifact.objects.filter(kind=GENERATOR_KIND, path=relative).first()
