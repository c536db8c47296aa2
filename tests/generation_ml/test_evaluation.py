from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from generation.ml.data import PITCH_OFFSET, REST, midi_to_grid
from generation.ml.evaluation import (
    FEATURES,
    NOVELTY_THRESHOLD,
    NoveltyIndex,
    evaluate_models,
    is_novel,
    musical_features,
    note_sequences,
    overlapping_area,
    style_conditions,
)
from generation.ml.models import ConditionalVAE, LSTMBaseline
from tests.generation_ml.conftest import TINY_CVAE, TINY_LSTM


@pytest.fixture(scope="module")
def training_grids(real_pieces):
    return {piece.piece_id: midi_to_grid(piece.midi_path) for piece in real_pieces}


def _shuffled_notes(grid: np.ndarray, seed: int) -> np.ndarray:
    """The same notes (each with the rest after it) of each voice in a random order."""
    rng = np.random.default_rng(seed)
    shuffled = np.full_like(grid, REST)
    for voice, row in enumerate(grid):
        starts = np.flatnonzero(row >= PITCH_OFFSET)
        if not starts.size:
            continue
        notes = np.split(row[starts[0] :], starts[1:] - starts[0])
        order = rng.permutation(len(notes))
        shuffled[voice, : len(row) - starts[0]] = np.concatenate([notes[i] for i in order])
    return shuffled


def test_novelty_flags_an_exact_copy_and_passes_a_shuffled_piece(training_grids):
    index = NoveltyIndex(training_grids.values())
    tune = training_grids["ryansMammoth/7thRegimentReel"]
    copy = tune[:, 64:512]
    assert index.longest_shared_run(copy) >= NOVELTY_THRESHOLD
    assert not is_novel(copy, index)
    shuffled = _shuffled_notes(tune, seed=0)
    assert sorted(map(len, note_sequences(shuffled))) == sorted(map(len, note_sequences(tune)))
    assert index.longest_shared_run(shuffled) < NOVELTY_THRESHOLD
    assert is_novel(shuffled, index)


def test_novelty_is_blind_to_transposition(training_grids):
    index = NoveltyIndex(training_grids.values())
    chorale = training_grids["bach/bwv66.6"]
    transposed = np.where(chorale >= PITCH_OFFSET, chorale + 3, chorale)
    assert index.longest_shared_run(transposed) == index.longest_shared_run(chorale)


def test_longest_shared_run_matches_a_brute_force_count(training_grids):
    tune = training_grids["ryansMammoth/7thRegimentReel"]
    other = training_grids["ryansMammoth/42dHighlandRegimentStrathspey"]
    index = NoveltyIndex([other])
    (a,), (b,) = note_sequences(tune[:1]), note_sequences(other[:1])
    brute = max(
        (k for i in range(len(a)) for j in range(len(b)) for k in [_common_run(a, b, i, j)]),
        default=0,
    )
    assert index.longest_shared_run(tune[:1]) == brute


def _common_run(a, b, i, j):
    length = 0
    while i + length < len(a) and j + length < len(b) and a[i + length] == b[j + length]:
        length += 1
    return length


def test_overlapping_area_of_same_and_disjoint_samples():
    rng = np.random.default_rng(0)
    sample = rng.normal(size=300)
    assert overlapping_area(sample, sample) == pytest.approx(1.0, abs=1e-3)
    assert overlapping_area(sample, rng.normal(size=300)) > 0.85
    assert overlapping_area(sample, sample + 20) < 0.01
    assert overlapping_area([2.0] * 10, [2.0] * 5) == pytest.approx(1.0, abs=1e-3)


def test_point_masses_overlap_by_their_shares():
    monophonic = [1.0] * 20
    mostly_monophonic = [1.0] * 24 + [1.02]
    assert overlapping_area(mostly_monophonic, monophonic, (1.0,)) == pytest.approx(0.96)
    # Smeared by kernel densities, the shared point mass would hardly count at all.
    assert overlapping_area(mostly_monophonic, monophonic) < 0.5
    rng = np.random.default_rng(1)
    half_silent = np.concatenate([np.zeros(50), rng.uniform(0.1, 0.5, 50)])
    never_silent = np.zeros(40)
    assert overlapping_area(half_silent, never_silent, (0.0,)) == pytest.approx(0.5)
    half_and_half = np.concatenate([np.zeros(50), rng.uniform(0.1, 0.5, 50)])
    assert overlapping_area(half_silent, half_and_half, (0.0,)) > 0.9
    assert overlapping_area(half_silent, half_silent + 3.0, (0.0,)) < 0.01


