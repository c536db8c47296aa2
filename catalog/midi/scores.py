"""Write a music21 score as a Standard MIDI File.

music21's own MIDI writer is accurate but slow (seconds per string-quartet movement) and
fails on some .abc tunes that share one TimeSignature object between measures. Importing the
whole corpus needs neither its expressive detail nor its failures: this writer keeps what the
catalog uses (notes with ties merged, one track per part with its program, the tempo map).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import mido
from music21 import chord, note, stream

from catalog.midi.validation import MICROSECONDS_PER_MINUTE

TICKS_PER_BEAT = 480
DEFAULT_VELOCITY = 80
DEFAULT_TEMPO_BPM = 120.0
DRUM_CHANNEL = 9
MELODIC_CHANNELS = tuple(channel for channel in range(16) if channel != DRUM_CHANNEL)


@dataclass
class _Note:
    start: float  # quarter lengths
    end: float
    pitch: int
    velocity: int


def score_to_midi(score: stream.Score, *, title: str = "", default_program: int = 0) -> bytes:
    """MIDI format 1 bytes: a conductor track, then one track per part that has notes."""
    midi_file = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi_file.tracks.append(_conductor_track(score, title))
    parts = list(score.parts) or [score]
    for index, part in enumerate(parts):
        notes = _part_notes(part)
        if not notes:
            continue
        channel = MELODIC_CHANNELS[index % len(MELODIC_CHANNELS)]
        program = _part_program(part, default_program)
        midi_file.tracks.append(_note_track(part, notes, channel, program))
    buffer = io.BytesIO()
    midi_file.save(file=buffer)
    return buffer.getvalue()


def _ticks(quarter_length: float) -> int:
    return round(quarter_length * TICKS_PER_BEAT)


def _conductor_track(score: stream.Score, title: str) -> mido.MidiTrack:
    events: list[tuple[int, int, mido.MetaMessage]] = []
    if title:
        events.append((0, 0, mido.MetaMessage("track_name", name=title[:120])))
    tempo_by_tick: dict[int, float] = {}
    for start, end, mark in score.metronomeMarkBoundaries():
        bpm = mark.getQuarterBPM()
        if bpm and end > start:
            tempo_by_tick[_ticks(start)] = bpm
    for tick, bpm in sorted(tempo_by_tick.items()) or [(0, DEFAULT_TEMPO_BPM)]:
        tempo = round(MICROSECONDS_PER_MINUTE / bpm)
        events.append((tick, 1, mido.MetaMessage("set_tempo", tempo=tempo)))
    return _track_from_events(events)


def _part_program(part: stream.Stream, default_program: int) -> int:
    instrument = part.getInstrument(returnDefault=False)
    if instrument is None or instrument.midiProgram is None:
        return default_program
    return int(instrument.midiProgram)


def _pitched_members(element: note.NotRest) -> Iterator[note.Note]:
    members = element.notes if isinstance(element, chord.ChordBase) else (element,)
    return (member for member in members if isinstance(member, note.Note))


def _part_notes(part: stream.Stream) -> list[_Note]:
    """Sounding notes of a part, with tied notes merged into one."""
    finished: list[_Note] = []
    open_ties: dict[int, _Note] = {}
    for element in part.flatten().notes:
        if element.duration.isGrace:
            continue
        start = float(element.offset)
        end = start + float(element.quarterLength)
        velocity = int(element.volume.velocity or DEFAULT_VELOCITY)
        for member in _pitched_members(element):
            pitch = member.pitch.midi
            if not 0 <= pitch <= 127:
                continue
            tie = member.tie or element.tie
            tie_type = tie.type if tie else None
            if tie_type in ("stop", "continue") and pitch in open_ties:
                open_ties[pitch].end = end
                if tie_type == "stop":
                    finished.append(open_ties.pop(pitch))
                continue
            current = _Note(start, end, pitch, velocity)
            if tie_type in ("start", "continue"):
                if pitch in open_ties:
                    finished.append(open_ties.pop(pitch))
                open_ties[pitch] = current
            else:
                finished.append(current)
    finished.extend(open_ties.values())
    return finished


def _note_track(
    part: stream.Stream, notes: list[_Note], channel: int, program: int
) -> mido.MidiTrack:
    events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = []
    if part.partName:
        events.append((0, 0, mido.MetaMessage("track_name", name=str(part.partName)[:120])))
    events.append((0, 1, mido.Message("program_change", channel=channel, program=program)))
    for item in notes:
        start, end = _ticks(item.start), _ticks(item.end)
        end = max(end, start + 1)
        # Note-offs sort before note-ons at the same tick, so repeated notes re-attack.
        events.append((start, 3, _note_message("note_on", channel, item.pitch, item.velocity)))
        events.append((end, 2, _note_message("note_off", channel, item.pitch, 0)))
    return _track_from_events(events)


def _note_message(kind: str, channel: int, pitch: int, velocity: int) -> mido.Message:
    return mido.Message(kind, channel=channel, note=pitch, velocity=min(127, max(0, velocity)))


def _track_from_events(
    events: list[tuple[int, int, mido.Message | mido.MetaMessage]],
) -> mido.MidiTrack:
    track = mido.MidiTrack()
    previous_tick = 0
    for tick, _, message in sorted(events, key=lambda event: (event[0], event[1])):
        track.append(message.copy(time=tick - previous_tick))
        previous_tick = tick
    return track
