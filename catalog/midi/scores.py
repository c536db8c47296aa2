"""Write a music21 score as a Standard MIDI File.

music21's own MIDI writer is accurate but slow (seconds per string-quartet movement) and
fails on some .abc tunes that share one TimeSignature object between measures. Importing the
whole corpus needs neither its expressive detail nor its failures: this writer keeps what the
catalog uses (notes with ties merged, one track per part with its program, the tempo map)
and encodes the Standard MIDI File bytes directly.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from music21 import chord, note, stream

from catalog.midi.validation import MICROSECONDS_PER_MINUTE

TICKS_PER_BEAT = 480
DEFAULT_VELOCITY = 80
DEFAULT_TEMPO_BPM = 120.0
DRUM_CHANNEL = 9
MELODIC_CHANNELS = tuple(channel for channel in range(16) if channel != DRUM_CHANNEL)
NOTE_OFF, NOTE_ON, PROGRAM_CHANGE = 0x80, 0x90, 0xC0
META_TRACK_NAME, META_SET_TEMPO, META_END_OF_TRACK = 0x03, 0x51, 0x2F


@dataclass
class _Note:
    start: float  # quarter lengths
    end: float
    pitch: int
    velocity: int


def score_to_midi(score: stream.Score, *, title: str = "", default_program: int = 0) -> bytes:
    """MIDI format 1 bytes: a conductor track, then one track per part that has notes."""
    tracks = [_conductor_track(score, title)]
    parts = list(score.parts) or [score]
    for index, part in enumerate(parts):
        notes = _part_notes(part)
        if notes:
            channel = MELODIC_CHANNELS[index % len(MELODIC_CHANNELS)]
            program = _part_program(part, default_program)
            tracks.append(_note_track(part, notes, channel, program))
    header = struct.pack(">HHH", 1, len(tracks), TICKS_PER_BEAT)
    return _chunk(b"MThd", header) + b"".join(_chunk(b"MTrk", track) for track in tracks)


# An event is (tick, order at equal ticks, encoded message without its delta time).
_Event = tuple[int, int, bytes]


def _ticks(quarter_length: float) -> int:
    return round(quarter_length * TICKS_PER_BEAT)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack(">I", len(payload)) + payload


def _variable_length(value: int) -> bytes:
    encoded = [value & 0x7F]
    value >>= 7
    while value:
        encoded.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(encoded))


def _meta(kind: int, payload: bytes) -> bytes:
    return bytes([0xFF, kind]) + _variable_length(len(payload)) + payload


def _text(value: str) -> bytes:
    return value[:120].encode("latin-1", errors="replace")


def _conductor_track(score: stream.Score, title: str) -> bytes:
    events: list[_Event] = []
    if title:
        events.append((0, 0, _meta(META_TRACK_NAME, _text(title))))
    tempo_by_tick: dict[int, float] = {}
    for start, end, mark in score.metronomeMarkBoundaries():
        bpm = mark.getQuarterBPM()
        if bpm and end > start:
            tempo_by_tick[_ticks(start)] = bpm
    for tick, bpm in sorted(tempo_by_tick.items()) or [(0, DEFAULT_TEMPO_BPM)]:
        tempo = round(MICROSECONDS_PER_MINUTE / bpm)
        events.append((tick, 1, _meta(META_SET_TEMPO, tempo.to_bytes(3, "big"))))
    return _encode_track(events)


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


def _note_track(part: stream.Stream, notes: list[_Note], channel: int, program: int) -> bytes:
    events: list[_Event] = []
    if part.partName:
        events.append((0, 0, _meta(META_TRACK_NAME, _text(str(part.partName)))))
    events.append((0, 1, bytes([PROGRAM_CHANGE | channel, program & 0x7F])))
    for item in notes:
        start, end = _ticks(item.start), _ticks(item.end)
        velocity = min(127, max(1, item.velocity))
        # Note-offs sort before note-ons at the same tick, so repeated notes re-attack.
        events.append((start, 3, bytes([NOTE_ON | channel, item.pitch, velocity])))
        events.append((max(end, start + 1), 2, bytes([NOTE_OFF | channel, item.pitch, 0])))
    return _encode_track(events)


def _encode_track(events: list[_Event]) -> bytes:
    encoded = bytearray()
    previous_tick = 0
    for tick, _, message in sorted(events, key=lambda event: (event[0], event[1])):
        encoded += _variable_length(tick - previous_tick) + message
        previous_tick = tick
    encoded += _variable_length(0) + _meta(META_END_OF_TRACK, b"")
    return bytes(encoded)
