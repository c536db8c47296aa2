"""Readable titles for corpus pieces, whose files often carry none.

music21 falls back to the file name when a score has no title, and some collections' files
hold the first voice's name ("CANTO") or scanner debris instead of one. The corpus's own
layout and tables say more: Bach chorales are numbered by BWV (music21 ships their titles),
Monteverdi's madrigals by book and number, quartet movements by opus or Köchel number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath

from music21.corpus import chorales

_BWV = re.compile(r"^bwv(?P<number>\d+(?:\.\d+)?)(?P<variant>-[a-z]+)?$")
_MADRIGAL = re.compile(r"^madrigal\.(?P<book>\d+)\.(?P<number>\d+)$")
_MOVEMENT = re.compile(r"^movement(?P<number>\d+)(?:_(?P<part>[a-z]+))?$")
_OPUS = re.compile(r"^opus(?P<opus>\d+)(?:no(?P<number>\d+))?$")
_KOECHEL = re.compile(r"^k(?P<number>\d+)$")
# "8. FERIR QUEL PETTO" or "3.12: Perfidissimo Volto": a numbered title, not a voice name.
_NUMBERED_TITLE = re.compile(r"^\d+(?:\.\d+)?[.:]\s*(?P<title>\S.*)$")
_FILE_LIKE = re.compile(r"^\S*[\d._]\S*$")


@dataclass(frozen=True)
class ScoreTitles:
    """What a score's metadata says of its name (``None`` where it says nothing)."""

    title: str | None = None
    movement_name: str | None = None
    parent_title: str | None = None


def piece_title(path: str, tune_index: int | None, titles: ScoreTitles) -> str:
    """The title to show for the corpus file ``path`` (one tune of it when ``tune_index``)."""
    file = PurePosixPath(path)
    for derive in (_chorale_title, _madrigal_title, _movement_title):
        derived = derive(file, titles)
        if derived:
            return derived
    named = _metadata_title(file, titles)
    if named:
        return named
    stem = _stem_title(file.stem)
    return stem if tune_index is None else f"{stem} #{tune_index + 1}"


def tidy_title(text: str) -> str:
    """Spacing collapsed, closing punctuation dropped, shouting turned into title case."""
    text = " ".join(text.split()).rstrip(".,;:").strip()
    letters = [character for character in text if character.isalpha()]
    if len(letters) >= 4 and all(letter.isupper() for letter in letters):
        text = " ".join(word[:1] + word[1:].lower() for word in text.split(" "))
    return text


@cache
def _chorale_titles() -> dict[str, str]:
    return {
        number: str(entry["title"])
        for number, entry in chorales.ChoraleListRKBWV().byBWV.items()
        if entry.get("title")
    }


def _chorale_title(file: PurePosixPath, titles: ScoreTitles) -> str | None:
    match = _BWV.match(file.stem)
    if file.parent.name != "bach" or match is None:
        return None
    number = match["number"]
    known = _chorale_titles()
    name = known.get(number + (match["variant"] or "")) or known.get(number)
    return f"{tidy_title(name)} (BWV {number})" if name else f"Chorale, BWV {number}"


def _madrigal_title(file: PurePosixPath, titles: ScoreTitles) -> str | None:
    match = _MADRIGAL.match(file.stem)
    if match is None:
        return None
    numbered = f"Madrigals, Book {match['book']}, No. {match['number']}"
    for candidate in (titles.title, titles.movement_name):
        text = _NUMBERED_TITLE.match(candidate.strip()) if candidate else None
        if text:
            return f"{numbered}: {tidy_title(text['title'])}"
    return numbered


def _movement_title(file: PurePosixPath, titles: ScoreTitles) -> str | None:
    match = _MOVEMENT.match(file.stem)
    work = _work_label(file.parent.name)
    if match is None or work is None:
        return None
    part = f" ({match['part']})" if match["part"] else ""
    return f"{work}, movement {match['number']}{part}"


def _work_label(folder: str) -> str | None:
    opus = _OPUS.match(folder)
    if opus:
        return f"Op. {opus['opus']}" + (f" No. {opus['number']}" if opus["number"] else "")
    koechel = _KOECHEL.match(folder)
    return f"K. {koechel['number']}" if koechel else None


def _metadata_title(file: PurePosixPath, titles: ScoreTitles) -> str | None:
    named = [
        tidy_title(candidate)
        for candidate in (titles.title, titles.movement_name)
        if candidate and _is_a_title(candidate, file)
    ]
    if not named:
        return None
    parent = titles.parent_title
    if parent and _is_a_title(parent, file):
        return f"{tidy_title(parent)}: {named[0]}"
    return named[0]


def _stem_title(stem: str) -> str:
    """A file name as a title: a catalogue-number prefix ("PMFC_13_16-") dropped."""
    prefix, _, rest = stem.partition("-")
    name = rest if rest and _FILE_LIKE.match(prefix) else stem
    return tidy_title(name.replace("_", " "))


def _is_a_title(text: str, file: PurePosixPath) -> bool:
    if text.strip() == file.name:
        return False
    tidy = tidy_title(text)
    letters = sum(character.isalpha() for character in tidy)
    readable = letters >= 3 and letters >= 0.6 * len(tidy.replace(" ", ""))
    return readable and not _FILE_LIKE.match(tidy)
