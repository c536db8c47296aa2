import music21
import pytest

from catalog.midi.corpus import (
    COLLECTION_STYLES,
    CorpusFailure,
    CorpusItem,
    CorpusPiece,
    balanced_limits,
    collection_files,
    load_pieces,
    plan_corpus,
    split_abc_tunes,
)
from catalog.midi.features import extract_features
from catalog.midi.scores import score_to_midi
from catalog.midi.style_space import STYLES
from catalog.midi.validation import load_midi


def test_an_abc_file_splits_into_its_tunes_each_with_the_file_header():
    text = "%abc header\nX:1\nT:One\nK:G\nGAB|\nX:2\nT:Two\nK:D\nDEF|\n"
    tunes = split_abc_tunes(text)
    assert len(tunes) == 2
    assert tunes[1].startswith("%abc header\nX:2\nT:Two")
    assert "T:One" not in tunes[1]


def test_every_style_has_a_collection_and_every_mapped_collection_exists():
    assert {info.style for info in COLLECTION_STYLES.values()} == set(STYLES)
    assert set(COLLECTION_STYLES) <= set(collection_files())


def test_a_limited_plan_spreads_over_the_collection_with_stable_ids():
    items = plan_corpus(["bach"], 3).items
    assert len({item.source_id for item in items}) == 3
    assert {item.style for item in items} == {"chorale"}
    assert items == plan_corpus(["bach"], 3).items
    assert items[0].path != items[1].path


def test_multi_tune_abc_files_give_one_item_per_tune_but_josquin_voices_stay_together():
    oneill = plan_corpus(["oneills1850"]).items
    assert len(oneill) > 1000
    assert all(item.tune_index is not None for item in oneill)
    assert all(item.tune_index is None for item in plan_corpus(["josquin"]).items)


def test_unstyled_collections_are_skipped_with_a_reason_and_unknown_ones_refused():
    plan = plan_corpus(["chopin", "bach"], 1)
    assert [skipped.collection for skipped in plan.skipped] == ["chopin"]
    assert "romantic" in plan.skipped[0].reason.lower()
    with pytest.raises(ValueError, match="nosuchcollection"):
        plan_corpus(["nosuchcollection"])


def test_a_piece_in_two_formats_is_imported_once():
    beethoven = collection_files()["beethoven"]
    assert "beethoven/opus18no1/movement1.mxl" in beethoven
    assert "beethoven/opus18no1/movement1.krn" not in beethoven


def test_balanced_limits_give_each_style_the_same_share():
    limits = balanced_limits(10)
    for style in STYLES:
        members = [name for name, info in COLLECTION_STYLES.items() if info.style == style]
        assert sum(limits[name] for name in members) == 10


def test_pieces_load_in_parallel_and_a_broken_one_is_a_failure_not_a_crash():
    items = [*plan_corpus(["essenFolksong"], 3).items, CorpusItem("bach", "bach/missing.mxl")]
    results = list(load_pieces(items, workers=2, batch_size=1))
    pieces = [result for result in results if isinstance(result, CorpusPiece)]
    failures = [result for result in results if isinstance(result, CorpusFailure)]
    assert len(pieces) == 3 and all(piece.style == "folk" for piece in pieces)
    assert [failure.source_id for failure in failures] == ["music21:bach/missing.mxl"]
    assert failures[0].reason
    assert load_midi(pieces[0].midi_bytes)


def test_scores_become_midi_with_ties_merged_and_the_tempo_kept():
    part = music21.stream.Part()
    part.append(music21.tempo.MetronomeMark(number=90))
    first = music21.note.Note("C4", quarterLength=2)
    first.tie = music21.tie.Tie("start")
    second = music21.note.Note("C4", quarterLength=1)
    second.tie = music21.tie.Tie("stop")
    part.append([first, second, music21.note.Note("E4", quarterLength=1)])
    midi = load_midi(score_to_midi(music21.stream.Score([part]), title="test"))
    notes = midi.instruments[0].notes
    assert [note.pitch for note in notes] == [60, 64]
    assert notes[0].end - notes[0].start == pytest.approx(2.0)  # three beats at 90 bpm
    assert extract_features(midi).tempo_bpm == pytest.approx(90.0)