def test_features_tell_part_music_from_a_tune(training_grids):
    chorale = musical_features(training_grids["bach/bwv66.6"])
    tune = musical_features(training_grids["ryansMammoth/7thRegimentReel"])
    assert set(chorale) == set(FEATURES)
    assert chorale["polyphony"] > 3 > tune["polyphony"] == 1
    assert chorale["pitch_range"] > tune["pitch_range"]
    assert chorale["scale_consistency"] > 0.9 and tune["scale_consistency"] > 0.9
    silence = musical_features(np.zeros((4, 256), dtype=np.uint8))
    assert all(np.isnan(value) for value in silence.values())


def test_evaluate_models_side_by_side_is_json(small_dataset, training_grids):
    torch.manual_seed(0)
    models = {
        "cvae": ConditionalVAE(TINY_CVAE),
        "ablation": ConditionalVAE(dataclasses.replace(TINY_CVAE, use_condition=False)),
        "lstm": LSTMBaseline(TINY_LSTM),
    }
    report = evaluate_models(
        models,
        heldout=small_dataset,
        novelty_index=NoveltyIndex(training_grids.values()),
        conditions=style_conditions(small_dataset),
        classify=lambda midi: "chorale",
        samples_per_style=2,
    )
    decoded = json.loads(json.dumps(report))
    assert set(decoded["models"]) == set(models)
    for entry in decoded["models"].values():
        reconstruction = entry["reconstruction"]
        assert 0 <= reconstruction["teacher_forced_accuracy"] <= 1
        assert 0 <= reconstruction["free_running_accuracy"] <= 1
        assert reconstruction["elbo_per_segment"] < 0
        assert set(entry["features"]) == set(small_dataset.styles)
        assert entry["conditioning_fidelity"]["chorale"] == 1.0
        assert entry["conditioning_fidelity"]["fiddle"] == 0.0
        assert entry["novelty"]["copies"] == 0
    assert decoded["models"]["ablation"]["conditional"] is False


def test_reference_entry_scores_real_segments_as_if_they_were_samples(small_dataset):
    report = evaluate_models(
        {},
        heldout=small_dataset,
        novelty_index=NoveltyIndex([]),
        conditions=style_conditions(small_dataset),
        classify=lambda midi: "chorale",
        samples_per_style=4,
        training=small_dataset,
    )
    reference = report["reference"]
    # The same segments on both sides: every feature distribution overlaps itself fully.
    assert reference["mean_feature_overlap"] == pytest.approx(1.0, abs=1e-6)
    assert reference["conditioning_fidelity"]["chorale"] == 1.0
    assert reference["conditioning_fidelity"]["fiddle"] == 0.0


def test_a_style_without_held_out_music_is_reported_as_null_not_nan(small_dataset):
    conditions = style_conditions(small_dataset)
    absent = "madrigal"
    assert absent not in set(small_dataset.segment_styles)
    report = evaluate_models(
        {},
        heldout=small_dataset,
        novelty_index=NoveltyIndex([]),
        conditions={**conditions, absent: conditions["chorale"]},
        classify=lambda midi: "chorale",
        samples_per_style=2,
        training=small_dataset,
    )
    strict = json.loads(json.dumps(report, allow_nan=False))  # raises on NaN or infinity
    assert strict["reference"]["conditioning_fidelity"][absent] is None
    assert strict["reference"]["conditioning_fidelity"]["chorale"] == 1.0
    fidelity = strict["reference"]["conditioning_fidelity"]
    per_style = [fidelity[style] for style in conditions]  # the styles with held-out music
    assert fidelity["mean"] == pytest.approx(sum(per_style) / len(per_style))
