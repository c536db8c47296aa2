"""Excerpts of a MIDI file: windows of a few bars, as self-contained PrettyMIDI objects.

The style classifier labels whole catalog pieces but also short music: uploads of a few bars
and the generator's 16-bar pieces. Features such as duration and note count describe the
length of a piece more than its style, so a classifier trained on whole pieces alone reads a
16-bar Monteverdi excerpt as a short Trecento piece. Training on excerpts as well teaches it
to recognize a style from any part of a piece.
"""

from __future__ import annotations

import numpy as np
import pretty_midi

from catalog.midi.features import DEFAULT_TEMPO_BPM

# 16 bars of 4/4: the length the generator writes.
EXCERPT_BEATS = 64
# The generator writes at most four voices; a five-voice madrigal reduced to its four busiest
# parts must still read as a madrigal.
REDUCED_VOICES = 4


def cut(midi: pretty_midi.PrettyMIDI, start_s: float, end_s: float) -> pretty_midi.PrettyMIDI:
    """The notes sounding in ``[start_s, end_s)``, clipped to it and moved to start at 0.

    The excerpt keeps the tempo in effect at ``start_s`` and every instrument's program.
    """
    excerpt = pretty_midi.PrettyMIDI(
        resolution=midi.resolution, initial_tempo=_tempo_at(midi, start_s)
    )
    for source in midi.instruments:
        instrument = pretty_midi.Instrument(
            program=source.program, is_drum=source.is_drum, name=source.name
        )
        for note in source.notes:
            start, end = max(note.start, start_s), min(note.end, end_s)
            if end > start:
                instrument.notes.append(
                    pretty_midi.Note(note.velocity, note.pitch, start - start_s, end - start_s)
                )
        if instrument.notes:
            excerpt.instruments.append(instrument)
    return excerpt


def _tempo_at(midi: pretty_midi.PrettyMIDI, time_s: float) -> float:
    change_times, tempi = midi.get_tempo_changes()
    in_effect = np.searchsorted(change_times, time_s, side="right") - 1
    return float(tempi[max(in_effect, 0)]) if len(tempi) else DEFAULT_TEMPO_BPM


def excerpts(
    midi: pretty_midi.PrettyMIDI, count: int, beats: int = EXCERPT_BEATS
) -> list[pretty_midi.PrettyMIDI]:
    """Up to ``count`` windows of ``beats`` beats, spread evenly over the piece.

    A piece shorter than one and a half windows is an excerpt already and gives none; every
    window returned holds at least one pitched note.
    """
    beat_times = midi.get_beats()
    if count <= 0 or len(beat_times) < beats * 3 // 2:
        return []
    last_start = len(beat_times) - beats - 1
    starts = np.unique(np.linspace(0, last_start, count).round().astype(int))
    windows = [cut(midi, beat_times[start], beat_times[start + beats]) for start in starts]
    return [window for window in windows if any(not i.is_drum for i in window.instruments)]


def reduced(midi: pretty_midi.PrettyMIDI, voices: int = REDUCED_VOICES) -> pretty_midi.PrettyMIDI:
    """The same music with only its ``voices`` busiest pitched instruments (in their order)."""
    pitched = [i for i in midi.instruments if not i.is_drum and i.notes]
    busiest = set(sorted(range(len(pitched)), key=lambda n: -len(pitched[n].notes))[:voices])
    copy = pretty_midi.PrettyMIDI(resolution=midi.resolution, initial_tempo=_tempo_at(midi, 0.0))
    copy.instruments = [i for n, i in enumerate(pitched) if n in busiest]
    return copy


def training_excerpts(midi: pretty_midi.PrettyMIDI, count: int) -> list[pretty_midi.PrettyMIDI]:
    """:func:`excerpts`, plus each one :func:`reduced` where it has more voices than that."""
    windows = excerpts(midi, count)
    return windows + [
        reduced(window)
        for window in windows
        if sum(1 for i in window.instruments if not i.is_drum) > REDUCED_VOICES
    ]
