import copy

import numpy as np
import pytest

from catalog.midi.style_space import ATTRIBUTES, STYLE_DIM, STYLES, VECTOR_DIM, normalize_tempo
from recommender.ml.artifacts import load_artifact, save_artifact
from recommender.ml.taste import (
    ExplicitPreferences,
    Feedback,
    ListenEvents,
    TasteModel,
    UserHistory,
)

NOW = 1_700_000_000.0
DAY = 86_400.0
TRACKS_PER_STYLE = 10
TEMPO = STYLE_DIM + ATTRIBUTES.index("tempo")


def _catalog():
    """Ten one-hot tracks per style; each style has its own typical tempo."""
    rng = np.random.default_rng(0)
    vectors = np.zeros((STYLE_DIM * TRACKS_PER_STYLE, VECTOR_DIM), dtype=np.float32)
    for style in range(STYLE_DIM):
        rows = slice(style * TRACKS_PER_STYLE, (style + 1) * TRACKS_PER_STYLE)
        vectors[rows, style] = 1.0
        vectors[rows, STYLE_DIM:] = rng.random((TRACKS_PER_STYLE, len(ATTRIBUTES)))
        vectors[rows, TEMPO] = style / STYLE_DIM
    return vectors


def _tracks_of(style):
    start = STYLES.index(style) * TRACKS_PER_STYLE
    return np.arange(start, start + TRACKS_PER_STYLE)


def _listens(tracks, skipped=None, days_ago=1.0):
    tracks = np.asarray(tracks)
    count = len(tracks)
    return ListenEvents(
        track_index=tracks,
        listened_at=np.full(count, NOW - days_ago * DAY),
        ms_played=np.full(count, 180_000.0),
        duration_ms=np.full(count, 180_000.0),
        skipped=np.zeros(count, bool) if skipped is None else np.asarray(skipped),
    )


def _listener(main_style, rng, main_share=0.8, count=40):
    main = rng.choice(_tracks_of(main_style), int(count * main_share))
    other = rng.integers(0, STYLE_DIM * TRACKS_PER_STYLE, count - len(main))
    return UserHistory(listens=_listens(np.concatenate([main, other])))


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    histories = [_listener(STYLES[i % STYLE_DIM], rng) for i in range(70)]
    return TasteModel().fit(histories, _catalog(), now=NOW)


def _styles(vector):
    return dict(zip(STYLES, vector[:STYLE_DIM], strict=True))


def test_mostly_one_style_listener_gets_that_style_on_top(model):
    vector = model.conditioning_vector(_listener("fiddle", np.random.default_rng(9)))
    assert next(iter(model.explain(vector))) == "fiddle"
    assert vector[:STYLE_DIM].sum() == pytest.approx(1.0, abs=1e-5)
    assert ((vector[STYLE_DIM:] >= 0) & (vector[STYLE_DIM:] <= 1)).all()


def test_hates_push_a_style_down(model):
    listens = _listens(np.concatenate([_tracks_of("folk"), _tracks_of("chorale")]))
    neutral = model.conditioning_vector(UserHistory(listens=listens))
    hated = _tracks_of("chorale")[:5]
    hating = UserHistory(listens=listens, feedback=Feedback(hated, -np.ones(len(hated))))
    assert _styles(model.conditioning_vector(hating))["chorale"] < _styles(neutral)["chorale"]


def test_skips_count_against_a_style(model):
    tracks = np.concatenate([_tracks_of("folk"), _tracks_of("medieval")])
    finished = model.conditioning_vector(UserHistory(listens=_listens(tracks)))
    skipped = np.arange(len(tracks)) >= TRACKS_PER_STYLE
    skipping = model.conditioning_vector(UserHistory(listens=_listens(tracks, skipped)))
    assert _styles(skipping)["medieval"] < _styles(finished)["medieval"]


