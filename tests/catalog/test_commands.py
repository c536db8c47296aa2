from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from catalog import services
from catalog.midi.style_space import STYLE_DIM
from catalog.models import Track
from tests.catalog.midi_factory import broken_midi_files, midi_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def roots(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MODEL_ROOT = tmp_path / "models"
    return tmp_path


def run(*args: str) -> str:
    output = StringIO()
    call_command(*args, stdout=output, stderr=StringIO())
    return output.getvalue()


def test_import_corpus_is_idempotent_and_summarizes(roots):
    first = run(
        "import_corpus",
        "--collections",
        "bach,essenFolksong,chopin",
        "--limit",
        "2",
        "--workers",
        "1",
    )
    assert "imported 4 (chorale 2, folk 2); skipped 0 already imported; failed 0" in first
    assert "collection chopin skipped" in first
    assert Track.objects.filter(origin="catalog", is_public=True).count() == 4
    second = run(
        "import_corpus", "--collections", "bach,essenFolksong", "--limit", "2", "--workers", "1"
    )
    assert "imported 0 (none); skipped 4 already imported" in second
    assert Track.objects.count() == 4
    assert len(list((roots / "media").rglob("*.mid"))) == 4


def test_import_midi_imports_good_files_and_reports_bad_ones(roots):
    folder = roots / "incoming"
    folder.mkdir()
    (folder / "scale.mid").write_bytes(midi_bytes())
    (folder / "broken.mid").write_bytes(broken_midi_files()["truncated"][0])
    output = run("import_midi", str(folder))
    assert "imported 1; skipped 1" in output
    assert "broken.mid: the file is truncated" in output
    assert list(Track.objects.values_list("title", flat=True)) == ["scale"]
    assert len(list((roots / "media").rglob("*.mid"))) == 1


def test_training_the_classifier_restyles_unlabelled_tracks_and_evaluation_reports(roots):
    run("import_corpus", "--collections", "bach,essenFolksong", "--limit", "6", "--workers", "1")
    upload = services.import_midi(midi_bytes=midi_bytes(), title="scale")
    assert upload.style is None
    assert np.allclose(upload.style_vector[:STYLE_DIM], 1 / STYLE_DIM)

    assert "held-out accuracy" in run("train_style_classifier")
    upload.refresh_from_db()
    assert upload.style in {"chorale", "folk"}
    assert sum(upload.style_vector[:STYLE_DIM]) == pytest.approx(1.0, abs=1e-4)
    later = services.import_midi(midi_bytes=midi_bytes(tempo_bpm=90), title="later")
    assert later.style in {"chorale", "folk"}

    report = run("evaluate_style_classifier")
    assert "held-out accuracy" in report
    assert "confusion matrix" in report and "chorale" in report
