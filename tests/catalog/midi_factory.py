"""MIDI files built by code for the tests: valid ones and every kind of broken one."""

from __future__ import annotations

import io

import mido

TICKS_PER_BEAT = 480


def midi_bytes(
    *,
    notes: list[tuple[int, float, float]] | None = None,
    tempo_bpm: float = 120.0,
    midi_type: int = 1,
    extra_tracks: int = 0,
    program: int = 0,
) -> bytes:
    """A file whose notes are ``(pitch, start_beat, length_beats)``; default: a C major scale."""
    if notes is None:
        notes = [(pitch, beat, 1.0) for beat, pitch in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]
    midi = mido.MidiFile(type=midi_type, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm))])
    midi.tracks.append(conductor)
    events = []
    for pitch, start, length in notes:
        events.append((round(start * TICKS_PER_BEAT), 1, "note_on", pitch, 90))
        events.append((round((start + length) * TICKS_PER_BEAT), 0, "note_off", pitch, 0))
    track = mido.MidiTrack([mido.Message("program_change", program=program, time=0)])
    previous = 0
    for tick, _, kind, pitch, velocity in sorted(events):
        track.append(mido.Message(kind, note=pitch, velocity=velocity, time=tick - previous))
        previous = tick
    midi.tracks.append(track)
    for _ in range(extra_tracks):
        midi.tracks.append(mido.MidiTrack())
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def broken_midi_files() -> dict[str, tuple[bytes, str]]:
    """Each broken file with the ``InvalidMidi.field`` it must be refused for."""
    valid = midi_bytes()
    header_only = valid[:14]
    # 0xF4 is an undefined status byte.
    corrupt_track = header_only + b"MTrk\x00\x00\x00\x08\x00\xf4\x01\x02\x03\x04\x05\x06"
    return {
        "empty": (b"", "size"),
        "not_midi": (b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(64), "format"),
        "text": (b"this is not music at all, just some text" * 4, "format"),
        "truncated": (valid[: len(valid) - 12], "structure"),
        "header_only": (header_only, "structure"),
        "corrupt_track": (corrupt_track, "structure"),
        "format_2": (midi_bytes(midi_type=2), "format"),
        "zero_notes": (midi_bytes(notes=[]), "notes"),
        "absurd_fast_tempo": (midi_bytes(tempo_bpm=5000), "tempo"),
        "absurd_slow_tempo": (midi_bytes(tempo_bpm=4), "tempo"),
        "absurd_length": (midi_bytes(notes=[(60, 0.0, 8000.0)], tempo_bpm=60), "length"),
        "too_many_tracks": (midi_bytes(extra_tracks=80), "tracks"),
    }
