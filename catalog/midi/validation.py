"""Check untrusted MIDI bytes before anything else touches them.

Every rejection is an :class:`InvalidMidi` naming the aspect that failed (``field``) and a
message a person can act on. Cheap checks run first (size, header, track count) so that a
hostile file is refused before it is parsed.
"""

from __future__ import annotations

import io
import itertools
import struct
from dataclasses import dataclass

import mido
import pretty_midi
from mido.midifiles.meta import KeySignatureError

HEADER_CHUNK = b"MThd"
HEADER_LENGTH = 6
# A set_tempo payload is microseconds per quarter note.
MICROSECONDS_PER_MINUTE = 60_000_000


class InvalidMidi(ValueError):
    """MIDI bytes that cannot be accepted; ``field`` names the aspect that failed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class MidiLimits:
    max_bytes: int = 4 * 1024 * 1024
    max_tracks: int = 64
    # Events of every kind: a few MB of running-status controller messages would otherwise
    # cost seconds and hundreds of MB to parse.
    max_events: int = 500_000
    max_notes: int = 200_000
    max_duration_s: float = 60.0 * 60.0
    min_tempo_bpm: float = 8.0
    max_tempo_bpm: float = 960.0


DEFAULT_LIMITS = MidiLimits()


def load_midi(data: bytes, *, limits: MidiLimits = DEFAULT_LIMITS) -> pretty_midi.PrettyMIDI:
    """Validate ``data`` and return it parsed; raise :class:`InvalidMidi` otherwise.

    A RIFF MIDI file (``.rmi``) is read as the Standard MIDI File it wraps.
    """
    _check_size(data, limits)
    data = unwrap_riff_midi(data)
    _check_header(data, limits)
    _check_event_count(data, limits)
    midi_file = _parse(data)
    _check_tempi(midi_file, limits)
    _check_notes(midi_file, limits)
    _check_duration(midi_file, limits)
    _move_tempi_to_first_track(midi_file)
    try:
        midi = pretty_midi.PrettyMIDI(mido_object=midi_file)
    except (ValueError, KeyError, IndexError, ZeroDivisionError) as error:
        raise InvalidMidi("structure", f"the file cannot be interpreted: {error}") from error
    _check_pitched_notes(midi)
    return midi


def _move_tempi_to_first_track(midi_file: mido.MidiFile) -> None:
    """pretty_midi reads tempo changes from the first track only, but a type-1 file may keep
    them in another (many real files do, and players honour them): they are moved, at the
    same ticks, so the analysis hears the tempo the audio has."""
    if midi_file.type != 1 or not any(
        message.type == "set_tempo" for track in midi_file.tracks[1:] for message in track
    ):
        return
    moved: list[tuple[int, mido.MetaMessage]] = []
    for index, track in enumerate(midi_file.tracks[1:], start=1):
        events = _absolute(track)
        moved += [(tick, message) for tick, message in events if message.type == "set_tempo"]
        midi_file.tracks[index] = _relative(
            [(tick, message) for tick, message in events if message.type != "set_tempo"]
        )
    first = [(tick, m) for tick, m in _absolute(midi_file.tracks[0]) if m.type != "end_of_track"]
    merged = sorted(first + moved, key=lambda pair: pair[0])  # stable: the first track's first
    last = max((tick for tick, _ in merged), default=0)
    midi_file.tracks[0] = _relative([*merged, (last, mido.MetaMessage("end_of_track"))])


def _absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    ticks = itertools.accumulate(message.time for message in track)
    return list(zip(ticks, track, strict=True))


def _relative(events: list[tuple[int, mido.Message]]) -> mido.MidiTrack:
    previous = 0
    track = mido.MidiTrack()
    for tick, message in events:
        track.append(message.copy(time=tick - previous))
        previous = tick
    return track


def unwrap_riff_midi(data: bytes) -> bytes:
    """The Standard MIDI File inside a RIFF ``RMID`` file; anything else unchanged."""
    if data[:4] != b"RIFF" or data[8:12] != b"RMID":
        return data
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        length = struct.unpack("<I", data[position + 4 : position + 8])[0]
        if chunk_id == b"data":
            return data[position + 8 : position + 8 + length]
        position += 8 + length + length % 2  # RIFF chunks are padded to even lengths
    raise InvalidMidi("format", "a RIFF MIDI (.rmi) file without a data chunk")


def _check_size(data: bytes, limits: MidiLimits) -> None:
    if not data:
        raise InvalidMidi("size", "the file is empty")
    if len(data) > limits.max_bytes:
        raise InvalidMidi(
            "size", f"the file is {len(data)} bytes; the limit is {limits.max_bytes} bytes"
        )


def _check_header(data: bytes, limits: MidiLimits) -> None:
    if data[:4] != HEADER_CHUNK:
        raise InvalidMidi("format", "not a Standard MIDI File (no MThd header)")
    if len(data) < 8 + HEADER_LENGTH:
        raise InvalidMidi("structure", "the file is truncated inside its header")
    midi_format, track_count, division = struct.unpack(">HHh", data[8 : 8 + HEADER_LENGTH])
    if midi_format == 2:
        raise InvalidMidi(
            "format", "MIDI format 2 (independent sequences) is not supported; use format 0 or 1"
        )
    if midi_format not in (0, 1):
        raise InvalidMidi("format", f"unknown MIDI format {midi_format}")
    if track_count == 0:
        raise InvalidMidi("tracks", "the file declares no tracks")
    if track_count > limits.max_tracks:
        raise InvalidMidi(
            "tracks", f"the file has {track_count} tracks; the limit is {limits.max_tracks}"
        )
    if division <= 0:
        raise InvalidMidi("format", "SMPTE time division is not supported; use ticks per beat")


def _check_event_count(data: bytes, limits: MidiLimits) -> None:
    """Count events from the raw bytes, stopping at the limit, before anything is parsed."""
    count = 0
    position = 8 + HEADER_LENGTH
    while position + 8 <= len(data) and count <= limits.max_events:
        chunk_type = data[position : position + 4]
        length = struct.unpack(">I", data[position + 4 : position + 8])[0]
        start, end = position + 8, min(len(data), position + 8 + length)
        if chunk_type == b"MTrk":
            count += _events_in_track(data, start, end, limits.max_events - count + 1)
        position = end
    if count > limits.max_events:
        raise InvalidMidi(
            "events", f"the file has more than {limits.max_events} events; that is the limit"
        )


def _events_in_track(data: bytes, position: int, end: int, enough: int) -> int:
    """Events in one track chunk (at most ``enough``); malformed data ends the count early,
    for the parser to report."""
    count, status = 0, 0
    while position < end and count < enough:
        position = _skip_variable_length(data, position, end)
        if position >= end:
            break
        if data[position] & 0x80:
            status = data[position]
            position += 1
        if status == 0xFF:
            position = _skip_variable_length(data, position + 1, end, skip_payload=True)
        elif status in (0xF0, 0xF7):
            position = _skip_variable_length(data, position, end, skip_payload=True)
        else:
            position += 1 if 0xC0 <= status < 0xE0 else 2
        count += 1
    return count


def _skip_variable_length(data: bytes, position: int, end: int, skip_payload: bool = False) -> int:
    value = 0
    for _ in range(4):
        if position >= end:
            return end
        byte = data[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return position + value if skip_payload else position


def _parse(data: bytes) -> mido.MidiFile:
    try:
        midi_file = mido.MidiFile(file=io.BytesIO(data))
    except EOFError as error:
        raise InvalidMidi("structure", "the file is truncated") from error
    except (OSError, ValueError, KeyError, IndexError, struct.error, KeySignatureError) as error:
        raise InvalidMidi("structure", f"the file is corrupt: {error}") from error
    declared_tracks = struct.unpack(">H", data[10:12])[0]
    if len(midi_file.tracks) < declared_tracks:
        raise InvalidMidi(
            "structure",
            f"the file is truncated: {declared_tracks} tracks declared, "
            f"{len(midi_file.tracks)} present",
        )
    return midi_file


def _check_tempi(midi_file: mido.MidiFile, limits: MidiLimits) -> None:
    for track in midi_file.tracks:
        for message in track:
            if message.type != "set_tempo":
                continue
            bpm = MICROSECONDS_PER_MINUTE / max(1, message.tempo)
            if not limits.min_tempo_bpm <= bpm <= limits.max_tempo_bpm:
                raise InvalidMidi(
                    "tempo",
                    f"tempo {bpm:.1f} bpm is outside {limits.min_tempo_bpm:g}.."
                    f"{limits.max_tempo_bpm:g} bpm",
                )


def _check_notes(midi_file: mido.MidiFile, limits: MidiLimits) -> None:
    note_count = sum(
        1
        for track in midi_file.tracks
        for message in track
        if message.type == "note_on" and message.velocity > 0
    )
    if note_count == 0:
        raise InvalidMidi("notes", "the file contains no notes")
    if note_count > limits.max_notes:
        raise InvalidMidi(
            "notes", f"the file has {note_count} notes; the limit is {limits.max_notes}"
        )


def _check_pitched_notes(midi: pretty_midi.PrettyMIDI) -> None:
    if not any(instrument.notes for instrument in midi.instruments if not instrument.is_drum):
        raise InvalidMidi(
            "notes",
            "the file has no pitched notes (drums alone, or notes that never end); "
            "there is nothing to analyse, show or recommend",
        )


def _check_duration(midi_file: mido.MidiFile, limits: MidiLimits) -> None:
    duration_s = midi_file.length
    if duration_s > limits.max_duration_s:
        raise InvalidMidi(
            "length",
            f"the music lasts {duration_s:.0f} s; the limit is {limits.max_duration_s:.0f} s",
        )
