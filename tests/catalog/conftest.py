from __future__ import annotations

import pytest

from catalog.midi.corpus import CorpusItem, CorpusPiece, load_piece

BACH_CHORALE = CorpusItem("bach", "bach/bwv66.6.mxl")  # four voices, in F-sharp minor
FIDDLE_REEL = CorpusItem("ryansMammoth", "ryansMammoth/7thRegimentReel.abc")


@pytest.fixture(scope="session")
def corpus_piece():
    """Loads real corpus pieces once per test session."""
    loaded: dict[CorpusItem, CorpusPiece] = {}

    def load(item: CorpusItem) -> CorpusPiece:
        if item not in loaded:
            loaded[item] = load_piece(item)
        return loaded[item]

    return load