def test_recent_listens_outweigh_old_ones(model):
    old = _listens(_tracks_of("madrigal"), days_ago=720.0)
    recent = _listens(_tracks_of("classical"), days_ago=1.0)
    merged = ListenEvents(
        *(np.concatenate([getattr(old, f), getattr(recent, f)]) for f in old.__dataclass_fields__)
    )
    styles = _styles(model.conditioning_vector(UserHistory(listens=merged)))
    assert styles["classical"] > styles["madrigal"]


def test_explicit_preferences_shift_the_vector(model):
    base = UserHistory(listens=_listens(_tracks_of("folk")[:3]))
    stated = UserHistory(
        listens=base.listens,
        preferences=ExplicitPreferences(styles=("renaissance",), tempo_bpm_range=(200, 240)),
    )
    before, after = model.conditioning_vector(base), model.conditioning_vector(stated)
    assert _styles(after)["renaissance"] > _styles(before)["renaissance"]
    assert abs(after[TEMPO] - normalize_tempo(220)) < abs(before[TEMPO] - normalize_tempo(220))


def test_no_history_gives_the_population_prior(model):
    vector = model.conditioning_vector(UserHistory())
    np.testing.assert_allclose(vector, model.prior_vector)
    # Every style had the same number of fans, so the prior is spread, not peaked.
    assert vector[:STYLE_DIM].max() < 2.0 / STYLE_DIM


def _newer_tracks(count):
    """A history's indices for ``count`` tracks the model (of _catalog()) has not seen."""
    known = STYLE_DIM * TRACKS_PER_STYLE
    return np.arange(known, known + count)


_NO_STYLE = np.zeros((3, VECTOR_DIM), dtype=np.float32)  # listening-history-only tracks


@pytest.mark.parametrize(
    ("history", "knows"),
    [
        (UserHistory(), False),
        (UserHistory(listens=_listens(_tracks_of("folk")[:1])), True),
        (UserHistory(feedback=Feedback(np.array([0]), np.array([-1.0]))), True),
        (UserHistory(preferences=ExplicitPreferences(styles=("folk",))), True),
        (UserHistory(preferences=ExplicitPreferences(tempo_bpm_range=(90, 120))), True),
        (UserHistory(preferences=ExplicitPreferences(avoid_styles=("folk",))), False),
        (
            UserHistory(
                listens=_listens(_newer_tracks(len(_NO_STYLE))), newer_track_vectors=_NO_STYLE
            ),
            False,
        ),
    ],
)
def test_the_model_knows_a_history_by_what_it_says_about_style(model, history, knows):
    assert model.knows(history) is knows


def test_tracks_newer_than_the_model_count_by_their_own_style_vector(model):
    madrigals = _catalog()[_tracks_of("madrigal")[:4]]
    history = UserHistory(listens=_listens(_newer_tracks(4)), newer_track_vectors=madrigals)
    assert next(iter(model.explain(model.conditioning_vector(history)))) == "madrigal"


def test_tracks_without_a_style_vector_change_nothing(model):
    folk = _listens(_tracks_of("folk"))
    unknown = _listens(_newer_tracks(len(_NO_STYLE)))
    merged = ListenEvents(
        *(
            np.concatenate([getattr(folk, f), getattr(unknown, f)])
            for f in folk.__dataclass_fields__
        )
    )
    alone = model.conditioning_vector(UserHistory(listens=folk))
    with_unknown = model.conditioning_vector(
        UserHistory(listens=merged, newer_track_vectors=_NO_STYLE)
    )
    np.testing.assert_allclose(with_unknown, alone, atol=1e-6)


def test_avoided_styles_get_no_weight_whatever_was_played(model):
    fan = _listener("fiddle", np.random.default_rng(9))
    avoiding = UserHistory(
        listens=fan.listens, preferences=ExplicitPreferences(avoid_styles=("fiddle", "folk"))
    )
    vector = model.conditioning_vector(avoiding)
    assert _styles(vector)["fiddle"] == _styles(vector)["folk"] == 0.0
    assert vector[:STYLE_DIM].sum() == pytest.approx(1.0, abs=1e-5)
    everything = ExplicitPreferences(avoid_styles=STYLES)
    unchanged = model.conditioning_vector(UserHistory(listens=fan.listens, preferences=everything))
    np.testing.assert_allclose(unchanged, model.conditioning_vector(fan))


