"""Musical features of a parsed MIDI file, for storage, the style space and the classifier."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pretty_midi

from catalog.midi.style_space import MusicalAttributes

PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

NOTE_LENGTH_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
# Note lengths in beats: sixteenths and shorter, eighths, quarters, halves, longer.
NOTE_LENGTH_BIN_EDGES = (0.0, 0.3, 0.6, 1.1, 2.1, np.inf)
# Where onsets fall within the beat: on it, on its half, on its thirds, its quarters, elsewhere.
ONSET_PHASES = (0.0, 0.5, 1 / 3, 2 / 3, 0.25, 0.75)
ONSET_PHASE_GROUPS = ((0,), (1,), (2, 3), (4, 5))
ONSET_PHASE_TOLERANCE = 0.04
# Melodic intervals in semitones: unison/repeat, step, third, fourth/fifth, larger leap.
INTERVAL_BIN_EDGES = (0, 1, 3, 5, 8, 128)
DEFAULT_TEMPO_BPM = 120.0


@dataclass(frozen=True)
class KeyEstimate:
    tonic: int
    mode: str
    confidence: float

    @property
    def name(self) -> str:
        return f"{PITCH_CLASS_NAMES[self.tonic]} {self.mode}"


@dataclass(frozen=True)
class MidiFeatures:
    """Everything the catalog stores about a piece, in JSON-friendly types."""

    duration_s: float
    tempo_bpm: float
    key: str
    key_tonic: int
    key_mode: str
    key_confidence: float
    pitch_class_histogram: list[float]
    pitch_min: int
    pitch_max: int
    pitch_mean: float
    pitch_std: float
    note_count: int
    notes_per_second: float
    notes_per_beat: float
    mean_polyphony: float
    max_polyphony: int
    note_length_beats: dict[str, float]
    note_length_histogram: list[float]
    onset_phase_histogram: list[float]
    melodic_interval_histogram: list[float]
    voice_count: int
    instrument_programs: list[int] = field(default_factory=list)
    has_drums: bool = False

    def to_attributes(self) -> MusicalAttributes:
        return MusicalAttributes(
            tempo_bpm=self.tempo_bpm,
            notes_per_second=self.notes_per_second,
            mean_pitch=self.pitch_mean,
            mean_polyphony=self.mean_polyphony,
            is_major=self.key_mode == "major",
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MidiFeatures:
        return cls(**data)

    def to_array(self) -> np.ndarray:
        """The flat numeric vector the style classifier sees, ordered as :data:`FEATURE_NAMES`."""
        return np.array(list(numeric_features(self).values()), dtype=np.float64)


def numeric_features(features: MidiFeatures) -> dict[str, float]:
    """The classifier's view of a piece: named numbers, in a fixed order."""
    # Key-relative pitch classes make modal and tonal profiles comparable across keys.
    relative_histogram = np.roll(features.pitch_class_histogram, -features.key_tonic)
    values: dict[str, float] = {
        "log_duration_s": float(np.log1p(features.duration_s)),
        "tempo_bpm": features.tempo_bpm,
        "is_major": float(features.key_mode == "major"),
        "key_confidence": features.key_confidence,
        "pitch_range": float(features.pitch_max - features.pitch_min),
        "pitch_mean": features.pitch_mean,
        "pitch_std": features.pitch_std,
        "log_note_count": float(np.log1p(features.note_count)),
        "notes_per_second": features.notes_per_second,
        "notes_per_beat": features.notes_per_beat,
        "mean_polyphony": features.mean_polyphony,
        "max_polyphony": float(features.max_polyphony),
        "voice_count": float(features.voice_count),
        "pitch_class_entropy": _entropy(features.pitch_class_histogram),
    }
    values.update(
        {f"note_length_{name}": value for name, value in features.note_length_beats.items()}
    )
    values.update({f"relative_pc_{i}": float(v) for i, v in enumerate(relative_histogram)})
    # Absolute pitch classes too: dance tunes favour the keys their instruments play easily.
    values.update(
        {f"absolute_pc_{i}": float(v) for i, v in enumerate(features.pitch_class_histogram)}
    )
    values.update({f"note_length_bin_{i}": v for i, v in enumerate(features.note_length_histogram)})
    values.update({f"onset_phase_{i}": v for i, v in enumerate(features.onset_phase_histogram)})
    values.update(
        {f"interval_bin_{i}": v for i, v in enumerate(features.melodic_interval_histogram)}
    )
    return values


