"""The generator's sampling prior through the management commands that write it."""

from __future__ import annotations

import json
import shutil
from io import StringIO
from pathlib import Path

import pretty_midi
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from artifacts.models import ModelArtifact
from artifacts.services import activate_artifact
from generation.generator import SHIPPED, generator_work_dir, load_generator, register_checkpoint
from generation.ml.training import GUIDANCE_KEY, LATENT_PRIOR_KEY, TOP_P_KEY, load_model
from tests.generation.conftest import TINY_GENERATOR, train_tiny_generator

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


@pytest.fixture
def fresh_cvae_run():
    """No resumable CVAE run in the work directory before or after the test: a run of
    another config there is refused, and other modules train the tiny config."""
    run = generator_work_dir() / "cvae.pt"
    run.unlink(missing_ok=True)
    yield
    run.unlink(missing_ok=True)


def test_train_generator_stores_a_guidance_and_fit_generator_prior_changes_it(
    tiny_world, tmp_path, fresh_cvae_run
):
    path = tmp_path / "guided.pt"
    guided_config = {**TINY_GENERATOR, "condition_dropout": 0.2}
    train_tiny_generator("--out", str(path), "--guidance", "2", config=guided_config)
    guided, metadata = load_model(path)
    assert guided.guidance == metadata[GUIDANCE_KEY] == 2.0
    out = StringIO()
    call_command("fit_generator_prior", str(path), "--guidance", "1", stdout=out)
    unguided, _ = load_model(path)
    assert unguided.guidance == 1.0 and unguided.version != guided.version
    assert f"sampling guidance 1.0, nucleus 1.0: {guided.version} -> {unguided.version}" in (
        out.getvalue()
    )
    call_command("fit_generator_prior", str(path), "--top-p", "0.9", stdout=out)
    nucleus, metadata = load_model(path)
    assert (nucleus.guidance, nucleus.top_p, metadata[TOP_P_KEY]) == (1.0, 0.9, 0.9)
    assert f"nucleus 0.9: {unguided.version} -> {nucleus.version}" in out.getvalue()
    before = path.read_bytes()
    with pytest.raises(CommandError, match="--top-p must be above 0 and at most 1"):
        call_command("fit_generator_prior", str(path), "--top-p", "0")
    with pytest.raises(CommandError, match="--guidance must be a finite number"):
        call_command("fit_generator_prior", str(path), "--guidance", "-1")
    with pytest.raises(CommandError, match=r"--guidance: guidance needs .* condition_dropout"):
        call_command(
            "fit_generator_prior", str(_copy_of_active(tiny_world, tmp_path)), "--guidance", "2"
        )
    assert path.read_bytes() == before


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


def _train_comparison(variant: str, config: dict[str, int], out: Path) -> str:
    train_tiny_generator("--variant", variant, "--out", str(out), config=config)
    return load_model(out)[0].version


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")


def test_evaluate_generator_reports_cvae_ablation_and_lstm_side_by_side(tiny_world, tmp_path):
    ablation, baseline = tmp_path / "ablation.pt", tmp_path / "lstm.pt"
    ablation_version = _train_comparison("cvae-unconditional", TINY_GENERATOR, ablation)
    baseline_version = _train_comparison("lstm", {"embedding_dim": 8, "hidden": 32}, baseline)
    cvae = _copy_of_active(tiny_world, tmp_path)
    with pytest.raises(CommandError, match="--ablation must be an unconditional CVAE"):
        call_command("evaluate_generator", "--ablation", str(baseline))
    with pytest.raises(CommandError, match="--baseline must be a conditional LSTM"):
        call_command("evaluate_generator", "--baseline", str(cvae))
    with pytest.raises(CommandError, match=r"--ablation .*absent\.pt"):
        call_command("evaluate_generator", "--ablation", str(tmp_path / "absent.pt"))
    with pytest.raises(CommandError, match="--likelihood-samples must be at least 1"):
        call_command("evaluate_generator", "--likelihood-samples", "0")
    with pytest.raises(CommandError, match="--samples-per-style must be at least 1"):
        call_command("evaluate_generator", "--samples-per-style", "0")
    with pytest.raises(CommandError, match="--temperature must be at least 0"):
        call_command("evaluate_generator", "--temperature", "nan")
    with pytest.raises(CommandError, match=r"--guidance: guidance needs .* condition_dropout"):
        call_command("evaluate_generator", "--guidance", "2")
    with pytest.raises(CommandError, match="--top-p must be above 0 and at most 1"):
        call_command("evaluate_generator", "--top-p", "1.5")
    call_command("load_defaults", "--generator", str(cvae), stdout=StringIO())  # the classifier
    out = StringIO()
    call_command(
        "evaluate_generator",
        *("--ablation", str(ablation), "--baseline", str(baseline)),
        *("--samples-per-style", "3", "--seed", "2", "--likelihood-samples", "4", "--json"),
        *("--top-p", "0.9"),
        stdout=out,
    )
    report = json.loads(out.getvalue(), parse_constant=_refuse)  # strict JSON: no NaN
    models = report["models"]
    versions = {name: entry["version"] for name, entry in models.items()}
    assert versions == {
        "cvae": tiny_world.version,
        "ablation": ablation_version,
        "baseline": baseline_version,
    }
    assert report["settings"]["samples_per_style"] == 3 and report["settings"]["seed"] == 2
    assert {entry["top_p"] for entry in models.values()} == {0.9}  # the same for every model
    styles = {"chorale", "fiddle"}
    for entry in [*report["models"].values(), report["reference"]]:
        assert set(entry["conditioning_fidelity"]) == styles | {"mean"}
        shares = entry["conditioning_fidelity"].values()
        assert all(share is None or 0.0 <= share <= 1.0 for share in shares)
        assert 0.0 < entry["mean_feature_overlap"] <= 1.0
    methods = {name: e["reconstruction"]["log_likelihood_method"] for name, e in models.items()}
    assert methods["cvae"] == methods["ablation"] == "importance-weighted, 4 codes per segment"
    assert methods["baseline"] == "exact"
    exact = models["baseline"]["reconstruction"]
    assert exact["log_likelihood_per_segment"] == pytest.approx(exact["elbo_per_segment"])
    for name in ("cvae", "ablation"):
        assert -1e6 < models[name]["reconstruction"]["log_likelihood_per_segment"] < 0
    assert report["models"]["ablation"]["conditional"] is False
    assert report["models"]["baseline"]["latent"] is False


