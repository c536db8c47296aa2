"""MIDI files to training segments for the generator.

Representation (one segment)
----------------------------
``tokens[voice, step]`` with ``VOICES = 4`` monophonic voices ordered from highest to
lowest mean pitch, on a 16th-note grid, ``BARS_PER_SEGMENT = 16`` bars of
``STEPS_PER_BAR = 16`` steps. Each token is ``REST``, ``HOLD`` (the voice's previous note
continues) or the onset of a pitch in ``[MIN_PITCH, MAX_PITCH]``.

Voice extraction
----------------
The corpus is mostly part music written one part per MIDI instrument (chorales, masses,
madrigals, string quartets) or single-line tunes (fiddle, folk). Instruments are
therefore the primary voices, which keeps each voice a coherent melodic line instead of
a pitch-sorted reshuffle of the chord tones. When a piece has more than four
instruments, the four busiest are kept (a fifth or sixth Renaissance voice mostly doubles
the texture). When it has fewer than four and one instrument plays chords (a keyboard
part), that instrument is split by pitch order: its *skyline* (at each onset the highest
note) becomes one voice and the notes under it are split again, until four voices exist
or nothing polyphonic remains.

Grid and meter
--------------
Note times are converted to MIDI ticks, so quantization follows the file's own beat grid
through any tempo changes: one step is a quarter note's ticks divided by four. A "bar" of
the model is four quarter notes (a 4/4 bar). Pieces in other meters are cut into the
same four-quarter windows from their first tick: a 3/4 or 6/8 piece is still a sequence
of 16th notes, only its bar lines do not align with the model's bars. This keeps one
fixed tensor shape for every style; the conductor learns the phrase structure that is
there rather than a notated meter.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pretty_midi

from catalog.midi.style_space import REGISTER_PITCH_RANGE, VECTOR_DIM

VOICES = 4
STEPS_PER_BAR = 16
BARS_PER_SEGMENT = 16
STEPS_PER_QUARTER = 4
MIN_PITCH = 36
MAX_PITCH = 96
REST = 0
HOLD = 1
PITCH_OFFSET = 2
VOCAB_SIZE = PITCH_OFFSET + MAX_PITCH - MIN_PITCH + 1
SPLITS = ("train", "valid", "test")
DATA_FORMAT_VERSION = 1
_REGISTER_INDEX = VECTOR_DIM - 3  # "register" in style_space.ATTRIBUTES
_REGISTER_SPAN = REGISTER_PITCH_RANGE[1] - REGISTER_PITCH_RANGE[0]


@dataclass(frozen=True)
class TrainingPiece:
    """One piece of the training corpus: its MIDI file and its style-space condition."""

    piece_id: str
    midi_path: Path
    condition: np.ndarray
    style: str


@dataclass(frozen=True)
class DataConfig:
    bars_per_segment: int = BARS_PER_SEGMENT
    min_filled_bars: int = 8
    min_sounding_fraction: float = 0.25
    valid_fraction: float = 0.1
    test_fraction: float = 0.1


@dataclass(frozen=True)
class GridNote:
    start: int
    end: int
    pitch: int


@dataclass
class SegmentDataset:
    """Segments of all pieces; ``piece_index`` maps a segment to ``piece_ids``/``styles``."""

    tokens: np.ndarray  # (segments, VOICES, steps) uint8
    conditions: np.ndarray  # (segments, VECTOR_DIM) float32
    piece_index: np.ndarray  # (segments,) int32
    piece_ids: list[str]
    styles: list[str]
    piece_splits: list[str]
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def segment_splits(self) -> np.ndarray:
        return np.asarray(self.piece_splits, dtype=object)[self.piece_index]

    @property
    def segment_styles(self) -> np.ndarray:
        return np.asarray(self.styles, dtype=object)[self.piece_index]

    def subset(self, split: str) -> SegmentDataset:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        mask = self.segment_splits == split
        return SegmentDataset(
            tokens=self.tokens[mask],
            conditions=self.conditions[mask],
            piece_index=self.piece_index[mask],
            piece_ids=self.piece_ids,
            styles=self.styles,
            piece_splits=self.piece_splits,
        )


def as_training_piece(piece: TrainingPiece | tuple) -> TrainingPiece:
    """Accept the ``(piece_id, midi_path, condition, style)`` tuples of the data contract."""
    if isinstance(piece, TrainingPiece):
        return piece
    piece_id, midi_path, condition, style = piece
    return TrainingPiece(str(piece_id), Path(midi_path), np.asarray(condition, np.float32), style)


def split_of(piece_id: str, config: DataConfig = DataConfig()) -> str:
    """The split of a piece, from a stable hash of its id (never by segment)."""
    digest = hashlib.sha256(piece_id.encode("utf-8")).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    if fraction < config.test_fraction:
        return "test"
    if fraction < config.test_fraction + config.valid_fraction:
        return "valid"
    return "train"


def pitch_to_token(pitch: int) -> int:
    """Token of a pitch; pitches outside the modelled range move by octaves into it."""
    while pitch < MIN_PITCH:
        pitch += 12
    while pitch > MAX_PITCH:
        pitch -= 12
    return PITCH_OFFSET + pitch - MIN_PITCH


def token_to_pitch(token: int) -> int:
    return MIN_PITCH + token - PITCH_OFFSET


def _grid_notes(midi: pretty_midi.PrettyMIDI, instrument: pretty_midi.Instrument) -> list[GridNote]:
    ticks_per_step = midi.resolution / STEPS_PER_QUARTER
    notes = []
    for note in instrument.notes:
        start = round(midi.time_to_tick(note.start) / ticks_per_step)
        end = max(start + 1, round(midi.time_to_tick(note.end) / ticks_per_step))
        notes.append(GridNote(start, end, note.pitch))
    return notes


def skyline(notes: Sequence[GridNote]) -> tuple[list[GridNote], list[GridNote]]:
    """Split notes into a monophonic line (highest note at each onset) and the rest.

    A later onset cuts the sounding line note short, so the line never overlaps itself.
    """
    line: list[GridNote] = []
    rest: list[GridNote] = []
    for note in sorted(notes, key=lambda n: (n.start, -n.pitch)):
        if line and line[-1].start == note.start:
            rest.append(note)
            continue
        if line and line[-1].end > note.start:
            line[-1] = GridNote(line[-1].start, note.start, line[-1].pitch)
        line.append(note)
    return line, rest


def extract_voices(midi: pretty_midi.PrettyMIDI) -> list[list[GridNote]]:
    """Up to ``VOICES`` monophonic voices, highest mean pitch first (see module docs)."""
    parts = [_grid_notes(midi, i) for i in midi.instruments if not i.is_drum and i.notes]
    parts = sorted(parts, key=len, reverse=True)[:VOICES]
    voices = []
    pending = []
    for part in parts:
        line, rest = skyline(part)
        voices.append(line)
        pending.append(rest)
    while len(voices) < VOICES and any(pending):
        busiest = max(range(len(pending)), key=lambda i: len(pending[i]))
        line, rest = skyline(pending[busiest])
        pending[busiest] = rest
        voices.append(line)
        pending.append([])
    return sorted(voices, key=lambda v: -float(np.mean([n.pitch for n in v])))


def voices_to_grid(voices: Sequence[Sequence[GridNote]], steps: int | None = None) -> np.ndarray:
    """The token grid ``(VOICES, steps)`` of monophonic voices."""
    if steps is None:
        steps = max((n.end for voice in voices for n in voice), default=0)
    grid = np.full((VOICES, steps), REST, dtype=np.uint8)
    for index, voice in enumerate(voices[:VOICES]):
        for note in voice:
            if note.start >= steps:
                continue
            grid[index, note.start] = pitch_to_token(note.pitch)
            grid[index, note.start + 1 : min(note.end, steps)] = HOLD
    return grid


def midi_to_grid(midi: pretty_midi.PrettyMIDI | Path | str) -> np.ndarray:
    if not isinstance(midi, pretty_midi.PrettyMIDI):
        midi = pretty_midi.PrettyMIDI(str(midi))
    return voices_to_grid(extract_voices(midi))


def window(grid: np.ndarray, start: int, steps: int) -> np.ndarray:
    """``steps`` steps of a grid from ``start``, padded with rests.

    A note held across the window start is re-struck, so no voice begins with a HOLD.
    """
    segment = np.full((grid.shape[0], steps), REST, dtype=np.uint8)
    piece = grid[:, start : start + steps]
    segment[:, : piece.shape[1]] = piece
    if start > 0 and piece.shape[1]:
        for voice in np.flatnonzero(segment[:, 0] == HOLD):
            onsets = np.flatnonzero(grid[voice, :start] >= PITCH_OFFSET)
            segment[voice, 0] = grid[voice, onsets[-1]] if onsets.size else REST
    return segment


def segment_grid(grid: np.ndarray, config: DataConfig = DataConfig()) -> list[np.ndarray]:
    """Non-overlapping segments; a short tail is kept when it fills ``min_filled_bars``."""
    steps = config.bars_per_segment * STEPS_PER_BAR
    sounding = (grid != REST).any(axis=0)
    segments = []
    for start in range(0, grid.shape[1], steps):
        content = sounding[start : start + steps]
        last_sounding = np.flatnonzero(content)
        filled_bars = (last_sounding[-1] + 1) / STEPS_PER_BAR if last_sounding.size else 0
        if filled_bars >= config.min_filled_bars and (
            content.sum() >= config.min_sounding_fraction * steps
        ):
            segments.append(window(grid, start, steps))
    return segments


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_key(pieces: Sequence[TrainingPiece], config: DataConfig) -> str:
    """Hash of everything a dataset depends on: code version, config, files, conditions."""
    hasher = hashlib.sha256()
    hasher.update(json.dumps({"version": DATA_FORMAT_VERSION, **asdict(config)}).encode())
    for piece in pieces:
        hasher.update(piece.piece_id.encode() + b"\0" + piece.style.encode() + b"\0")
        hasher.update(np.asarray(piece.condition, np.float32).tobytes())
        hasher.update(_file_digest(piece.midi_path).encode())
    return hasher.hexdigest()


def build_dataset(
    pieces: Sequence[TrainingPiece | tuple],
    config: DataConfig = DataConfig(),
    cache_dir: Path | None = None,
) -> SegmentDataset:
    """Segments of every piece, split by piece; cached in ``cache_dir`` when given."""
    training_pieces = [as_training_piece(p) for p in pieces]
    cache_path = None
    if cache_dir is not None:
        cache_path = Path(cache_dir) / f"segments-{cache_key(training_pieces, config)[:24]}.npz"
        if cache_path.exists():
            return load_dataset(cache_path)
    dataset = _segment_pieces(training_pieces, config)
    if cache_path is not None:
        save_dataset(dataset, cache_path)
    return dataset


def _segment_pieces(pieces: Sequence[TrainingPiece], config: DataConfig) -> SegmentDataset:
    steps = config.bars_per_segment * STEPS_PER_BAR
    tokens, conditions, piece_index = [], [], []
    piece_ids, styles, splits, skipped = [], [], [], []
    for piece in pieces:
        try:
            segments = segment_grid(midi_to_grid(piece.midi_path), config)
        except (OSError, ValueError, EOFError, KeyError, IndexError) as error:
            skipped.append(f"{piece.piece_id}: {error}")
            continue
        if not segments:
            skipped.append(f"{piece.piece_id}: shorter than {config.min_filled_bars} bars")
            continue
        index = len(piece_ids)
        piece_ids.append(piece.piece_id)
        styles.append(piece.style)
        splits.append(split_of(piece.piece_id, config))
        tokens.extend(segments)
        conditions.extend([np.asarray(piece.condition, np.float32)] * len(segments))
        piece_index.extend([index] * len(segments))
    return SegmentDataset(
        tokens=np.stack(tokens) if tokens else np.zeros((0, VOICES, steps), np.uint8),
        conditions=np.stack(conditions) if conditions else np.zeros((0, VECTOR_DIM), np.float32),
        piece_index=np.asarray(piece_index, dtype=np.int32),
        piece_ids=piece_ids,
        styles=styles,
        piece_splits=splits,
        skipped=skipped,
    )


def save_dataset(dataset: SegmentDataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        temporary,
        tokens=dataset.tokens,
        conditions=dataset.conditions,
        piece_index=dataset.piece_index,
        piece_ids=np.asarray(dataset.piece_ids, dtype=str),
        styles=np.asarray(dataset.styles, dtype=str),
        piece_splits=np.asarray(dataset.piece_splits, dtype=str),
        skipped=np.asarray(dataset.skipped, dtype=str),
    )
    temporary.replace(path)


def load_dataset(path: Path) -> SegmentDataset:
    with np.load(path, allow_pickle=False) as archive:
        return SegmentDataset(
            tokens=archive["tokens"],
            conditions=archive["conditions"],
            piece_index=archive["piece_index"],
            piece_ids=archive["piece_ids"].tolist(),
            styles=archive["styles"].tolist(),
            piece_splits=archive["piece_splits"].tolist(),
            skipped=archive["skipped"].tolist(),
        )


def transpose(
    tokens: np.ndarray, conditions: np.ndarray, max_shift: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Shift each segment by a random number of semitones that keeps it in range.

    The register attribute of the condition moves with the pitches, so the condition
    still describes the transposed music.
    """
    tokens = tokens.copy()
    conditions = conditions.copy()
    for index in range(tokens.shape[0]):
        pitched = tokens[index] >= PITCH_OFFSET
        if not pitched.any():
            continue
        values = tokens[index][pitched].astype(np.int16)
        low = max(-max_shift, PITCH_OFFSET - int(values.min()))
        high = min(max_shift, VOCAB_SIZE - 1 - int(values.max()))
        shift = int(rng.integers(low, high + 1))
        tokens[index][pitched] = (values + shift).astype(np.uint8)
        register = conditions[index, _REGISTER_INDEX] + shift / _REGISTER_SPAN
        conditions[index, _REGISTER_INDEX] = float(np.clip(register, 0.0, 1.0))
    return tokens, conditions


