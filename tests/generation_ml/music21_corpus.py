"""Small real training corpora written from music21's bundled corpus, for tests and
experiments, until the catalog's corpus import provides the real one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
from music21 import corpus

from catalog.midi.style_space import (
    MusicalAttributes,
    compose_vector,
    normalize_attributes,
    one_hot_style,
)
from generation.ml.data import TrainingPiece

CHORALES = ("bach/bwv66.6", "bach/bwv1.6", "bach/bwv10.7", "bach/bwv101.7", "bach/bwv102.7")
FIDDLE_TUNES = (
    "ryansMammoth/7thRegimentReel",
    "ryansMammoth/42dHighlandRegimentStrathspey",
    "ryansMammoth/AWillieWeHaveMissdYouStrathspey",
)
FOLK_OPUS = "essenFolksong/altdeu10"


def measured_condition(midi: pretty_midi.PrettyMIDI, style: str) -> np.ndarray:
    """A style vector from simple measurements (the catalog will provide real ones)."""
    notes = [note for instrument in midi.instruments for note in instrument.notes]
    duration = max(midi.get_end_time(), 1e-6)
    roll = midi.get_piano_roll(fs=8) > 0
    sounding = roll.sum(axis=0)
    keys = midi.key_signature_changes
    attributes = MusicalAttributes(
        tempo_bpm=float(midi.get_tempo_changes()[1][0]),
        notes_per_second=len(notes) / duration,
        mean_pitch=float(np.mean([note.pitch for note in notes])),
        mean_polyphony=float(sounding[sounding > 0].mean()),
        is_major=not keys or keys[0].key_number < 12,
    )
    return compose_vector(one_hot_style(style), normalize_attributes(attributes))


def write_piece(directory: Path, work: str, style: str, number: int | None = None) -> TrainingPiece:
    score = corpus.parse(work, number=number) if number is not None else corpus.parse(work)
    piece_id = f"{work}#{number}" if number is not None else work
    path = directory / (piece_id.replace("/", "_").replace("#", "_") + ".mid")
    score.write("midi", fp=path)
    return TrainingPiece(
        piece_id, path, measured_condition(pretty_midi.PrettyMIDI(str(path)), style), style
    )


def small_corpus(directory: Path, folk_songs: int = 3) -> list[TrainingPiece]:
    """Chorales, fiddle tunes and folk songs: three styles of real music in a few seconds."""
    directory.mkdir(parents=True, exist_ok=True)
    pieces = [write_piece(directory, work, "chorale") for work in CHORALES]
    pieces += [write_piece(directory, work, "fiddle") for work in FIDDLE_TUNES]
    pieces += [
        write_piece(directory, FOLK_OPUS, "folk", number) for number in range(1, folk_songs + 1)
    ]
    return pieces
