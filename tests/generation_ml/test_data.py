from __future__ import annotations

import mido
import numpy as np
import pretty_midi
import pytest

from generation.ml.data import (
    BARS_PER_SEGMENT,
    HOLD,
    PITCH_OFFSET,
    REST,
    SPLITS,
    STEPS_PER_BAR,
    VOCAB_SIZE,
    VOICES,
    DataConfig,
    build_dataset,
    dataset_statistics,
    epoch_order,
    extract_voices,
    midi_to_grid,
    pitch_to_token,
    split_of,
    transpose,
)


def _voices_sounding(grid: np.ndarray) -> int:
    return int((grid != REST).any(axis=1).sum())


def test_segments_have_the_model_shape_and_valid_tokens(real_dataset):
    tokens = real_dataset.tokens
    assert tokens.shape[1:] == (VOICES, BARS_PER_SEGMENT * STEPS_PER_BAR)
    assert len(real_dataset) >= 8
    assert tokens.max() < VOCAB_SIZE
    assert not (tokens[:, :, 0] == HOLD).any()
    hold_after_rest = (tokens[:, :, 1:] == HOLD) & (tokens[:, :, :-1] == REST)
    assert not hold_after_rest.any()
    assert real_dataset.conditions.shape == (len(real_dataset), 12)


def test_part_music_keeps_its_voices_and_tunes_stay_monophonic(real_pieces):
    by_style = {piece.style: piece for piece in real_pieces}
    assert _voices_sounding(midi_to_grid(by_style["chorale"].midi_path)) == 4
    assert _voices_sounding(midi_to_grid(by_style["fiddle"].midi_path)) == 1


def test_voices_are_ordered_from_high_to_low(real_pieces):
    chorale = next(p for p in real_pieces if p.style == "chorale")
    voices = extract_voices(pretty_midi.PrettyMIDI(str(chorale.midi_path)))
    means = [np.mean([note.pitch for note in voice]) for voice in voices]
    assert means == sorted(means, reverse=True)


def test_a_chordal_part_is_split_by_pitch_into_monophonic_voices():
    midi = pretty_midi.PrettyMIDI(initial_tempo=100)
    piano = pretty_midi.Instrument(program=0)
    quarter = 60 / 100
    for index, chord in enumerate([(60, 64, 67, 72), (62, 65, 69, 74), (59, 62, 67, 71)]):
        for pitch in chord:
            piano.notes.append(pretty_midi.Note(90, pitch, index * quarter, (index + 1) * quarter))
    midi.instruments.append(piano)
    grid = midi_to_grid(midi)
    assert grid.shape == (VOICES, 12)
    assert [grid[v, 0] for v in range(VOICES)] == [pitch_to_token(p) for p in (72, 67, 64, 60)]
    assert [grid[v, 8] for v in range(VOICES)] == [pitch_to_token(p) for p in (71, 67, 62, 59)]


def test_quantization_follows_the_beat_grid_through_tempo_changes(tmp_path):
    ticks_per_beat = 480
    tempo_track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60), time=0),
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120), time=ticks_per_beat),
        ]
    )
    notes = mido.MidiTrack([mido.Message("program_change", program=40, time=0)])
    for pitch in (60, 61, 62, 63):
        notes.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
        notes.append(mido.Message("note_off", note=pitch, velocity=0, time=ticks_per_beat))
    path = tmp_path / "tempo_change.mid"
    mido.MidiFile(tracks=[tempo_track, notes], ticks_per_beat=ticks_per_beat).save(str(path))
    midi = pretty_midi.PrettyMIDI(str(path))
    assert [round(n.start, 3) for n in midi.instruments[0].notes] == [0.0, 1.0, 1.5, 2.0]
    grid = midi_to_grid(midi)
    assert np.flatnonzero(grid[0] >= PITCH_OFFSET).tolist() == [0, 4, 8, 12]


def test_split_is_by_piece_and_deterministic(real_dataset):
    splits = real_dataset.segment_splits
    for index in range(len(real_dataset.piece_ids)):
        assert len(set(splits[real_dataset.piece_index == index])) == 1
    ids = [f"piece-{n}" for n in range(2000)]
    assignment = [split_of(i) for i in ids]
    assert assignment == [split_of(i) for i in ids]
    shares = {s: assignment.count(s) / len(ids) for s in SPLITS}
    assert 0.75 < shares["train"] < 0.85 and 0.07 < shares["valid"] < 0.13


def test_subsets_partition_the_segments(real_dataset):
    sizes = [len(real_dataset.subset(split)) for split in SPLITS]
    assert sum(sizes) == len(real_dataset)


def test_cache_is_reused_and_keyed_by_inputs(real_pieces, tmp_path):
    first = build_dataset(real_pieces[:4], DataConfig(), cache_dir=tmp_path)
    cached = list(tmp_path.glob("*.npz"))
    assert len(cached) == 1
    again = build_dataset(real_pieces[:4], DataConfig(), cache_dir=tmp_path)
    np.testing.assert_array_equal(first.tokens, again.tokens)
    assert again.piece_ids == first.piece_ids
    build_dataset(real_pieces[:4], DataConfig(min_filled_bars=4), cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 2


def test_transposition_stays_in_range_and_moves_register(real_dataset):
    rng = np.random.default_rng(1)
    tokens, conditions = transpose(real_dataset.tokens, real_dataset.conditions, 5, rng)
    assert tokens.max() < VOCAB_SIZE
    assert ((tokens >= PITCH_OFFSET) == (real_dataset.tokens >= PITCH_OFFSET)).all()
    shifts = [
        int(t[t >= PITCH_OFFSET][0]) - int(o[o >= PITCH_OFFSET][0])
        for t, o in zip(tokens, real_dataset.tokens, strict=True)
    ]
    assert any(shifts) and max(abs(s) for s in shifts) <= 5
    moved = np.sign(conditions[:, -3] - real_dataset.conditions[:, -3])
    assert all(m == np.sign(s) for m, s in zip(moved, shifts, strict=True) if m)


def test_dataset_statistics_are_per_style(real_dataset):
    statistics = dataset_statistics(real_dataset)
    assert set(statistics) == {"chorale", "fiddle", "folk"}
    assert sum(sum(s["segments"].values()) for s in statistics.values()) == len(real_dataset)
    assert statistics["chorale"]["mean_voices"] > statistics["fiddle"]["mean_voices"]


def test_an_epoch_is_a_shuffle_or_balanced_over_styles(real_dataset):
    styles = real_dataset.segment_styles.astype(str)
    _, counts = np.unique(styles, return_counts=True)
    assert counts.max() > 1.5 * counts.min()  # the bundled pieces are unbalanced
    shuffle = epoch_order(real_dataset, np.random.default_rng(0))
    assert sorted(shuffle) == list(range(len(real_dataset)))
    draws = np.concatenate(
        [epoch_order(real_dataset, np.random.default_rng(seed), 1.0) for seed in range(40)]
    )
    assert len(draws) == 40 * len(real_dataset)
    _, drawn = np.unique(styles[draws], return_counts=True)
    np.testing.assert_allclose(drawn / drawn.sum(), 1 / len(counts), atol=0.03)
    with pytest.raises(ValueError, match="style_balance"):
        epoch_order(real_dataset, np.random.default_rng(0), 1.5)
