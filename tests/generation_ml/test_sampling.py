from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch

from catalog.midi.provenance import ai_label
from catalog.midi.style_space import STYLES, compose_vector, denormalize_tempo, one_hot_style
from generation.ml.data import HOLD, PITCH_OFFSET, REST, STEPS_PER_BAR, VOICES
from generation.ml.models import ConditionalVAE, LSTMBaseline
from generation.ml.sampling import (
    DEFAULT_TEMPERATURE,
    STYLE_INSTRUMENTS,
    filled_share,
    generate,
    grid_to_midi,
    interpolate,
    most_in_style,
    restyle,
    vary,
    with_style_instruments,
)
from generation.ml.training import load_model
from tests.generation_ml.conftest import TINY_CVAE, TINY_LSTM

SHIPPED_GENERATOR = Path(__file__).resolve().parents[2] / "models" / "generator" / "cvae-shipped.pt"
ATTRIBUTES = np.array([0.5, 0.3, 0.5, 0.5, 1.0], dtype=np.float32)
FIDDLE = compose_vector(one_hot_style("fiddle"), ATTRIBUTES)
CHORALE = compose_vector(one_hot_style("chorale"), ATTRIBUTES)


def _model(model_class, config, version="test-model"):
    torch.manual_seed(0)
    model = model_class(config).eval()
    model.version = version
    return model


def _notes(midi: pretty_midi.PrettyMIDI) -> list[tuple[int, float, float]]:
    return [(n.pitch, n.start, n.end) for i in midi.instruments for n in i.notes]


@pytest.mark.parametrize(
    ("model_class", "config"), [(ConditionalVAE, TINY_CVAE), (LSTMBaseline, TINY_LSTM)]
)
def test_generation_is_deterministic_for_a_seed(model_class, config):
    model = _model(model_class, config)
    first = generate(model, FIDDLE, bars=4, count=2, temperature=1.0, seed=11)
    again = generate(model, FIDDLE, bars=4, count=2, temperature=1.0, seed=11)
    other = generate(model, FIDDLE, bars=4, count=2, temperature=1.0, seed=12)
    assert [_notes(m) for m in first] == [_notes(m) for m in again]
    assert [_notes(m) for m in first] != [_notes(m) for m in other]
    assert _notes(first[0]) != _notes(first[1])


def test_generated_midi_parses_and_says_it_is_ai_generated(tmp_path):
    model = _model(ConditionalVAE, TINY_CVAE, version="cvae-0123abcd")
    (midi,) = generate(model, FIDDLE, bars=16, count=1, temperature=1.0, seed=5)
    path = tmp_path / "generated.mid"
    midi.write(str(path))
    parsed = pretty_midi.PrettyMIDI(str(path))
    assert ai_label(parsed) is not None
    (text,) = [event.text for event in parsed.text_events]
    assert "cvae-0123abcd" in text and "seed 5" in text
    assert _notes(parsed), "an untrained model still writes notes"
    assert {i.program for i in parsed.instruments} <= set(STYLE_INSTRUMENTS["fiddle"])
    assert parsed.get_tempo_changes()[1][0] == pytest.approx(denormalize_tempo(0.5), rel=1e-3)
    steps_per_second = denormalize_tempo(0.5) / 60 * 4
    assert parsed.get_end_time() <= 16 * 16 / steps_per_second + 1e-6


def _sounding_bars(grid: torch.Tensor) -> torch.Tensor:
    """Per bar of a (voice, step) grid, whether any voice plays in it."""
    return (grid.reshape(VOICES, -1, STEPS_PER_BAR) != REST).any(dim=2).any(dim=0)


def test_a_piece_longer_than_the_trained_segment_continues_the_segment_it_starts_with():
    model = _model(ConditionalVAE, TINY_CVAE)
    condition = torch.from_numpy(FIDDLE)[None]
    short = model.sample(condition, 16, 1.0, torch.Generator().manual_seed(3))
    long = model.sample(condition, 40, 1.0, torch.Generator().manual_seed(3))
    assert long.shape == (1, VOICES, 40 * STEPS_PER_BAR)
    last_sounding = int(torch.nonzero(_sounding_bars(short[0])).max()) + 1
    opening = last_sounding * STEPS_PER_BAR
    assert torch.equal(long[..., :opening], short[..., :opening])
    following = long[..., opening : opening + 16 * STEPS_PER_BAR]
    assert not torch.equal(following, short)  # it develops: the next segment is another one


def test_the_shipped_generator_fills_long_pieces_without_pausing_for_bars():
    """Its segments often fall silent before their 16 bars end; a chain leaves those bars out
    instead of pausing mid-piece, and goes on until the piece is full."""
    model, _ = load_model(SHIPPED_GENERATOR)
    conditions = torch.from_numpy(np.stack([FIDDLE, CHORALE]))
    pieces = model.eval().sample(
        conditions, 48, DEFAULT_TEMPERATURE, torch.Generator().manual_seed(7)
    )
    for grid in pieces:
        sounding = _sounding_bars(grid)
        assert sounding[-2:].any()  # it plays to the end
        silent_pairs = ~sounding[:-1] & ~sounding[1:]
        assert not silent_pairs[: int(torch.nonzero(sounding).max())].any()


