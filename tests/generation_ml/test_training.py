from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
import torch

from catalog.midi.style_space import STYLES
from generation.ml import train_from_cache
from generation.ml.data import save_dataset
from generation.ml.models import ConditionalVAE, LSTMBaseline, build_model
from generation.ml.training import (
    GUIDANCE_KEY,
    LATENT_PRIOR_KEY,
    TOP_P_KEY,
    CheckpointError,
    TrainingConfig,
    attach_latent_prior,
    evaluate_loss,
    export_checkpoint,
    learning_rate_at,
    load_model,
    read_checkpoint,
    set_sampling,
    train,
)
from tests.generation_ml.conftest import TINY_CVAE, TINY_LSTM

# A constant rate: these runs are a few steps long, and resuming under a different epoch
# count must not move the schedule.
FAST = TrainingConfig(
    epochs=1,
    batch_size=4,
    learning_rate=3e-3,
    final_learning_rate_ratio=1.0,
    kl_warmup_steps=10,
    max_transpose=0,
    seed=3,
)


def _train(model, dataset, path, config=FAST):
    return train(model, dataset, dataset, config, path, progress=False)


@pytest.mark.parametrize(
    ("model_class", "config"), [(ConditionalVAE, TINY_CVAE), (LSTMBaseline, TINY_LSTM)]
)
def test_loss_falls_when_training_on_real_pieces(model_class, config, small_dataset, tmp_path):
    model = model_class(config)
    before = evaluate_loss(model, small_dataset, FAST)["valid_reconstruction"]
    result = _train(model, small_dataset, tmp_path / "run.pt", dataclasses.replace(FAST, epochs=6))
    after = evaluate_loss(result.model, small_dataset, FAST)["valid_reconstruction"]
    assert after < 0.7 * before
    losses = [entry["train_loss"] for entry in result.history]
    assert losses[-1] < losses[0]


def _tiny_cvae():
    return build_model("cvae", dataclasses.asdict(TINY_CVAE), seed=FAST.seed)


def test_training_is_deterministic_for_a_seed(small_dataset, tmp_path):
    first = _train(_tiny_cvae(), small_dataset, tmp_path / "a.pt")
    second = _train(_tiny_cvae(), small_dataset, tmp_path / "b.pt")
    assert first.model.version == second.model.version
    assert first.history[0]["train_loss"] == second.history[0]["train_loss"]


def test_an_interrupted_run_resumes_where_it_stopped(small_dataset, tmp_path):
    two_epochs = dataclasses.replace(FAST, epochs=2)
    straight = _train(_tiny_cvae(), small_dataset, tmp_path / "straight.pt", two_epochs)
    path = tmp_path / "resumed.pt"
    _train(_tiny_cvae(), small_dataset, path, FAST)
    resumed = _train(_tiny_cvae(), small_dataset, path, two_epochs)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[1]["train_loss"] == pytest.approx(straight.history[1]["train_loss"])


def test_an_unfinished_run_is_not_resumed_under_other_training_settings(small_dataset, tmp_path):
    path = tmp_path / "run.pt"
    _train(_tiny_cvae(), small_dataset, path, FAST)
    for changed in ({"kl_weight": 0.05}, {"style_balance": 1.0}):
        other = dataclasses.replace(FAST, epochs=2, **changed)
        with pytest.raises(CheckpointError, match=next(iter(changed))):
            _train(_tiny_cvae(), small_dataset, path, other)


def test_checkpoint_roundtrip_keeps_weights_and_metadata(small_dataset, tmp_path):
    result = _train(_tiny_cvae(), small_dataset, tmp_path / "run.pt")
    shipped = export_checkpoint(tmp_path / "run.pt", tmp_path / "shipped.pt")
    model, metadata = load_model(shipped)
    assert model.version == result.model.version
    assert metadata["model_kind"] == "cvae"
    assert metadata["metrics"]["valid_loss"] == result.best_metrics["valid_loss"]
    assert metadata["data_summary"]["train_segments"] == len(small_dataset)
    assert set(metadata["data_summary"]["pieces_per_style"]) == set(small_dataset.styles)
    assert metadata["training_config"]["seed"] == FAST.seed
    assert metadata["created_at"]
    assert "resume" not in read_checkpoint(shipped)
    assert shipped.stat().st_size < (tmp_path / "run.pt").stat().st_size
    tokens = torch.from_numpy(small_dataset.tokens[:2])
    conditions = torch.from_numpy(small_dataset.conditions[:2])
    torch.testing.assert_close(
        model.teacher_forced_logits(tokens, conditions),
        result.model.teacher_forced_logits(tokens, conditions),
    )


def test_missing_and_corrupt_checkpoints_raise_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "absent.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not a generator checkpoint"):
        load_model(foreign)


