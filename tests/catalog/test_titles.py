"""Corpus titles: the metadata values below are what music21's files really carry."""

import pytest

from catalog.midi.corpus import CorpusItem, load_piece
from catalog.midi.titles import ScoreTitles, piece_title, tidy_title


@pytest.mark.parametrize(
    ("path", "titles", "expected"),
    [
        (
            "bach/bwv276.mxl",
            ScoreTitles(movement_name="bwv276.mxl"),
            "Christ ist erstanden (BWV 276)",
        ),
        ("bach/bwv66.6.mxl", ScoreTitles(movement_name="bwv66.6.mxl"), "Chorale, BWV 66.6"),
        ("bach/bwv112.5-sc.mxl", ScoreTitles(), "Der Herr ist mein getreuer Hirt (BWV 112.5)"),
        (
            "monteverdi/madrigal.3.1.mxl",
            ScoreTitles(movement_name="CANTO"),
            "Madrigals, Book 3, No. 1",
        ),
        (
            "monteverdi/madrigal.5.8.mxl",
            ScoreTitles(movement_name="8. FERIR QUEL PETTO, SILVIO?"),
            "Madrigals, Book 5, No. 8: Ferir Quel Petto, Silvio?",
        ),
        (
            "monteverdi/madrigal.3.12.mxl",
            ScoreTitles(movement_name="3.12: Perfidissimo Volto"),
            "Madrigals, Book 3, No. 12: Perfidissimo Volto",
        ),
        (
            "haydn/opus1no1/movement2.mxl",
            ScoreTitles(movement_name="movement2.mxl"),
            "Op. 1 No. 1, movement 2",
        ),
        (
            "beethoven/opus18no1/movement2.mxl",
            ScoreTitles(movement_name="op18_no1_mvmnt2_all"),
            "Op. 18 No. 1, movement 2",
        ),
        ("mozart/k545/movement1_exposition.mxl", ScoreTitles(), "K. 545, movement 1 (exposition)"),
        (
            "beethoven/opus132.mxl",
            ScoreTitles(title="String Quartet No15 Op 132"),
            "String Quartet No15 Op 132",
        ),
        (
            "palestrina/Agnus.krn",
            ScoreTitles(title="Agnus", parent_title="Missa De Beata Marie Virginis (I)"),
            "Missa De Beata Marie Virginis (I): Agnus",
        ),
        (
            "trecento/PMFC_13_16-Gloria.xml",
            ScoreTitles(movement_name="PMFC_13_16-Gloria.xml"),
            "Gloria",
        ),
        (
            "airdsAirs/book1.abc",
            ScoreTitles(title="The Ranting Highlandman."),
            "The Ranting Highlandman",
        ),
        (
            "ryansMammoth/book.abc",
            ScoreTitles(title="LARRY GROGAN'S -- JIG"),
            "Larry Grogan's -- Jig",
        ),
    ],
)
def test_piece_titles_come_from_the_corpus_layout_and_readable_metadata(
    path: str, titles: ScoreTitles, expected: str
) -> None:
    assert piece_title(path, None, titles) == expected


def test_an_untitled_tune_is_named_after_its_file_and_position() -> None:
    assert piece_title("essenFolksong/han1.abc", 4, ScoreTitles()) == "han1 #5"


def test_unreadable_metadata_is_not_taken_for_a_title() -> None:
    scanned = ScoreTitles(movement_name=".lV.L\"'!UCl'l.v .J.u,.:;l';'V")
    assert piece_title("lusitano/piece.mxl", None, scanned) == "piece"


def test_tidy_title_keeps_mixed_case_and_inner_punctuation() -> None:
    assert tidy_title("  Gloria:  Suscipe, trinitas. ") == "Gloria: Suscipe, trinitas"


def test_a_loaded_chorale_carries_its_hymn_title_into_catalog_and_midi() -> None:
    piece = load_piece(CorpusItem("bach", "bach/bwv368.mxl"))

    assert piece.title == "In dulci jubilo (BWV 368)"
    assert b"In dulci jubilo (BWV 368)" in piece.midi_bytes