def test_little_history_is_shrunk_toward_the_prior_more_than_much_history(model):
    one = model.conditioning_vector(UserHistory(listens=_listens(_tracks_of("fiddle")[:1])))
    many = model.conditioning_vector(UserHistory(listens=_listens(_tracks_of("fiddle").repeat(5))))
    assert _styles(one)["fiddle"] < _styles(many)["fiddle"]
    assert _styles(one)["fiddle"] > model.prior_styles[STYLES.index("fiddle")]


def test_taste_model_survives_an_artifact_roundtrip(model, tmp_path):
    path = tmp_path / "taste.joblib"
    save_artifact(model, path, version="1", hyperparameters=model.hyperparameters())
    loaded, metadata = load_artifact(path)
    history = _listener("folk", np.random.default_rng(5))
    np.testing.assert_allclose(
        loaded.conditioning_vector(history), model.conditioning_vector(history)
    )
    assert metadata["hyperparameters"]["kappa"] == model.kappa


@pytest.mark.parametrize("listened", [True, False])
def test_stated_preferences_outweigh_the_prior_for_someone_without_history(model, listened):
    if not listened:  # a fresh service: the prior is the catalog's, held with the most weight
        model = TasteModel().fit([UserHistory()], _catalog(), now=NOW)
    fan = UserHistory(
        preferences=ExplicitPreferences(styles=("fiddle",), tempo_bpm_range=(160, 200))
    )
    vector = model.conditioning_vector(fan)
    assert _styles(vector)["fiddle"] >= 0.6
    prior_tempo, target = model.prior_vector[TEMPO], normalize_tempo(180)
    assert abs(vector[TEMPO] - target) < abs(prior_tempo - target) / 2


def test_one_persons_stated_preferences_are_not_everyones_prior():
    rng = np.random.default_rng(5)
    listeners = [_listener(STYLES[i % STYLE_DIM], rng) for i in range(14)]
    talker = UserHistory(preferences=ExplicitPreferences(styles=("fiddle",)))
    for others in ([], listeners):
        with_talker = TasteModel().fit([*others, talker], _catalog(), now=NOW)
        without = TasteModel().fit(others or [UserHistory()], _catalog(), now=NOW)
        np.testing.assert_allclose(with_talker.prior_vector, without.prior_vector, atol=1e-6)
        assert _styles(with_talker.prior_vector)["fiddle"] < 0.3


def test_a_long_history_outweighs_a_stated_style(model):
    chorales = np.repeat(_tracks_of("chorale"), 20)
    listener = UserHistory(listens=_listens(chorales))
    ticked = UserHistory(listens=listener.listens, preferences=ExplicitPreferences(("fiddle",)))
    before, after = (
        _styles(model.conditioning_vector(listener)),
        _styles(model.conditioning_vector(ticked)),
    )
    assert after["fiddle"] > before["fiddle"]
    assert max(after, key=after.get) == "chorale"
    newcomer = _styles(model.conditioning_vector(UserHistory(preferences=ticked.preferences)))
    assert after["fiddle"] < newcomer["fiddle"] / 2  # what they did counts more and more


def test_a_model_stored_before_preference_strength_existed_still_serves(model, tmp_path):
    older = copy.deepcopy(model)
    del older.__dict__["preference_strength"]  # as unpickled from an earlier version
    save_artifact(older, tmp_path / "old.joblib", version="old")
    loaded, _ = load_artifact(tmp_path / "old.joblib")
    stated = UserHistory(preferences=ExplicitPreferences(("fiddle",)))
    np.testing.assert_allclose(
        loaded.conditioning_vector(stated), model.conditioning_vector(stated)
    )
    assert loaded.hyperparameters()["preference_strength"] == 2.0