def _entropy(histogram: list[float]) -> float:
    probabilities = np.asarray(histogram, dtype=np.float64)
    probabilities = probabilities[probabilities > 0]
    return float(-(probabilities * np.log2(probabilities)).sum())


def extract_features(midi: pretty_midi.PrettyMIDI) -> MidiFeatures:
    """Features of a parsed, validated MIDI file (it must contain at least one note)."""
    pitched = [instrument for instrument in midi.instruments if not instrument.is_drum]
    notes = [note for instrument in pitched for note in instrument.notes]
    if not notes:
        raise ValueError("the MIDI file has no pitched notes")
    starts = np.array([note.start for note in notes])
    ends = np.array([note.end for note in notes])
    pitches = np.array([note.pitch for note in notes])
    durations = np.maximum(ends - starts, 0.0)
    # The piece lasts as long as anything plays: drums past the last pitched note count.
    drum_ends = [note.end for i in midi.instruments if i.is_drum for note in i.notes]
    duration_s = float(max(ends.max(), max(drum_ends, default=0.0)))
    tempo_bpm = _mean_tempo(midi, duration_s)
    histogram = _pitch_class_histogram(pitches, durations)
    key = estimate_key(histogram)
    onset_beats = _seconds_to_beats(midi, starts)
    length_beats = _seconds_to_beats(midi, ends) - onset_beats
    total_beats = float(_seconds_to_beats(midi, np.array([duration_s]))[0])
    mean_polyphony, max_polyphony = _polyphony(starts, ends)
    return MidiFeatures(
        duration_s=round(duration_s, 3),
        tempo_bpm=round(tempo_bpm, 2),
        key=key.name,
        key_tonic=key.tonic,
        key_mode=key.mode,
        key_confidence=round(key.confidence, 4),
        pitch_class_histogram=[round(float(v), 4) for v in histogram],
        pitch_min=int(pitches.min()),
        pitch_max=int(pitches.max()),
        pitch_mean=round(float(pitches.mean()), 3),
        pitch_std=round(float(pitches.std()), 3),
        note_count=len(notes),
        notes_per_second=round(len(notes) / max(duration_s, 1e-3), 4),
        notes_per_beat=round(len(notes) / max(total_beats, 1e-3), 4),
        mean_polyphony=round(mean_polyphony, 4),
        max_polyphony=max_polyphony,
        note_length_beats=_note_length_summary(length_beats),
        note_length_histogram=_fractions(np.histogram(length_beats, bins=NOTE_LENGTH_BIN_EDGES)[0]),
        onset_phase_histogram=_onset_phase_histogram(onset_beats),
        melodic_interval_histogram=_melodic_interval_histogram(pitched),
        voice_count=sum(1 for instrument in pitched if instrument.notes),
        instrument_programs=sorted({int(instrument.program) for instrument in pitched}),
        has_drums=any(instrument.is_drum for instrument in midi.instruments),
    )


def estimate_key(pitch_class_histogram: np.ndarray) -> KeyEstimate:
    """Krumhansl-Schmuckler: the key whose rotated profile best correlates with the histogram."""
    best = KeyEstimate(tonic=0, mode="major", confidence=-1.0)
    if np.ptp(pitch_class_histogram) == 0:
        return KeyEstimate(tonic=0, mode="major", confidence=0.0)
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            correlation = float(np.corrcoef(pitch_class_histogram, np.roll(profile, tonic))[0, 1])
            if correlation > best.confidence:
                best = KeyEstimate(tonic=tonic, mode=mode, confidence=correlation)
    return best


