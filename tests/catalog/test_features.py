import io

import mido
import numpy as np

from catalog.midi.features import MidiFeatures, extract_features, numeric_features
from catalog.midi.style_space import normalize_attributes
from catalog.midi.validation import load_midi
from tests.catalog.conftest import BACH_CHORALE, FIDDLE_REEL
from tests.catalog.midi_factory import TICKS_PER_BEAT, midi_bytes


def features_of(data: bytes) -> MidiFeatures:
    return extract_features(load_midi(data))


def test_a_c_major_scale_in_quarter_notes():
    features = features_of(midi_bytes(tempo_bpm=120))
    assert features.duration_s == 4.0  # eight beats at two beats a second
    assert features.tempo_bpm == 120.0
    assert features.key == "C major"
    assert (features.pitch_min, features.pitch_max) == (60, 72)
    assert features.notes_per_second == 2.0
    assert features.notes_per_beat == 1.0
    assert features.note_length_beats["p50"] == 1.0
    assert features.onset_phase_histogram[0] == 1.0  # every onset on a beat
    assert (features.voice_count, features.max_polyphony, features.mean_polyphony) == (1, 1, 1.0)
    assert features.melodic_interval_histogram[1] + features.melodic_interval_histogram[2] == 1.0


def test_a_sustained_triad_has_three_sounding_notes():
    features = features_of(midi_bytes(notes=[(57, 0, 2), (60, 0, 2), (64, 0, 2)], tempo_bpm=60))
    assert features.max_polyphony == 3
    assert features.mean_polyphony == 3.0
    assert features.key_mode == "minor"  # A, C, E


def test_a_bach_chorale_has_four_voices_in_f_sharp_minor(corpus_piece):
    features = corpus_piece(BACH_CHORALE).features
    assert features.voice_count == 4
    assert features.max_polyphony == 4
    assert features.mean_polyphony > 3.5
    assert features.key == "F# minor"


def test_a_fiddle_reel_is_monophonic_and_busier_per_voice_than_a_chorale(corpus_piece):
    reel = corpus_piece(FIDDLE_REEL).features
    chorale = corpus_piece(BACH_CHORALE).features
    assert reel.voice_count == 1
    assert reel.mean_polyphony < 1.2
    assert reel.notes_per_beat / reel.voice_count > 1.5 * chorale.notes_per_beat / 4
    assert reel.note_length_beats["p50"] < chorale.note_length_beats["p50"]


def test_features_map_into_the_style_space_and_the_classifier_array(corpus_piece):
    features = corpus_piece(BACH_CHORALE).features
    attributes = normalize_attributes(features.to_attributes())
    assert ((attributes >= 0) & (attributes <= 1)).all()
    assert attributes[-1] == 0.0  # minor
    array = features.to_array()
    assert array.shape == (len(numeric_features(features)),)
    assert np.isfinite(array).all()
    assert MidiFeatures.from_dict(features.to_dict()) == features


def _retracked(data: bytes, change) -> bytes:
    midi = mido.MidiFile(file=io.BytesIO(data))
    change(midi)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def test_a_tempo_kept_in_the_notes_track_is_the_tempo_heard():
    """Players honour a type-1 file's tempo wherever it is; so must the analysis."""

    def tempo_beside_the_notes(midi: mido.MidiFile) -> None:
        midi.tracks[0] = mido.MidiTrack([mido.MetaMessage("track_name", name="conductor")])
        midi.tracks[1].insert(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60)))

    features = features_of(_retracked(midi_bytes(tempo_bpm=120), tempo_beside_the_notes))
    assert features.tempo_bpm == 60.0
    assert features.duration_s == 8.0  # eight beats at one a second


def test_drums_that_play_on_after_the_tune_count_in_its_length():
    def thirty_seconds_of_kick_drum(midi: mido.MidiFile) -> None:
        drums = mido.MidiTrack()
        for _ in range(60):  # a kick every beat, 60 beats at 120 bpm
            drums.append(mido.Message("note_on", channel=9, note=36, velocity=100, time=0))
            drums.append(mido.Message("note_off", channel=9, note=36, time=TICKS_PER_BEAT))
        midi.tracks.append(drums)

    features = features_of(_retracked(midi_bytes(tempo_bpm=120), thirty_seconds_of_kick_drum))
    assert features.duration_s == 30.0
    assert features.note_count == 8 and features.has_drums
