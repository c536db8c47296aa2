"""``manage.py evaluate_recommender``: the offline protocol through its command line."""

from __future__ import annotations

import importlib.util
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from recommender.ml.interactions import read_interactions, split_per_user, write_split
from tests.helpers import SHARED_DATA

LASTFM_LISTENS = SHARED_DATA / "lastfm-2k" / "user_artists.dat"


@pytest.fixture(scope="module")
def lastfm_split_files(tmp_path_factory):
    if not LASTFM_LISTENS.exists():
        pytest.skip(f"HetRec lastfm-2k is absent ({LASTFM_LISTENS}); see ../shared/data")
    frame = read_interactions(LASTFM_LISTENS)
    first_users = frame["user"].drop_duplicates().iloc[:300]
    parts = split_per_user(frame[frame["user"].isin(first_users)], seed=3)
    return write_split(parts, tmp_path_factory.mktemp("lastfm-split"))


def evaluate(**options) -> dict:
    output = StringIO()
    call_command("evaluate_recommender", json=True, stdout=output, **options)
    return json.loads(output.getvalue())


def test_reports_every_model_on_the_same_split_with_tuning(lastfm_split_files):
    report = evaluate(
        train=lastfm_split_files["train"],
        valid=lastfm_split_files["valid"],
        test=lastfm_split_files["test"],
        tuning_budget=15.0,
    )
    models = report["models"]
    assert set(models) == {"project", "als", "popularity"}
    for figures in models.values():
        assert {"ndcg@10", "recall@10", "precision@10", "coverage@10"} <= set(figures)
    assert len({figures["users"] for figures in models.values()}) == 1  # the same test users
    assert 0 < models["project"]["users"] <= report["data"]["test"]["users"]
    assert models["project"]["ndcg@10"] > 1.5 * models["popularity"]["ndcg@10"]
    assert models["als"]["ndcg@10"] > models["popularity"]["ndcg@10"]
    assert report["ndcg_ratio_vs_als"] == pytest.approx(
        models["project"]["ndcg@10"] / models["als"]["ndcg@10"]
    )
    for name in ("project", "als"):
        tuning = report["tuning"][name]
        assert tuning["trials"] >= 1
        assert models[name]["hyperparameters"].items() >= tuning["best_params"].items()


def test_without_valid_every_model_keeps_its_defaults(lastfm_split_files):
    report = evaluate(train=lastfm_split_files["train"], test=lastfm_split_files["test"])
    assert report["tuning"] == {}
    assert "valid" not in report["data"]
    assert report["models"]["project"]["ndcg@10"] > report["models"]["popularity"]["ndcg@10"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("user\titem\n1\t2\n", "found 2 column(s)"),
        ("user\titem\tweight\n1\t2\t3\n1\t3\tmany\n", "line 3: weight must be a non-negative"),
        ("user\titem\tweight\n1\t2\t-4\n", "line 2: weight must be a non-negative"),
        ("user\titem\tweight\n1\t2\t\n", "line 2: weight must be a non-negative"),
        ("user\titem\tweight\n\t2\t3\n", "line 2: user is empty"),
        ("user\titem\tweight\n", "holds no interactions"),
    ],
)
def test_a_malformed_file_is_refused_with_its_line(tmp_path, content, message):
    good = tmp_path / "good.tsv"
    good.write_text("user\titem\tweight\n1\t2\t3\n2\t2\t5\n")
    bad = tmp_path / "bad.tsv"
    bad.write_text(content)
    with pytest.raises(CommandError, match="cannot evaluate") as refusal:
        evaluate(train=good, test=bad)
    assert message in str(refusal.value)
    assert str(bad) in str(refusal.value)


def test_a_missing_file_is_named(tmp_path):
    present = tmp_path / "train.tsv"
    present.write_text("user\titem\tweight\n1\t2\t3\n")
    with pytest.raises(CommandError, match=r"--test: no such file"):
        evaluate(train=present, test=tmp_path / "absent.tsv")


def test_without_the_als_peer_installed_it_says_so_before_any_work(tmp_path, monkeypatch):
    present = tmp_path / "train.tsv"
    present.write_text("user\titem\tweight\n1\t2\t3\n")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "implicit" else real_find_spec(name, *args),
    )
    with pytest.raises(CommandError, match="bin/setup --dev"):
        evaluate(train=present, test=present)
