"""The music21 package's bundled corpus as catalog pieces: MIDI bytes, metadata and a style.

The corpus ships inside the installed ``music21`` package; nothing is downloaded. A piece is
one score file, or one tune of an ``.abc`` file that holds many tunes. Planning (which pieces
exist, with their stable ``source_id``) reads no scores, so callers can skip pieces they
already hold before any parsing happens; loading runs in worker processes and yields results
as they complete, each piece either a :class:`CorpusPiece` or a :class:`CorpusFailure`.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

import numpy as np
from music21 import converter, stream
from music21 import corpus as music21_corpus

from catalog.midi.features import MidiFeatures, extract_features
from catalog.midi.scores import score_to_midi
from catalog.midi.style_space import STYLES
from catalog.midi.titles import ScoreTitles, piece_title
from catalog.midi.validation import load_midi

T = TypeVar("T")

SOURCE_PREFIX = "music21:"
ABC_SUFFIX = ".abc"
GENERAL_MIDI_VIOLIN = 40


@dataclass(frozen=True)
class CollectionInfo:
    style: str
    composer: str
    default_program: int = 0
    # Some .abc files hold one piece whose voices are written as separate tunes.
    abc_tune_is_piece: bool = True
    # Where the collection's files name their composers reliably.
    composer_from_metadata: bool = False


# The one table that gives each corpus collection its style (style_space.STYLES).
COLLECTION_STYLES: dict[str, CollectionInfo] = {
    "bach": CollectionInfo("chorale", "Johann Sebastian Bach"),
    "palestrina": CollectionInfo("renaissance", "Giovanni Pierluigi da Palestrina"),
    "josquin": CollectionInfo("renaissance", "Josquin des Prez", abc_tune_is_piece=False),
    "lusitano": CollectionInfo("renaissance", "Vicente Lusitano"),
    "monteverdi": CollectionInfo("madrigal", "Claudio Monteverdi"),
    "trecento": CollectionInfo("medieval", "Anonymous", composer_from_metadata=True),
    "ciconia": CollectionInfo("medieval", "Johannes Ciconia"),
    "luca": CollectionInfo("medieval", "Anonymous (Lucca codex)"),
    "ryansMammoth": CollectionInfo("fiddle", "Traditional", GENERAL_MIDI_VIOLIN),
    "oneills1850": CollectionInfo("fiddle", "Traditional", GENERAL_MIDI_VIOLIN),
    "airdsAirs": CollectionInfo("fiddle", "Traditional", GENERAL_MIDI_VIOLIN),
    "nottingham-dataset": CollectionInfo("fiddle", "Traditional", GENERAL_MIDI_VIOLIN),
    "essenFolksong": CollectionInfo("folk", "Traditional"),
    "miscFolk": CollectionInfo("folk", "Traditional"),
    "beethoven": CollectionInfo("classical", "Ludwig van Beethoven"),
    "haydn": CollectionInfo("classical", "Joseph Haydn"),
    "mozart": CollectionInfo("classical", "Wolfgang Amadeus Mozart"),
    "cpebach": CollectionInfo("classical", "Carl Philipp Emanuel Bach"),
}

_BAROQUE = "Baroque instrumental music; no baroque style in the style space"
_ROMANTIC = "Romantic-era music; no romantic style in the style space"
_MODERN = "20th-century music; no modern style in the style space"
SKIPPED_COLLECTIONS: dict[str, str] = {
    "corelli": _BAROQUE,
    "handel": _BAROQUE,
    "beach": _ROMANTIC,
    "chopin": _ROMANTIC,
    "liliuokalani": _ROMANTIC,
    "schubert": _ROMANTIC,
    "schumann_clara": _ROMANTIC,
    "schumann_robert": _ROMANTIC,
    "verdi": _ROMANTIC,
    "weber": _ROMANTIC,
    "johnson_j_r": _MODERN,
    "joplin": _MODERN,
    "schoenberg": _MODERN,
    "webern": _MODERN,
    "demos": "music21 demonstration files, not repertoire",
    "theoryExercises": "music theory exercises, not repertoire",
    "leadSheet": "lead sheets of chord symbols, not a style in the style space",
}

# Where a piece exists in several formats (opus18no1/movement1.krn and .mxl), the first wins.
PREFERRED_SUFFIXES = (".mxl", ".musicxml", ".xml", ".krn", ".abc")

SKIPPED_SUFFIXES: dict[str, str] = {
    ".rntxt": "a Roman-numeral harmonic analysis of a score already in the corpus",
}


@dataclass(frozen=True)
class CorpusItem:
    """A piece to load: a score file, or one tune (``tune_index``) of a multi-tune .abc file."""

    collection: str
    path: str  # relative to the corpus root
    tune_index: int | None = None

    @property
    def source_id(self) -> str:
        suffix = "" if self.tune_index is None else f"#{self.tune_index + 1}"
        return f"{SOURCE_PREFIX}{self.path}{suffix}"

    @property
    def style(self) -> str:
        return COLLECTION_STYLES[self.collection].style


@dataclass(frozen=True)
class CorpusPiece:
    source_id: str
    title: str
    composer: str
    collection: str
    style: str
    midi_bytes: bytes
    features: MidiFeatures


@dataclass(frozen=True)
class CorpusFailure:
    source_id: str
    reason: str


@dataclass(frozen=True)
class SkippedCollection:
    collection: str
    reason: str


@dataclass(frozen=True)
class CorpusPlan:
    items: list[CorpusItem]
    skipped: list[SkippedCollection]


def corpus_root() -> Path:
    return Path(music21_corpus.__file__).resolve().parent


@cache
def collection_files() -> dict[str, tuple[str, ...]]:
    """Score files of each collection, as paths relative to the corpus root, sorted."""
    root = corpus_root()
    by_piece: dict[Path, Path] = {}
    for path in music21_corpus.corpora.CoreCorpus().getPaths():
        relative = Path(path).resolve().relative_to(root)
        if relative.suffix.lower() in SKIPPED_SUFFIXES:
            continue
        piece = relative.with_suffix("")
        if piece not in by_piece or _suffix_rank(relative) < _suffix_rank(by_piece[piece]):
            by_piece[piece] = relative
    files: dict[str, list[str]] = defaultdict(list)
    for relative in by_piece.values():
        files[relative.parts[0]].append(relative.as_posix())
    return {collection: tuple(sorted(paths)) for collection, paths in files.items()}


def _suffix_rank(path: Path) -> int:
    suffix = path.suffix.lower()
    return (
        PREFERRED_SUFFIXES.index(suffix)
        if suffix in PREFERRED_SUFFIXES
        else len(PREFERRED_SUFFIXES)
    )


def balanced_limits(per_style: int) -> dict[str, int]:
    """Per-collection limits giving ``per_style`` pieces of every style where it has them.

    A style's pieces are shared evenly among its collections; what a small collection cannot
    supply passes to the larger ones.
    """
    sizes = {name: len(items) for name, items in _planned_items(COLLECTION_STYLES).items()}
    limits: dict[str, int] = {}
    for style in STYLES:
        members = sorted(
            (name for name, info in COLLECTION_STYLES.items() if info.style == style),
            key=lambda name: sizes.get(name, 0),
        )
        remaining = per_style
        for position, name in enumerate(members):
            share = -(-remaining // (len(members) - position))  # ceiling division
            limits[name] = min(share, sizes.get(name, 0))
            remaining -= limits[name]
    return limits


@dataclass(frozen=True)
class Preset:
    per_style: int
    # Leaves whole multi-movement works (large compressed MusicXML files) out of quick
    # imports: one of them takes half a minute to parse.
    max_mxl_bytes: int | None = None


PRESETS: dict[str, Preset] = {"balanced": Preset(per_style=20, max_mxl_bytes=64_000)}


def plan_preset(name: str) -> CorpusPlan:
    preset = PRESETS[name]
    limits = balanced_limits(preset.per_style)
    return plan_corpus(list(limits), limits, max_mxl_bytes=preset.max_mxl_bytes)


def plan_corpus(
    collections: Sequence[str] | None = None,
    limit: int | Mapping[str, int] | None = None,
    *,
    max_mxl_bytes: int | None = None,
) -> CorpusPlan:
    """The pieces to import: every piece of the named collections (all when ``None``).

    ``limit`` caps the pieces per collection (one number, or one per collection name, where
    a name missing from the mapping is not capped); a capped collection contributes pieces
    spread evenly over it rather than its first ones.
    ``max_mxl_bytes`` leaves out compressed MusicXML files larger than that. Unknown
    collection names raise ``ValueError``.
    """
    available = collection_files()
    names = list(collections) if collections is not None else sorted(available)
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise ValueError(f"unknown corpus collection(s) {unknown}; known: {sorted(available)}")
    items: list[CorpusItem] = []
    skipped: list[SkippedCollection] = []
    for name in names:
        if name not in COLLECTION_STYLES:
            reason = SKIPPED_COLLECTIONS.get(name, "no style in the style space for it")
            skipped.append(SkippedCollection(name, reason))
    planned = _planned_items([name for name in names if name in COLLECTION_STYLES])
    for name, collection_items in planned.items():
        if max_mxl_bytes is not None:
            collection_items = [
                item
                for item in collection_items
                if not item.path.endswith(".mxl")
                or (corpus_root() / item.path).stat().st_size <= max_mxl_bytes
            ]
        cap = limit.get(name) if isinstance(limit, Mapping) else limit
        items.extend(collection_items if cap is None else evenly_spaced(collection_items, cap))
    return CorpusPlan(items=items, skipped=skipped)


def _planned_items(names: Iterable[str]) -> dict[str, list[CorpusItem]]:
    available = collection_files()
    return {
        name: _collection_items(name, available[name], COLLECTION_STYLES[name])
        for name in names
        if name in available
    }


def _collection_items(
    collection: str, paths: Iterable[str], info: CollectionInfo
) -> list[CorpusItem]:
    items: list[CorpusItem] = []
    for path in paths:
        if path.endswith(ABC_SUFFIX) and info.abc_tune_is_piece:
            tune_count = len(split_abc_tunes(_read_text(corpus_root() / path)))
            items.extend(CorpusItem(collection, path, index) for index in range(tune_count))
        else:
            items.append(CorpusItem(collection, path))
    return items


def evenly_spaced(items: Sequence[T], count: int) -> list[T]:
    """``count`` of ``items`` spread evenly from first to last (all of them when fewer)."""
    if count >= len(items):
        return list(items)
    if count <= 0:
        return []
    positions = np.unique(np.linspace(0, len(items) - 1, count).round().astype(int))
    return [items[position] for position in positions]


_TUNE_START = re.compile(r"^X:", re.MULTILINE)


def split_abc_tunes(text: str) -> list[str]:
    """The tunes of an .abc file, each prefixed with the file header (text before tune 1)."""
    starts = [match.start() for match in _TUNE_START.finditer(text)]
    if not starts:
        return [text] if text.strip() else []
    header = text[: starts[0]]
    bounds = [*starts, len(text)]
    return [header + text[begin:end] for begin, end in itertools.pairwise(bounds)]


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def load_piece(item: CorpusItem) -> CorpusPiece:
    """Parse one corpus item and convert it to validated MIDI with features."""
    path = corpus_root() / item.path
    with _without_beaming():
        if item.tune_index is None:
            parsed = converter.parse(path)
        else:
            tune = split_abc_tunes(_read_text(path))[item.tune_index]
            parsed = converter.parse(tune, format="abc")
    if isinstance(parsed, stream.Opus):
        parsed = parsed.scores[0] if item.tune_index is not None else parsed.mergeScores()
    score = parsed
    info = COLLECTION_STYLES[item.collection]
    title = _title(score, item)
    midi_bytes = score_to_midi(score, title=title, default_program=info.default_program)
    features = extract_features(load_midi(midi_bytes))
    return CorpusPiece(
        source_id=item.source_id,
        title=title,
        composer=_composer(score, info),
        collection=item.collection,
        style=info.style,
        midi_bytes=midi_bytes,
        features=features,
    )


@contextmanager
def _without_beaming() -> Iterator[None]:
    """Parse without music21 beaming notes, which MIDI does not need.

    The .abc reader beams every measure for engraving; that is more than half its parse time
    and does not change a single MIDI byte.
    """
    original = stream.Stream.makeBeams
    stream.Stream.makeBeams = _skip_beaming
    try:
        yield
    finally:
        stream.Stream.makeBeams = original


def _skip_beaming(self: stream.Stream, *args: object, **kwargs: object) -> None:
    return None


def _title(score: stream.Stream, item: CorpusItem) -> str:
    metadata = score.metadata
    titles = (
        ScoreTitles(
            title=_text_or_none(metadata.title),
            movement_name=_text_or_none(metadata.movementName),
            parent_title=_text_or_none(metadata.parentTitle),
        )
        if metadata
        else ScoreTitles()
    )
    return piece_title(item.path, item.tune_index, titles)


def _text_or_none(value: object) -> str | None:
    return str(value) if value else None


def _composer(score: stream.Stream, info: CollectionInfo) -> str:
    if info.composer_from_metadata and score.metadata and score.metadata.composer:
        return str(score.metadata.composer).strip()
    return info.composer


def _load_batch(items: list[CorpusItem]) -> list[CorpusPiece | CorpusFailure]:
    results: list[CorpusPiece | CorpusFailure] = []
    for item in items:
        try:
            results.append(load_piece(item))
        except Exception as error:  # any parser failure is one skipped piece
            results.append(CorpusFailure(item.source_id, _describe(error)))
    return results


def _describe(error: BaseException) -> str:
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message[:300]}" if message else type(error).__name__


def _batches(items: Sequence[CorpusItem], batch_size: int) -> list[list[CorpusItem]]:
    """Consecutive items in small batches, so results stream back and work stays balanced."""
    return [list(items[start : start + batch_size]) for start in range(0, len(items), batch_size)]


def load_pieces(
    items: Sequence[CorpusItem], *, workers: int = 2, batch_size: int = 8
) -> Iterator[CorpusPiece | CorpusFailure]:
    """Load ``items`` across ``workers`` processes, yielding each result as it completes."""
    batches = _batches(items, batch_size)
    if workers <= 1:
        for batch in batches:
            yield from _load_batch(batch)
        return
    with ProcessPoolExecutor(max_workers=workers) as executor:
        futures = {executor.submit(_load_batch, batch): batch for batch in batches}
        for future in as_completed(futures):
            try:
                yield from future.result()
            except BrokenProcessPool as error:
                for item in futures[future]:
                    yield CorpusFailure(item.source_id, f"worker process died: {error}")