def _pitch_class_histogram(pitches: np.ndarray, durations: np.ndarray) -> np.ndarray:
    # Weighting by duration follows Krumhansl-Schmuckler; a floor keeps grace notes visible.
    histogram = np.bincount(pitches % 12, weights=np.maximum(durations, 1e-3), minlength=12)
    return histogram / histogram.sum()


def _mean_tempo(midi: pretty_midi.PrettyMIDI, duration_s: float) -> float:
    """The time-weighted mean of the tempo map over the music."""
    change_times, tempi = midi.get_tempo_changes()
    if len(tempi) == 0:
        return DEFAULT_TEMPO_BPM
    boundaries = np.append(np.clip(change_times, 0.0, duration_s), duration_s)
    spans = np.diff(boundaries)
    if spans.sum() <= 0:
        return float(tempi[-1])
    return float(np.average(tempi, weights=spans))


def _seconds_to_beats(midi: pretty_midi.PrettyMIDI, times: np.ndarray) -> np.ndarray:
    change_times, tempi = midi.get_tempo_changes()
    if len(tempi) == 0:
        change_times, tempi = np.array([0.0]), np.array([DEFAULT_TEMPO_BPM])
    beats_at_changes = np.concatenate([[0.0], np.cumsum(np.diff(change_times) * tempi[:-1] / 60)])
    segment = np.clip(np.searchsorted(change_times, times, side="right") - 1, 0, None)
    return beats_at_changes[segment] + (times - change_times[segment]) * tempi[segment] / 60


def _polyphony(starts: np.ndarray, ends: np.ndarray) -> tuple[float, int]:
    """Mean (over sounding time) and maximum number of simultaneously sounding notes."""
    times = np.concatenate([starts, ends])
    changes = np.concatenate([np.ones_like(starts), -np.ones_like(ends)])
    # At equal times, note-offs come first so that legato does not count as overlap.
    order = np.lexsort((changes, times))
    times, sounding = times[order], np.cumsum(changes[order])
    spans = np.diff(times)
    active = sounding[:-1] > 0
    if not active.any() or spans[active].sum() <= 0:
        return 1.0, int(max(1, sounding.max()))
    mean = float(np.average(sounding[:-1][active], weights=spans[active]))
    return mean, int(sounding.max())


def _note_length_summary(length_beats: np.ndarray) -> dict[str, float]:
    quantiles = np.quantile(length_beats, NOTE_LENGTH_QUANTILES)
    summary = {
        f"p{int(q * 100)}": round(float(v), 4)
        for q, v in zip(NOTE_LENGTH_QUANTILES, quantiles, strict=True)
    }
    summary["mean"] = round(float(length_beats.mean()), 4)
    summary["std"] = round(float(length_beats.std()), 4)
    return summary


def _fractions(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [round(float(v), 4) for v in (counts / total if total else counts)]


def _onset_phase_histogram(onset_beats: np.ndarray) -> list[float]:
    phases = onset_beats % 1.0
    distances = np.abs(phases[:, None] - np.array(ONSET_PHASES)[None, :])
    distances = np.minimum(distances, 1.0 - distances)  # phase 0.98 is near the beat
    near = distances <= ONSET_PHASE_TOLERANCE
    counts = [int(near[:, list(group)].any(axis=1).sum()) for group in ONSET_PHASE_GROUPS]
    counts.append(len(phases) - sum(counts))
    return _fractions(np.array(counts))


def _melodic_interval_histogram(instruments: list[pretty_midi.Instrument]) -> list[float]:
    """Intervals between successive onsets within each voice, taking its top note at chords."""
    intervals: list[np.ndarray] = []
    for instrument in instruments:
        top_notes: dict[float, int] = {}
        for note in instrument.notes:
            onset = round(note.start, 4)
            top_notes[onset] = max(top_notes.get(onset, 0), note.pitch)
        melody = np.array([top_notes[onset] for onset in sorted(top_notes)])
        if len(melody) > 1:
            intervals.append(np.abs(np.diff(melody)))
    if not intervals:
        return [0.0] * (len(INTERVAL_BIN_EDGES) - 1)
    counts, _ = np.histogram(np.concatenate(intervals), bins=INTERVAL_BIN_EDGES)
    return _fractions(counts)