def epoch_order(
    dataset: SegmentDataset, rng: np.random.Generator, style_balance: float = 0.0
) -> np.ndarray:
    """The segment indices of one epoch, ``len(dataset)`` of them.

    ``style_balance`` 0 is a plain shuffle (every segment once). Above 0, segments are drawn
    with replacement with probability proportional to ``(segments of their style) **
    -style_balance``: at 1 every style is drawn equally often, so that a style with few
    long pieces is not drowned by one with many (the catalog gives Renaissance masses
    seven times the segments of folk songs).
    """
    if not 0.0 <= style_balance <= 1.0:
        raise ValueError(f"style_balance must be in [0, 1], got {style_balance}")
    if style_balance == 0.0:
        return rng.permutation(len(dataset))
    _, style_index, counts = np.unique(
        dataset.segment_styles.astype(str), return_inverse=True, return_counts=True
    )
    weights = counts[style_index].astype(float) ** -style_balance
    return rng.choice(len(dataset), size=len(dataset), replace=True, p=weights / weights.sum())


def iterate_batches(
    dataset: SegmentDataset,
    batch_size: int,
    rng: np.random.Generator,
    max_transpose: int = 0,
    style_balance: float = 0.0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shuffled ``(tokens, conditions)`` batches (see :func:`epoch_order`), transposed when
    ``max_transpose`` > 0."""
    order = epoch_order(dataset, rng, style_balance)
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        tokens, conditions = dataset.tokens[chosen], dataset.conditions[chosen]
        if max_transpose > 0:
            tokens, conditions = transpose(tokens, conditions, max_transpose, rng)
        yield tokens, conditions


def dataset_statistics(dataset: SegmentDataset) -> dict[str, dict[str, object]]:
    """Per style: pieces and segments per split, notes, voices used, pitch range."""
    statistics: dict[str, dict[str, object]] = {}
    segment_styles = dataset.segment_styles
    segment_splits = dataset.segment_splits
    pieces_by_style: dict[str, Counter] = defaultdict(Counter)
    for style, split in zip(dataset.styles, dataset.piece_splits, strict=True):
        pieces_by_style[style][split] += 1
    for style in sorted(pieces_by_style):
        mask = segment_styles == style
        tokens = dataset.tokens[mask]
        pitched = tokens[tokens >= PITCH_OFFSET]
        voices_used = (tokens != REST).any(axis=2).sum(axis=1) if len(tokens) else np.zeros(1)
        statistics[style] = {
            "pieces": {split: pieces_by_style[style][split] for split in SPLITS},
            "segments": {split: int((mask & (segment_splits == split)).sum()) for split in SPLITS},
            "notes": int(pitched.size),
            "mean_voices": round(float(np.mean(voices_used)), 3),
            "pitch_range": (
                [token_to_pitch(int(pitched.min())), token_to_pitch(int(pitched.max()))]
                if pitched.size
                else None
            ),
        }
    return statistics
