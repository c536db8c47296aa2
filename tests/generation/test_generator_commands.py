"""The generator's sampling prior through the management commands that write it."""

from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from artifacts.models import ModelArtifact
from artifacts.services import activate_artifact
from generation.generator import SHIPPED, load_generator, register_checkpoint
from generation.ml.training import LATENT_PRIOR_KEY, load_model

pytestmark = pytest.mark.django_db


def _copy_of_active(tiny_world, tmp_path: Path) -> Path:
    copy = tmp_path / "generator.pt"
    shutil.copy(Path(settings.MODEL_ROOT) / tiny_world.path, copy)
    return copy


def test_train_generator_ships_a_prior_and_fit_generator_prior_refits_it(tiny_world, tmp_path):
    path = _copy_of_active(tiny_world, tmp_path)
    trained, metadata = load_model(path)
    assert trained.latent_prior is not None and trained.version == tiny_world.version
    assert metadata[LATENT_PRIOR_KEY]["fitted_on"]["per_style"] is True
    out = StringIO()
    call_command("fit_generator_prior", str(path), "--components", "2", "--activate", stdout=out)
    refitted, metadata = load_model(path)
    assert refitted.version != tiny_world.version
    assert f"{tiny_world.version} -> {refitted.version}" in out.getvalue()
    assert metadata[LATENT_PRIOR_KEY]["fitted_on"]["components"] == 2
    assert refitted.latent_prior.weights.shape[1] == 2
    active = ModelArtifact.objects.get(kind="generator", is_active=True)
    assert active.version == refitted.version
    assert active.hyperparameters["latent_prior"]["components"] == 2
    tiny_world.refresh_from_db()
    activate_artifact(artifact=tiny_world, loader=load_generator)  # leave the module's world


def test_fit_generator_prior_refuses_what_it_cannot_fit_and_leaves_the_file_alone(
    tiny_world, tmp_path
):
    with pytest.raises(CommandError, match="not found"):
        call_command("fit_generator_prior", str(tmp_path / "absent.pt"))
    path = _copy_of_active(tiny_world, tmp_path)
    before = path.read_bytes()
    with pytest.raises(CommandError, match="--limit-per-style"):
        call_command("fit_generator_prior", str(path), "--limit-per-style", "1")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("fit_generator_prior", str(path), "--components", "0")
    assert path.read_bytes() == before
    stored = Path(settings.MODEL_ROOT) / tiny_world.path
    with pytest.raises(CommandError, match="must not change"):
        call_command("fit_generator_prior", str(stored))
    assert load_generator(stored).version == tiny_world.version


def _refitted_copy(tiny_world, tmp_path: Path, name: str, components: int) -> Path:
    path = tmp_path / name
    shutil.copy(Path(settings.MODEL_ROOT) / tiny_world.path, path)
    call_command("fit_generator_prior", str(path), "--components", str(components))
    return path


def test_load_defaults_replaces_an_older_shipped_generator_but_never_a_local_one(
    tiny_world, tmp_path
):
    older = _refitted_copy(tiny_world, tmp_path, "older.pt", 2)
    newer = _refitted_copy(tiny_world, tmp_path, "newer.pt", 3)
    out = StringIO()
    call_command("load_defaults", "--generator", str(newer), stdout=out)
    assert f"generator: {tiny_world.version} already active" in out.getvalue()
    assert ModelArtifact.objects.get(kind="generator", is_active=True).version == tiny_world.version

    shipped_before = register_checkpoint(older, source=SHIPPED)
    out = StringIO()
    call_command("load_defaults", "--generator", str(newer), stdout=out)
    active = ModelArtifact.objects.get(kind="generator", is_active=True)
    assert active.version == load_model(newer)[0].version != shipped_before.version
    assert f"replacing {shipped_before.version}" in out.getvalue()
    assert active.hyperparameters["source"] == SHIPPED
    out = StringIO()
    call_command("load_defaults", "--generator", str(newer), stdout=out)
    assert f"generator: {active.version} already active" in out.getvalue()
    tiny_world.refresh_from_db()
    activate_artifact(artifact=tiny_world, loader=load_generator)
    call_command("load_defaults", "--generator", str(older), "--replace-generator")
    assert ModelArtifact.objects.get(kind="generator", is_active=True) == shipped_before
    activate_artifact(artifact=tiny_world, loader=load_generator)  # leave the module's world