def test_a_truncated_checkpoint_is_corrupt(small_dataset, tmp_path):
    path = tmp_path / "run.pt"
    _train(build_model("lstm", dataclasses.asdict(TINY_LSTM)), small_dataset, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(path)


def test_learning_rate_anneals_from_the_base_rate_to_the_floor_along_a_cosine():
    config = TrainingConfig(learning_rate=1e-3, final_learning_rate_ratio=0.1)
    rates = [learning_rate_at(step, 100, config) for step in range(0, 101, 10)]
    assert rates[0] == pytest.approx(1e-3)
    assert rates[5] == pytest.approx(0.55e-3)  # halfway: the mean of base and floor
    assert rates[-1] == pytest.approx(1e-4)
    assert all(later < earlier for earlier, later in itertools.pairwise(rates))
    assert learning_rate_at(500, 100, config) == pytest.approx(1e-4)  # stays at the floor
    constant = TrainingConfig(learning_rate=1e-3, final_learning_rate_ratio=1.0)
    assert learning_rate_at(50, 100, constant) == pytest.approx(1e-3)


def test_training_from_a_dataset_cache_exports_a_loadable_checkpoint(
    small_dataset, tmp_path, capsys
):
    cache = tmp_path / "segments.npz"
    save_dataset(small_dataset, cache)
    out = tmp_path / "lstm.pt"
    arguments = ["--cache", cache, "--variant", "lstm", "--epochs", 1, "--work", tmp_path]
    train_from_cache.main([str(argument) for argument in [*arguments, "--out", out]])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    model, metadata = load_model(out)
    assert model.kind == "lstm" and summary["version"] == model.version
    assert summary["epochs"] == 1 and summary["device"] == "cpu"
    assert metadata["data_summary"]["train_segments"] == len(small_dataset.subset("train"))


def test_a_cvae_checkpoint_carries_a_prior_fitted_to_its_training_codes(small_dataset, tmp_path):
    result = _train(_tiny_cvae(), small_dataset, tmp_path / "run.pt")
    shipped = export_checkpoint(tmp_path / "run.pt", tmp_path / "shipped.pt")
    weights_only = result.model.version
    version = attach_latent_prior(shipped, result.model, small_dataset, components=2)
    assert version != weights_only and result.model.version == version
    model, metadata = load_model(shipped)
    assert model.version == version
    assert metadata[LATENT_PRIOR_KEY]["fitted_on"]["train_segments"] == len(small_dataset)
    torch.testing.assert_close(model.latent_prior.means, result.model.latent_prior.means)

    styles, counts = np.unique(small_dataset.segment_styles.astype(str), return_counts=True)
    fitted = {STYLES.index(style) for style, count in zip(styles, counts, strict=True) if count > 1}
    assert fitted
    prior = model.latent_prior
    for row, (weights, means) in enumerate(zip(prior.weights, prior.means, strict=True)):
        if row in fitted:  # a mixture over that style's codes
            assert means[weights > 0].abs().sum() > 0
        else:  # no (or a single) segment of that style: the standard normal
            assert weights.tolist()[0] == 1.0 and not means.any()

    conditions = torch.from_numpy(small_dataset.conditions[:4])
    with_prior = model.sample(conditions, generator=torch.Generator().manual_seed(0))
    model.latent_prior = None
    standard = model.sample(conditions, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(with_prior, standard)


def test_a_prior_is_refused_for_the_lstm_and_for_other_weights(small_dataset, tmp_path):
    lstm_path = tmp_path / "lstm.pt"
    lstm = _train(build_model("lstm", dataclasses.asdict(TINY_LSTM)), small_dataset, lstm_path)
    with pytest.raises(CheckpointError, match="not a CVAE"):
        attach_latent_prior(lstm_path, lstm.model, small_dataset)
    cvae_path = tmp_path / "cvae.pt"
    _train(_tiny_cvae(), small_dataset, cvae_path)
    with pytest.raises(CheckpointError, match="other weights"):
        attach_latent_prior(
            cvae_path, build_model("cvae", dataclasses.asdict(TINY_CVAE)), small_dataset
        )


def test_a_stored_prior_that_does_not_fit_the_model_is_a_checkpoint_error(small_dataset, tmp_path):
    result = _train(_tiny_cvae(), small_dataset, tmp_path / "run.pt")
    path = export_checkpoint(tmp_path / "run.pt", tmp_path / "shipped.pt")
    attach_latent_prior(path, result.model, small_dataset, components=2)
    checkpoint = read_checkpoint(path)
    for broken in (torch.zeros(7, 2, TINY_CVAE.latent_dim + 1), [0.0, 1.0], None):
        checkpoint[LATENT_PRIOR_KEY]["state"]["means"] = broken
        torch.save(checkpoint, path)
        with pytest.raises(CheckpointError, match="latent prior"):
            load_model(path)


def test_a_checkpoint_from_before_the_held_note_inputs_loads_as_it_was_trained(
    small_dataset, tmp_path
):
    legacy = dataclasses.replace(TINY_CVAE, held_pitch_input=False, held_duration_input=False)
    result = _train(
        build_model("cvae", dataclasses.asdict(legacy)), small_dataset, tmp_path / "a.pt"
    )
    checkpoint = read_checkpoint(tmp_path / "a.pt")
    for field in ("held_pitch_input", "held_duration_input"):  # as written before they existed
        del checkpoint["model_config"][field]
    torch.save(checkpoint, tmp_path / "a.pt")
    model, _ = load_model(tmp_path / "a.pt")
    assert (model.config.held_pitch_input, model.config.held_duration_input) == (False, False)
    conditions = torch.from_numpy(small_dataset.conditions[:2])
    z = torch.zeros(2, TINY_CVAE.latent_dim)
    assert torch.equal(model.decode(z, conditions, 2, 0), result.model.decode(z, conditions, 2, 0))


def test_a_checkpoint_carries_its_sampling_guidance_in_its_version(small_dataset, tmp_path):
    config = dataclasses.replace(TINY_CVAE, condition_dropout=0.2)
    result = _train(
        build_model("cvae", dataclasses.asdict(config), seed=FAST.seed),
        small_dataset,
        tmp_path / "run.pt",
    )
    shipped = export_checkpoint(tmp_path / "run.pt", tmp_path / "shipped.pt")
    plain = attach_latent_prior(shipped, result.model, small_dataset, components=2)
    guided = set_sampling(shipped, result.model, guidance=2.5)
    assert guided != plain
    model, metadata = load_model(shipped)
    assert (model.guidance, model.version, metadata[GUIDANCE_KEY]) == (2.5, guided, 2.5)
    conditions = torch.from_numpy(small_dataset.conditions[:3])
    written = model.sample(conditions, generator=torch.Generator().manual_seed(0))
    model.guidance = 1.0
    assert not torch.equal(
        written, model.sample(conditions, generator=torch.Generator().manual_seed(0))
    )
    # The prior refitted under a stored guidance keeps it; guidance 1 is the unguided version.
    assert attach_latent_prior(shipped, result.model, small_dataset, components=2) == guided
    assert set_sampling(shipped, result.model, guidance=1.0) == plain


def test_guidance_is_refused_for_a_model_trained_without_condition_dropout(small_dataset, tmp_path):
    result = _train(_tiny_cvae(), small_dataset, tmp_path / "run.pt")
    before = (tmp_path / "run.pt").read_bytes()
    with pytest.raises(ValueError, match="condition_dropout"):
        set_sampling(tmp_path / "run.pt", result.model, guidance=2.0)
    assert (tmp_path / "run.pt").read_bytes() == before and result.model.guidance == 1.0
    checkpoint = read_checkpoint(tmp_path / "run.pt")
    checkpoint[GUIDANCE_KEY] = 2.0
    torch.save(checkpoint, tmp_path / "forged.pt")
    with pytest.raises(CheckpointError, match="sampling guidance its model cannot use"):
        load_model(tmp_path / "forged.pt")


def test_a_checkpoint_carries_its_sampling_nucleus_in_its_version(small_dataset, tmp_path):
    result = _train(
        build_model("lstm", dataclasses.asdict(TINY_LSTM)), small_dataset, tmp_path / "a.pt"
    )
    shipped = export_checkpoint(tmp_path / "a.pt", tmp_path / "shipped.pt")
    plain = load_model(shipped)[0].version
    nucleus = set_sampling(shipped, result.model, top_p=0.9)
    model, metadata = load_model(shipped)
    assert (model.top_p, model.version, metadata[TOP_P_KEY]) == (0.9, nucleus, 0.9) != plain
    assert set_sampling(shipped, result.model, top_p=1.0) == plain
    before = shipped.read_bytes()
    for refused in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="top_p must be above 0 and at most 1"):
            set_sampling(shipped, result.model, top_p=refused)
    with pytest.raises(ValueError, match="'lstm' model is not sampled with guidance"):
        set_sampling(shipped, result.model, guidance=2.0)
    assert shipped.read_bytes() == before
    checkpoint = read_checkpoint(shipped)
    for forged in (0.0, "0.9", 2.0):
        checkpoint[TOP_P_KEY] = forged
        torch.save(checkpoint, tmp_path / "forged.pt")
        with pytest.raises(CheckpointError, match="unreadable sampling nucleus"):
            load_model(tmp_path / "forged.pt")
