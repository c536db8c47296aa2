"""Versioned model artifacts: atomic activation, corrupt files, fallback to a good version."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from artifacts.models import ModelArtifact
from artifacts.services import (
    ArtifactUnavailable,
    activate_artifact,
    artifact_path,
    delete_artifact,
    health,
    load_active,
    prune_versions,
    register_artifact,
    training_lock,
)

pytestmark = pytest.mark.django_db


def load_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(autouse=True)
def model_root(settings, tmp_path):
    settings.MODEL_ROOT = tmp_path / "models"
    return settings.MODEL_ROOT


def register(tmp_path: Path, payload: str, **kwargs) -> ModelArtifact:
    source = tmp_path / "model.json"
    source.write_text(payload)
    return register_artifact(
        kind="demo",
        source=source,
        loader=load_json,
        metrics={"ndcg": 0.3},
        hyperparameters={"k": 1},
        data_summary={"rows": 3},
        **kwargs,
    )


def test_a_registered_artifact_is_active_and_loaded(tmp_path):
    artifact = register(tmp_path, '{"weights": [1, 2]}')
    served = load_active("demo", load_json)
    assert served.artifact.pk == artifact.pk
    assert served.model == {"weights": [1, 2]}
    assert served.artifact.metrics == {"ndcg": 0.3}
    assert health("demo", load_json) == "ok"


def test_activation_switches_exactly_one_active_version(tmp_path):
    first = register(tmp_path, '{"v": 1}')
    second = register(tmp_path, '{"v": 2}')
    first.refresh_from_db()
    assert not first.is_active and second.is_active
    assert load_active("demo", load_json).model == {"v": 2}
    activate_artifact(artifact=first, loader=load_json)
    assert list(ModelArtifact.objects.filter(is_active=True)) == [first]
    assert load_active("demo", load_json).model == {"v": 1}


def test_an_unloadable_new_version_is_refused_and_the_old_one_keeps_serving(tmp_path):
    good = register(tmp_path, '{"v": 1}')
    with pytest.raises(ArtifactUnavailable, match="cannot be loaded"):
        register(tmp_path, "{not json")
    good.refresh_from_db()
    assert good.is_active
    assert load_active("demo", load_json).model == {"v": 1}


def test_a_corrupted_active_file_falls_back_to_the_previous_version(tmp_path):
    register(tmp_path, '{"v": 1}')
    newest = register(tmp_path, '{"v": 2}')
    assert load_active("demo", load_json).model == {"v": 2}  # a warm worker has it loaded
    artifact_path(newest).write_text('{"v": 666}')
    served = load_active("demo", load_json)
    assert served.model == {"v": 1}  # the damage on disk is noticed, as any worker would
    assert health("demo", load_json).startswith("degraded")


def test_the_fallback_is_loaded_once_until_the_active_file_changes(tmp_path):
    register(tmp_path, '{"v": 1}')
    newest = register(tmp_path, '{"v": 2}')
    artifact_path(newest).write_text("[broken!]")
    loads: list[Path] = []

    def counting_loader(path: Path) -> dict:
        loads.append(path)
        return load_json(path)

    for _ in range(3):
        assert load_active("demo", counting_loader).model == {"v": 1}
    assert len(loads) == 1
    artifact_path(newest).write_text('{"v": 2}')  # the operator restores the file
    assert load_active("demo", counting_loader).model == {"v": 2}


def test_missing_files_and_untrained_kinds_give_clear_errors(tmp_path, model_root):
    with pytest.raises(ArtifactUnavailable, match="no demo model has been trained yet"):
        load_active("demo", load_json)
    only = register(tmp_path, '{"v": 1}')
    artifact_path(only).unlink()
    with pytest.raises(ArtifactUnavailable, match="is missing") as missing:
        load_active("demo", load_json)
    assert str(model_root) not in str(missing.value)  # answers name no server paths
    assert health("demo", load_json).startswith("unavailable")


def test_training_runs_of_one_kind_wait_for_each_other():
    events: list[str] = []
    first_inside, release, second_waits = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with training_lock("demo"):
            events.append("first starts")
            first_inside.set()
            release.wait(10)
            events.append("first ends")

    def second() -> None:
        with training_lock("demo", on_wait=second_waits.set):
            events.append("second starts")

    runs = [threading.Thread(target=first), threading.Thread(target=second)]
    runs[0].start()
    assert first_inside.wait(10)
    runs[1].start()
    assert second_waits.wait(10)
    assert events == ["first starts"]
    release.set()
    for run in runs:
        run.join(10)
    assert events == ["first starts", "first ends", "second starts"]


def test_pruning_keeps_the_active_version_and_the_newest_fallbacks(tmp_path):
    versions = [register(tmp_path, f'{{"v": {n}}}') for n in range(5)]
    activate_artifact(artifact=versions[1], loader=load_json)  # an operator rolled back
    removed = prune_versions("demo", keep=3)
    assert removed == [versions[2].version, versions[0].version]
    kept = set(ModelArtifact.objects.values_list("version", flat=True))
    assert kept == {versions[1].version, versions[4].version, versions[3].version}
    assert not artifact_path(versions[0]).exists() and artifact_path(versions[3]).exists()
    with pytest.raises(ValueError, match="is active"):
        delete_artifact(ModelArtifact.objects.get(is_active=True))


def test_pruning_keeps_the_version_rolled_back_to(tmp_path):
    versions = [register(tmp_path, f'{{"v": {n}}}') for n in range(4)]
    activate_artifact(artifact=versions[0], loader=load_json)  # rollback to the oldest
    newest = register(tmp_path, '{"v": 4}')  # the next training run
    assert prune_versions("demo", keep=2) == [v.version for v in versions[3:0:-1]]
    assert set(ModelArtifact.objects.values_list("version", flat=True)) == {
        newest.version,
        versions[0].version,
    }
