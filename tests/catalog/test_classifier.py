import numpy as np
import pytest

from catalog.midi.classifier import (
    ClassifierArtifactError,
    StyleClassifier,
    TrainingConfig,
    train_style_classifier,
)
from catalog.midi.corpus import CorpusPiece, load_pieces, plan_corpus
from catalog.midi.style_space import STYLE_DIM, STYLES


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