def test_the_condition_steers_the_cvae_and_the_ablation_ignores_it():
    conditional = _model(ConditionalVAE, TINY_CVAE)
    ablation = _model(ConditionalVAE, dataclasses.replace(TINY_CVAE, use_condition=False))
    for model, should_differ in ((conditional, True), (ablation, False)):
        fiddle = generate(model, FIDDLE, bars=4, count=1, temperature=0.0, seed=1)[0]
        chorale = generate(model, CHORALE, bars=4, count=1, temperature=0.0, seed=1)[0]
        assert (_notes(fiddle) != _notes(chorale)) == should_differ


def test_vary_interpolate_and_restyle_write_ai_midi(real_pieces):
    model = _model(ConditionalVAE, TINY_CVAE)
    chorale = next(p for p in real_pieces if p.style == "chorale")
    tune = next(p for p in real_pieces if p.style == "fiddle")
    same = vary(model, chorale.midi_path, 0.0, seed=1, condition=chorale.condition)
    assert _notes(same) == _notes(vary(model, chorale.midi_path, 0.0, 2, chorale.condition))
    varied = vary(model, chorale.midi_path, 3.0, seed=1, condition=chorale.condition)
    assert _notes(varied) != _notes(same)
    path = interpolate(
        model, chorale.midi_path, tune.midi_path, 3, chorale.condition, tune.condition
    )
    assert len(path) == 3
    assert _notes(path[0]) == _notes(same)
    restyled = restyle(model, chorale.midi_path, tune.condition, chorale.condition)
    assert all(ai_label(m) is not None for m in [same, varied, *path, restyled])
    assert {i.program for i in restyled.instruments} <= set(STYLE_INSTRUMENTS["fiddle"])


def test_restyle_and_vary_follow_the_models_guidance(real_pieces):
    model = _model(ConditionalVAE, dataclasses.replace(TINY_CVAE, condition_dropout=0.2))
    chorale = next(p for p in real_pieces if p.style == "chorale")
    tune = next(p for p in real_pieces if p.style == "fiddle")

    def restyled(**guidance: float) -> list[tuple[int, float, float]]:
        return _notes(
            restyle(model, chorale.midi_path, tune.condition, chorale.condition, **guidance)
        )

    def varied() -> list[tuple[int, float, float]]:
        return _notes(vary(model, chorale.midi_path, 1.0, 3, chorale.condition, temperature=0.5))

    unguided, unguided_variation = restyled(), varied()
    assert restyled(guidance=4.0) != unguided
    model.guidance = 4.0
    assert restyled() == restyled(guidance=4.0)
    assert restyled(guidance=1.0) == unguided
    assert varied() != unguided_variation


def test_latent_operations_refuse_the_lstm(real_pieces):
    piece = real_pieces[0]
    with pytest.raises(TypeError, match="conditional VAE"):
        vary(_model(LSTMBaseline, TINY_LSTM), piece.midi_path, 1.0, 0, piece.condition)


def test_filled_share_measures_where_the_music_stops_against_the_bars_asked_for():
    condition = compose_vector(one_hot_style("fiddle"), np.full(5, 0.5, dtype=np.float32))
    grid = np.full((VOICES, 8 * STEPS_PER_BAR), REST, dtype=np.int64)
    grid[0, 0] = PITCH_OFFSET + 30
    grid[0, 1 : 2 * STEPS_PER_BAR] = HOLD  # one note lasting two bars, then rests
    midi = grid_to_midi(grid, condition, "test", seed=1)
    assert filled_share(midi, 8) == pytest.approx(0.25)
    assert filled_share(midi, 2) == pytest.approx(1.0)


def test_a_piece_takes_the_instruments_of_the_style_it_is_heard_in():
    condition = compose_vector(one_hot_style("chorale"), np.full(5, 0.5, dtype=np.float32))
    grid = np.full((VOICES, STEPS_PER_BAR), PITCH_OFFSET + 30, dtype=np.int64)
    midi = with_style_instruments(grid_to_midi(grid, condition, "test", seed=1), "fiddle")
    assert [i.program for i in midi.instruments] == list(STYLE_INSTRUMENTS["fiddle"])


def _heard(*styles_and_weights: dict[str, float]) -> np.ndarray:
    """Style classifier verdicts, one row per candidate."""
    return np.array([[row.get(style, 0.0) for style in STYLES] for row in styles_and_weights])


def test_the_candidate_most_in_style_is_chosen_among_those_not_heard_in_an_avoided_style():
    verdicts = _heard(
        {"folk": 0.55, "fiddle": 0.45},  # the most fiddle-like of all, but heard as folk
        {"fiddle": 0.4, "chorale": 0.25, "folk": 0.35},
        {"chorale": 0.9, "fiddle": 0.1},
    )

    assert most_in_style(verdicts, "fiddle") == 0
    assert most_in_style(verdicts, "fiddle", frozenset({"folk"})) == 1
    assert most_in_style(verdicts, "chorale", frozenset({"folk"})) == 2
    assert most_in_style(verdicts, "fiddle", frozenset({"folk", "fiddle", "chorale"})) is None
