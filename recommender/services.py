"""Writes of the recommender: fit the taste model and recommender, version, activate, store."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from scipy import sparse

from artifacts.models import ModelArtifact
from artifacts.services import (
    ArtifactUnavailable,
    LoadedArtifact,
    delete_artifact,
    health,
    load_active,
    new_version_name,
    prune_versions,
    register_artifact,
    training_lock,
)
from catalog.models import Track
from profiles.models import AccountDeletion, FeedbackEvent, Listen, Profile
from profiles.services import store_taste
from recommender.dataset import TrainingData, history_of, load_training_data
from recommender.ml.artifacts import load_artifact, save_artifact
from recommender.ml.metrics import evaluate_ranking
from recommender.ml.recommenders import HybridBlendRecommender
from recommender.ml.taste import TasteModel

logger = logging.getLogger(__name__)
TASTE_KIND = "taste"
Progress = Callable[[float, str], None]


@dataclass
class TasteBundle:
    """Everything serving needs, in one artifact: both models and the id maps."""

    taste: TasteModel
    recommender: HybridBlendRecommender
    user_ids: np.ndarray
    track_ids: np.ndarray
    track_vectors: np.ndarray

    def user_row(self, user_id: int) -> int | None:
        position = int(np.searchsorted(self.user_ids, user_id))
        found = position < len(self.user_ids) and self.user_ids[position] == user_id
        return position if found else None

    def track_column(self, track_id: int) -> int | None:
        position = int(np.searchsorted(self.track_ids, track_id))
        found = position < len(self.track_ids) and self.track_ids[position] == track_id
        return position if found else None


def load_bundle(path: Path) -> TasteBundle:
    bundle, _ = load_artifact(path)
    if not isinstance(bundle, TasteBundle):
        raise TypeError(f"{path} holds a {type(bundle).__name__}, not a TasteBundle")
    return bundle


def taste_model_health() -> str:
    return health(TASTE_KIND, load_bundle)


def taste_retraining_is_due() -> bool:
    """Whether the worker should refit: retraining is on (``TASTE_RETRAIN_INTERVAL_S`` > 0)
    and listens, feedback or public tracks arrived, or an account was deleted, since the
    newest model read its data (or there is no model yet and a catalog to fit on)."""
    if settings.TASTE_RETRAIN_INTERVAL_S <= 0:
        return False
    # The newest version that served, not the active one: after a rollback to an older
    # version only data newer than the last fit makes a refit due (and a fit whose version
    # failed to activate is tried again).
    newest = (
        ModelArtifact.objects.filter(kind=TASTE_KIND, activated_at__isnull=False)
        .order_by("-created_at")
        .first()
    )
    if newest is None:
        return Track.objects.exists()
    since = data_read_at(newest)
    return (
        Listen.objects.filter(created_at__gt=since).exists()
        or FeedbackEvent.objects.filter(created_at__gt=since).exists()
        or Track.objects.filter(is_public=True, created_at__gt=since).exists()
        or AccountDeletion.objects.filter(deleted_at__gt=since).exists()
    )


def data_read_at(artifact: ModelArtifact) -> datetime:
    """When the fit of ``artifact`` began reading the database (versions stored before
    this was recorded: when they were stored, a little later)."""
    read_at = artifact.data_summary.get("read_at")
    return datetime.fromisoformat(read_at) if read_at else artifact.created_at


def forget_deleted_accounts() -> list[str]:
    """Delete the inactive taste versions fitted on data read before the last account
    deletion (their files hold that person's listening); the names of those deleted. The
    active version is replaced by the refit that the deletion makes due."""
    last = AccountDeletion.objects.order_by("-deleted_at").values_list("deleted_at").first()
    if last is None:
        return []
    stale = [
        artifact
        for artifact in ModelArtifact.objects.filter(kind=TASTE_KIND, is_active=False)
        if data_read_at(artifact) < last[0]
    ]
    for artifact in stale:
        delete_artifact(artifact)
    return [artifact.version for artifact in stale]


# Neighbourhood sizes of the served model: two 5,000² dense matrices (200 MB) keep a top-20
# query under 10 ms on one core for a 100k-track catalog (bench/recommender_latency.py).
CF_ITEMS = 5000
CF_USERS = 5000


def product_recommender() -> HybridBlendRecommender:
    return HybridBlendRecommender(max_cf_items=CF_ITEMS, max_cf_users=CF_USERS)


def _quiet(fraction: float, message: str) -> None:
    logger.info("train_taste %.0f%%: %s", fraction * 100, message)


def train_taste(*, progress: Progress = _quiet) -> ModelArtifact:
    """Fit on the whole database, store a new active version and every user's taste; one
    run at a time (a second waits, then fits on what the database holds by then)."""
    with training_lock(TASTE_KIND, lambda: progress(0.0, "waiting for another training run")):
        return _train_taste(progress)


def _train_taste(progress: Progress) -> ModelArtifact:
    progress(0.05, "reading listens, feedback and preferences")
    data = load_training_data()
    if len(data.track_ids) == 0:
        raise ValueError("the catalog is empty: import tracks before training the taste model")
    progress(0.25, "measuring on held-out listens")
    metrics = holdout_metrics(data)
    progress(0.45, "fitting the taste model")
    taste = TasteModel().fit(data.histories, data.track_vectors)
    progress(0.6, "fitting the recommender")
    recommender = product_recommender().fit(data.user_items, data.track_vectors)
    bundle = TasteBundle(taste, recommender, data.user_ids, data.track_ids, data.track_vectors)
    version = new_version_name(TASTE_KIND)
    hyperparameters = {
        "taste": taste.hyperparameters(),
        "recommender": recommender.hyperparameters(),
    }
    progress(0.75, "saving the artifact")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "taste.joblib"
        save_artifact(
            bundle,
            path,
            version=version,
            metrics=metrics,
            hyperparameters=hyperparameters,
            data_summary=data.summary(),
        )
        artifact = register_artifact(
            kind=TASTE_KIND,
            source=path,
            loader=load_bundle,
            metrics=metrics,
            hyperparameters=hyperparameters,
            data_summary=data.summary(),
            version=version,
        )
    progress(0.85, "storing every user's taste")
    store_tastes(bundle, data, version)
    removed = forget_deleted_accounts() + prune_versions(TASTE_KIND, settings.MODEL_VERSIONS_KEPT)
    if removed:
        logger.info("removed old taste versions %s", ", ".join(removed))
    progress(1.0, f"activated {version}")
    return artifact


@transaction.atomic
def store_tastes(bundle: TasteBundle, data: TrainingData, version: str) -> None:
    """Every user's taste by one version, all or none; accounts deleted since the data was
    read are passed over. Each taste is dated when the data was read, so that listens and
    feedback arriving during the fit make it stale (:func:`refresh_stale_taste`)."""
    if not data.histories:
        return
    vectors = bundle.taste.conditioning_vectors(data.histories)
    users = get_user_model().objects.in_bulk(list(map(int, data.user_ids)))
    for user_id, vector in zip(data.user_ids, vectors, strict=True):
        user = users.get(int(user_id))
        if user is None:
            continue
        _store_vector(user, vector, version, updated_at=data.read_at)


def _store_vector(
    user: Any, vector: np.ndarray, version: str, *, updated_at: datetime | None = None
) -> None:
    store_taste(
        user=user,
        vector=vector.tolist(),
        styles=TasteModel.explain(vector),
        model_version=version,
        updated_at=updated_at,
    )


def refresh_taste(profile: Profile) -> None:
    """Recompute one person's stored taste by the active model, without refitting (after
    they state new preferences); before the first model there is nothing to recompute."""
    served = _serving()
    if served is not None:
        _refresh_by(served, profile)


def refresh_stale_taste(profile: Profile) -> None:
    """:func:`refresh_taste` when the stored taste was never computed, is by another version
    than the one serving (a rollback, say), or listens or feedback arrived after it."""
    served = _serving()
    if served is None:
        return
    since = profile.taste_updated_at
    if (
        since is None
        or profile.taste_model_version != served.artifact.version
        or Listen.objects.filter(user_id=profile.user_id, created_at__gt=since).exists()
        or FeedbackEvent.objects.filter(user_id=profile.user_id, created_at__gt=since).exists()
    ):
        _refresh_by(served, profile)


def _serving() -> LoadedArtifact | None:
    """The taste model serving now; ``None`` before the first one (nothing to recompute)."""
    try:
        return load_active(TASTE_KIND, load_bundle)
    except ArtifactUnavailable:
        return None


def _refresh_by(served: LoadedArtifact, profile: Profile) -> None:
    bundle: TasteBundle = served.model
    read_at = timezone.now()  # before reading: what arrives while it is read makes it stale
    vector = bundle.taste.conditioning_vector(history_of(profile.user_id, bundle.track_ids))
    _store_vector(profile.user, vector, served.artifact.version, updated_at=read_at)
    profile.refresh_from_db(
        fields=["taste_vector", "taste_styles", "taste_model_version", "taste_updated_at"]
    )


def holdout_metrics(data: TrainingData, k: int = 10) -> dict[str, Any]:
    """Leave-one-out on the catalog itself: hide each active user's heaviest track, fit on
    the rest, and rank it among all tracks. A sanity figure for every version, next to the
    offline evaluation on public data (``evaluate_recommender``)."""
    matrix = data.user_items.tocsr()
    eligible = [u for u in range(matrix.shape[0]) if matrix[u].nnz >= 3]
    if not eligible:
        return {"holdout_users": 0}
    held_rows, held_columns = [], []
    train = matrix.tolil(copy=True)
    for user in eligible:
        row = matrix[user]
        column = int(row.indices[np.argmax(row.data)])
        held_rows.append(user)
        held_columns.append(column)
        train[user, column] = 0
    train = train.tocsr()
    train.eliminate_zeros()
    test = sparse.csr_matrix(
        (np.ones(len(eligible), dtype=np.float32), (held_rows, held_columns)), shape=matrix.shape
    )
    model = product_recommender().fit(train, data.track_vectors)
    figures = evaluate_ranking(model.score_users, test, train, k).as_dict()
    return {**{f"holdout_{name}": value for name, value in figures.items()}}
