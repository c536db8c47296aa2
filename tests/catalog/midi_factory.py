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
        "drums_only": (_drums_only(), "notes"),
        "note_never_ends": (_note_never_ends(), "notes"),
        "controller_flood": (_controller_flood(600_000), "events"),
        # A key signature of 127 sharps in mode 5, which mido cannot decode.
        "bad_key_signature": (
            header_only[:8]
            + b"\x00\x00\x00\x01\x01\xe0"
            + b"MTrk\x00\x00\x00\x12\x00\xff\x59\x02\x7f\x05"
            + b"\x00\x90\x3c\x40\x60\x80\x3c\x00\x00\xff\x2f\x00",
            "structure",
        ),
    }


def _saved(track: mido.MidiTrack) -> bytes:
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _drums_only() -> bytes:
    track = mido.MidiTrack()
    for _ in range(16):  # a kick drum on channel 10 (index 9): no pitch to analyse
        track.append(mido.Message("note_on", channel=9, note=36, velocity=100, time=0))
        track.append(mido.Message("note_off", channel=9, note=36, time=240))
    return _saved(track)


def _note_never_ends() -> bytes:
    return _saved(mido.MidiTrack([mido.Message("note_on", note=60, velocity=90, time=0)]))


def _controller_flood(events: int) -> bytes:
    """One note, then ``events`` volume changes in running status: 3 bytes each."""
    body = b"\x00\x90\x3c\x5a" + b"\x00\xb0\x07\x40" + b"\x01\x07\x40" * events
    body += b"\x00\x80\x3c\x00\x00\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
    header += TICKS_PER_BEAT.to_bytes(2, "big")
    return header + b"MTrk" + len(body).to_bytes(4, "big") + body