def _generate(out: Path, *options: str) -> str:
    printed = StringIO()
    call_command("generate", *options, "--out", str(out), stdout=printed)
    return printed.getvalue()


def test_generate_writes_the_pieces_and_is_deterministic_for_a_seed(tiny_world, tmp_path):
    mix = ("--style-mix", '{"fiddle": 3, "chorale": 1}', "--count", "3", "--bars", "8")
    printed = _generate(tmp_path / "first", *mix, "--seed", "5")
    _generate(tmp_path / "again", *mix, "--seed", "5")
    _generate(tmp_path / "other", *mix, "--seed", "6")
    written = sorted((tmp_path / "first").iterdir())
    assert [path.name for path in written] == [f"fiddle-seed5-0{n}.mid" for n in (1, 2, 3)]
    assert f"3 pieces of 8 bars by {tiny_world.version}" in printed
    for path in written:
        midi = pretty_midi.PrettyMIDI(str(path))  # a real, readable MIDI file
        assert midi.get_tempo_changes()[1][0] > 0
        assert path.read_bytes() == (tmp_path / "again" / path.name).read_bytes()
    other = sorted(path.read_bytes() for path in (tmp_path / "other").iterdir())
    assert other != sorted(path.read_bytes() for path in written)


def test_generate_refuses_bad_options_naming_each_and_writes_nothing(tiny_world, tmp_path):
    out = tmp_path / "refused"
    with pytest.raises(CommandError) as refused:
        _generate(out, "--style", "fiddle", "--count", "0", "--bars", "2", "--temperature", "0")
    for option in ("--count", "--bars", "--temperature"):
        assert option in str(refused.value)
    with pytest.raises(CommandError, match=r"--style-mix: .*Unknown styles \['jazz'\]"):
        _generate(out, "--style-mix", '{"jazz": 1}')
    with pytest.raises(CommandError, match=r"--style-mix: .*positive weight"):
        _generate(out, "--style-mix", '{"fiddle": 0}')
    with pytest.raises(CommandError, match="--style-mix is not JSON"):
        _generate(out, "--style-mix", "{fiddle")
    with pytest.raises(CommandError, match="give --style or --style-mix"):
        _generate(out)
    with pytest.raises(CommandError, match="checkpoint not found"):
        _generate(out, "--style", "fiddle", "--checkpoint", str(tmp_path / "absent.pt"))
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--config", "{latent"), "--config is not JSON"),
        (("--config", "[1]"), "--config must be a JSON object"),
        (("--config", '{"latent_size": 8}'), "--config does not fit a cvae model"),
        (("--config", '{"latent_dim": -1}'), "--config does not fit a cvae model"),
        (("--epochs", "0"), "--epochs must be at least 1"),
        (("--limit-per-style", "0"), "--limit-per-style must be at least 1"),
        (("--styles", "fiddle,jazz"), r"--styles: unknown \['jazz'\]"),
        (("--time-limit", "0"), "--time-limit must be positive"),
        (("--seed", "-1"), "--seed must be between 0 and"),
        (("--guidance", "2"), "--guidance: guidance needs .* condition_dropout"),
        (("--variant", "lstm", "--guidance", "2"), "--guidance: a 'lstm' model is not sampled"),
        (("--guidance", "inf"), "--guidance must be a finite number"),
        (("--top-p", "0"), "--top-p must be above 0 and at most 1"),
    ],
)
def test_train_generator_refuses_bad_options_and_writes_nothing(
    tiny_world, tmp_path, options, message
):
    out = tmp_path / "never.pt"
    with pytest.raises(CommandError, match=message):
        call_command("train_generator", *options, "--out", str(out))
    assert not out.exists()
    assert ModelArtifact.objects.get(kind="generator", is_active=True) == tiny_world
