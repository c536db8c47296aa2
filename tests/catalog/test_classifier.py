import numpy as np
import pytest

from catalog.midi.classifier import (
    ClassifierArtifactError,
    StyleClassifier,
    TrainingConfig,
    train_style_classifier,
)
from catalog.midi.corpus import CorpusPiece, load_pieces, plan_corpus
from catalog.midi.excerpts import excerpts, reduced
from catalog.midi.features import extract_features
from catalog.midi.style_space import STYLE_DIM, STYLES
from catalog.midi.validation import load_midi


@pytest.fixture(scope="module")
def labelled_pieces() -> list[CorpusPiece]:
    items = plan_corpus(["bach", "essenFolksong", "ryansMammoth"], 10).items
    pieces = [piece for piece in load_pieces(items, workers=1) if isinstance(piece, CorpusPiece)]
    assert len(pieces) == 30
    return pieces


@pytest.fixture(scope="module")
def classifier(labelled_pieces) -> StyleClassifier:
    return train_style_classifier(
        [piece.features for piece in labelled_pieces],
        [piece.style for piece in labelled_pieces],
        config=TrainingConfig(test_size=0.3, max_iter=50),
    )


def test_held_out_accuracy_beats_chance_and_the_matrix_counts_the_test_set(classifier):
    metrics = classifier.metrics
    assert metrics.accuracy >= 0.6  # chance is one in three
    assert sum(map(sum, metrics.confusion_matrix)) == metrics.test_size == 9
    assert metrics.train_size == 21
    assert set(metrics.labels) <= {"chorale", "folk", "fiddle"}
    assert "chorale" in metrics.format_confusion_matrix()


def test_style_weights_are_probabilities_in_style_space_order(classifier, labelled_pieces):
    chorales = [piece.features for piece in labelled_pieces if piece.style == "chorale"]
    weights = classifier.style_weights(chorales)
    assert weights.shape == (len(chorales), STYLE_DIM)
    assert np.allclose(weights.sum(axis=1), 1.0)
    assert weights[:, STYLES.index("medieval")].max() == 0.0  # never trained on
    assert (weights.argmax(axis=1) == STYLES.index("chorale")).mean() >= 0.9


def test_a_saved_classifier_loads_with_its_metrics_and_predicts_the_same(
    classifier, labelled_pieces, tmp_path
):
    features = [piece.features for piece in labelled_pieces]
    loaded = StyleClassifier.load(classifier.save(tmp_path / "style.joblib"))
    assert loaded.version == classifier.version
    assert loaded.metrics == classifier.metrics
    assert loaded.training_data["per_style"] == {"chorale": 10, "fiddle": 10, "folk": 10}
    assert loaded.predict(features) == classifier.predict(features)


def test_missing_or_corrupt_artifacts_raise_a_clear_error(tmp_path):
    with pytest.raises(ClassifierArtifactError, match="no style classifier"):
        StyleClassifier.load(tmp_path / "absent.joblib")
    corrupt = tmp_path / "corrupt.joblib"
    corrupt.write_bytes(b"not a model")
    with pytest.raises(ClassifierArtifactError, match="corrupt"):
        StyleClassifier.load(corrupt)


def test_training_needs_two_styles_with_examples(labelled_pieces):
    with pytest.raises(ValueError, match="two styles"):
        train_style_classifier([piece.features for piece in labelled_pieces[:3]], ["chorale"] * 3)


def test_excerpts_are_sixteen_bar_windows_of_the_piece(labelled_pieces):
    chorale = next(piece for piece in labelled_pieces if piece.style == "chorale")
    midi = load_midi(chorale.midi_bytes)
    windows = excerpts(midi, count=2, beats=16)
    assert len(windows) == 2
    seconds_per_beat = 60.0 / midi.get_tempo_changes()[1][0]
    for window in windows:
        notes = [note for instrument in window.instruments for note in instrument.notes]
        assert min(note.start for note in notes) >= 0.0
        assert max(note.end for note in notes) <= 16 * seconds_per_beat + 1e-6
        assert [i.program for i in window.instruments] == [i.program for i in midi.instruments]
    first, last = (extract_features(window) for window in windows)
    assert first.pitch_class_histogram != last.pitch_class_histogram  # different music
    assert excerpts(midi, count=2, beats=10_000) == []  # shorter than one window


def test_excerpts_are_held_out_with_their_piece_and_scored_apart(labelled_pieces):
    features, labels, pieces, is_excerpt = [], [], [], []
    for number, piece in enumerate(labelled_pieces):
        windows = excerpts(load_midi(piece.midi_bytes), count=2, beats=16)
        for sample, excerpt in [(piece.features, False)] + [
            (extract_features(window), True) for window in windows
        ]:
            features.append(sample)
            labels.append(piece.style)
            pieces.append(str(number))
            is_excerpt.append(excerpt)
    classifier = train_style_classifier(
        features,
        labels,
        pieces=pieces,
        is_excerpt=is_excerpt,
        config=TrainingConfig(test_size=0.3, max_iter=50),
    )
    metrics = classifier.metrics
    assert metrics.test_size == 9  # whole held-out pieces only
    held_out_pieces = metrics.test_size
    assert metrics.excerpt_test_size > 0
    # Every sample is on one side: a held-out piece's excerpts are all held out with it.
    assert metrics.train_size == len(features) - held_out_pieces - metrics.excerpt_test_size
    assert metrics.excerpt_accuracy >= 0.6  # chance is one in three
    assert classifier.training_data["excerpts"] == sum(is_excerpt)


def test_reduced_keeps_the_busiest_voices_in_their_order(labelled_pieces):
    chorale = next(piece for piece in labelled_pieces if piece.style == "chorale")
    midi = load_midi(chorale.midi_bytes)
    counts = [len(instrument.notes) for instrument in midi.instruments]
    two = reduced(midi, voices=2)
    kept = sorted(counts, reverse=True)[:2]
    assert sorted(len(instrument.notes) for instrument in two.instruments) == sorted(kept)
    order = [counts.index(len(instrument.notes)) for instrument in two.instruments]
    assert order == sorted(order)
    assert two.get_tempo_changes()[1][0] == pytest.approx(midi.get_tempo_changes()[1][0])
