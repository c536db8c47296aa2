"""Playlist flow ordering on small hand-made playlists."""

from __future__ import annotations

import itertools
import random

import numpy as np

from catalog.midi.style_space import STYLES, compose_vector, one_hot_style
from generation.flow import FlowItem, insert_for_flow, key_distance, order_for_flow, path_cost


def item(key: str, style: str, tonic: str, major: bool, tempo: float, artist: str = "") -> FlowItem:
    vector = compose_vector(one_hot_style(style), np.full(5, 0.5, dtype=np.float32))
    return FlowItem(key, vector.tolist(), tonic, major, tempo, artist)


def test_relative_keys_are_neighbours_and_tritones_are_far():
    c_major = item("a", "folk", "C", True, 100)
    a_minor = item("b", "folk", "A", False, 100)
    f_sharp = item("c", "folk", "F#", True, 100)
    assert key_distance(c_major, a_minor) == 0
    assert key_distance(c_major, f_sharp) == 1


def test_ordering_groups_styles_and_beats_a_random_order():
    rng = random.Random(7)
    tonics = ["C", "G", "D", "A", "E", "F"]
    items = [
        item(f"{style}-{i}", style, rng.choice(tonics), rng.random() < 0.5, rng.uniform(60, 180))
        for style in STYLES[:4]
        for i in range(5)
    ]
    rng.shuffle(items)
    ordered = order_for_flow(items)
    assert sorted(i.key for i in ordered) == sorted(i.key for i in items)
    assert ordered[0] is items[0]
    style_changes = sum(
        a.key.split("-")[0] != b.key.split("-")[0] for a, b in itertools.pairwise(ordered)
    )
    assert style_changes <= 6  # 4 styles need 3 changes; a random order has about 15
    assert path_cost(ordered) < path_cost(items)


def test_the_same_artist_is_not_played_twice_in_a_row_when_avoidable():
    items = [
        item("x1", "fiddle", "D", True, 120, artist="X"),
        item("x2", "fiddle", "D", True, 120, artist="X"),
        item("y1", "fiddle", "D", True, 120, artist="Y"),
        item("y2", "fiddle", "D", True, 120, artist="Y"),
    ]
    ordered = order_for_flow(items)
    assert all(a.artist != b.artist for a, b in itertools.pairwise(ordered))


def test_insertion_keeps_an_arranged_order_and_puts_newcomers_where_they_fit():
    arranged = [
        item("folk-1", "folk", "G", True, 100),
        item("folk-2", "folk", "G", True, 100),
        item("fiddle-1", "fiddle", "D", True, 140),
        item("fiddle-2", "fiddle", "D", True, 140),
    ]
    newcomers = [item("fiddle-3", "fiddle", "D", True, 140), item("folk-3", "folk", "G", True, 100)]
    merged = insert_for_flow(arranged, newcomers)
    assert [i.key for i in merged if i in arranged] == [i.key for i in arranged]
    keys = [i.key for i in merged]
    assert keys.index("folk-3") < keys.index("fiddle-1")  # among the folk tunes
    assert keys.index("fiddle-3") > keys.index("folk-2")  # among the fiddle tunes
