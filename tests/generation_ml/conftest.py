"""Real music for the generator tests: a few bundled music21 pieces written as MIDI."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from generation.ml.data import DataConfig, SegmentDataset, TrainingPiece, build_dataset
from generation.ml.models import CVAEConfig, LSTMConfig
from tests.generation_ml.music21_corpus import small_corpus

TINY_CVAE = CVAEConfig(
    embedding_dim=8,
    encoder_hidden=32,
    latent_dim=16,
    conductor_hidden=32,
    bar_embedding_dim=32,
    decoder_hidden=48,
    dropout=0.0,
)
TINY_LSTM = LSTMConfig(embedding_dim=8, hidden=48, layers=1, dropout=0.0)


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def real_pieces(tmp_path_factory: pytest.TempPathFactory) -> list[TrainingPiece]:
    return small_corpus(tmp_path_factory.mktemp("music21_midi"))


@pytest.fixture(scope="session")
def real_dataset(real_pieces: list[TrainingPiece]) -> SegmentDataset:
    return build_dataset(real_pieces, DataConfig())


@pytest.fixture(scope="session")
def small_dataset(real_dataset: SegmentDataset) -> SegmentDataset:
    """Every third segment (all three styles): enough to learn from, quick to train on."""
    chosen = slice(0, None, 3)
    return dataclasses.replace(
        real_dataset,
        tokens=real_dataset.tokens[chosen],
        conditions=real_dataset.conditions[chosen],
        piece_index=real_dataset.piece_index[chosen],
    )
