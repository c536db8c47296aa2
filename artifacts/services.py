"""Register, verify and activate model artifacts; load the active one with a fallback."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from artifacts.models import ModelArtifact

logger = logging.getLogger(__name__)
Loaded = TypeVar("Loaded")
Loader = Callable[[Path], Any]


class ArtifactUnavailable(RuntimeError):
    """No usable version of a model: none trained yet, or every file missing or corrupt."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_path(artifact: ModelArtifact) -> Path:
    return Path(settings.MODEL_ROOT) / artifact.path


def verify(artifact: ModelArtifact, loader: Loader) -> Any:
    """Load ``artifact`` after checking that its file exists and is the one registered."""
    # Messages name the file relative to MODEL_ROOT: they reach API answers and /healthz,
    # where the server's own paths have no business; the log has the whole story.
    path = artifact_path(artifact)
    if not path.is_file():
        raise ArtifactUnavailable(f"{artifact.version}: file {artifact.path} is missing")
    if _sha256(path) != artifact.sha256:
        raise ArtifactUnavailable(
            f"{artifact.version}: file {artifact.path} is corrupt (checksum differs)"
        )
    try:
        return loader(path)
    except Exception as exc:
        logger.exception("model file %s cannot be loaded", path)
        raise ArtifactUnavailable(
            f"{artifact.version}: file {artifact.path} cannot be loaded ({type(exc).__name__})"
        ) from exc


@contextmanager
def training_lock(kind: str, on_wait: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Hold while fitting and activating a version of ``kind``: a second run (the periodic
    job beside a command, say) calls ``on_wait`` and waits for the first, so runs never
    interleave their writes and each activates what it fitted, in order."""
    root = Path(settings.MODEL_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{kind}.training.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


_LOADERS: dict[str, Loader] = {}


def register_loader(kind: str, loader: Loader) -> None:
    """How the app that owns ``kind`` loads its files (called from its AppConfig.ready)."""
    _LOADERS[kind] = loader


def activate_version(version: str, on_wait: Callable[[], None] = lambda: None) -> ModelArtifact:
    """Make a stored version active again by name (a rollback), if its file still loads.

    Waits for a training run of the kind (``on_wait`` says so), which may activate or prune;
    so it must not be called while holding ``training_lock``: that would wait forever."""
    kind = ModelArtifact.objects.filter(version=version).values_list("kind", flat=True).first()
    if kind is not None:
        with training_lock(kind, on_wait):
            artifact = ModelArtifact.objects.filter(version=version).first()  # still there?
            if artifact is not None:
                loader = _LOADERS.get(kind)
                if loader is None:
                    raise ArtifactUnavailable(f"{version}: no app loads models of kind {kind!r}")
                return activate_artifact(artifact=artifact, loader=loader)
    known = ", ".join(ModelArtifact.objects.values_list("version", flat=True)[:10])
    raise ArtifactUnavailable(f"no model version {version!r} (newest: {known or 'none'})")


def delete_artifact(artifact: ModelArtifact) -> None:
    """Remove an inactive version, its file with it."""
    deleted, _ = ModelArtifact.objects.filter(pk=artifact.pk, is_active=False).delete()
    if not deleted:
        if ModelArtifact.objects.filter(pk=artifact.pk).exists():
            raise ValueError(f"{artifact.version} is active: activate another version first")
        return  # someone else deleted it meanwhile
    artifact_path(artifact).unlink(missing_ok=True)


def prune_versions(kind: str, keep: int) -> list[str]:
    """Delete every version of ``kind`` but the active one and the ``keep - 1`` others that
    served most recently (the fallbacks ``load_active`` tries first; versions that never
    served go first), files included; the names of those deleted."""
    by_service = (F("activated_at").desc(nulls_last=True), "-created_at", "-id")
    stale = list(
        ModelArtifact.objects.filter(kind=kind, is_active=False).order_by(*by_service)[
            max(keep - 1, 0) :
        ]
    )
    for artifact in stale:
        delete_artifact(artifact)
    return [artifact.version for artifact in stale]


def new_version_name(kind: str) -> str:
    return f"{kind}-{timezone.now():%Y%m%dT%H%M%S%f}"


def register_artifact(
    *,
    kind: str,
    source: Path,
    loader: Loader,
    metrics: dict[str, Any],
    hyperparameters: dict[str, Any],
    data_summary: dict[str, Any],
    version: str | None = None,
    activate: bool = True,
) -> ModelArtifact:
    """Copy ``source`` into MODEL_ROOT as a new version; activate it once it loads."""
    version = version or new_version_name(kind)
    relative = Path(kind) / f"{version}{source.suffix}"
    target = Path(settings.MODEL_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".partial")
    shutil.copyfile(source, partial)
    partial.replace(target)  # atomic on one filesystem: readers never see half a file
    artifact = ModelArtifact.objects.create(
        kind=kind,
        version=version,
        path=str(relative),
        sha256=_sha256(target),
        size_bytes=target.stat().st_size,
        metrics=metrics,
        hyperparameters=hyperparameters,
        data_summary=data_summary,
    )
    if activate:
        activate_artifact(artifact=artifact, loader=loader)
    return artifact


def activate_artifact(*, artifact: ModelArtifact, loader: Loader) -> ModelArtifact:
    """Make ``artifact`` the active version of its kind, atomically, if it loads.

    A version that fails to load raises ArtifactUnavailable and the active one stays.
    """
    verify(artifact, loader)
    with transaction.atomic():
        ModelArtifact.objects.select_for_update().filter(kind=artifact.kind, is_active=True).update(
            is_active=False
        )
        artifact.is_active = True
        artifact.activated_at = timezone.now()
        artifact.save(update_fields=["is_active", "activated_at"])
    _ActiveCache.forget(artifact.kind)
    return artifact


@dataclass(frozen=True)
class LoadedArtifact(Generic[Loaded]):
    artifact: ModelArtifact
    model: Loaded


@dataclass(frozen=True)
class _CacheEntry:
    """What ``load_active`` settled on, and the state of the active version it was settled
    for: the database row and its file's size and modification time."""

    served: LoadedArtifact
    active_pk: int
    active_file: tuple[int, ...] | None

    def still_holds(self, active: ModelArtifact) -> bool:
        return self.active_pk == active.pk and self.active_file == _file_state(active)


def _file_state(artifact: ModelArtifact) -> tuple[int, ...] | None:
    try:
        stat = artifact_path(artifact).stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


class _ActiveCache:
    """Per-process cache of loaded models, keyed by kind, refreshed when the active version
    changes or its file does (so that every worker notices a damaged file alike)."""

    _lock = threading.Lock()
    _entries: dict[str, _CacheEntry] = {}

    @classmethod
    def get(cls, kind: str) -> _CacheEntry | None:
        return cls._entries.get(kind)

    @classmethod
    def put(cls, kind: str, entry: _CacheEntry) -> None:
        with cls._lock:
            cls._entries[kind] = entry

    @classmethod
    def forget(cls, kind: str) -> None:
        with cls._lock:
            cls._entries.pop(kind, None)


def load_active(kind: str, loader: Loader) -> LoadedArtifact:
    """The active model of ``kind``; if its file is missing or corrupt, the newest older
    version that still loads keeps serving (and the problem is logged once per process, not
    on every request, until the active version or its file changes)."""
    active = ModelArtifact.objects.filter(kind=kind, is_active=True).first()
    cached = _ActiveCache.get(kind)
    if cached is not None and active is not None and cached.still_holds(active):
        return cached.served
    active_file = None if active is None else _file_state(active)
    candidates = list(
        ModelArtifact.objects.filter(kind=kind, activated_at__isnull=False).order_by(
            "-is_active", "-activated_at"
        )
    )
    if not candidates:
        raise ArtifactUnavailable(f"no {kind} model has been trained yet")
    problems = []
    for artifact in candidates:
        try:
            entry = LoadedArtifact(artifact=artifact, model=verify(artifact, loader))
        except ArtifactUnavailable as exc:
            problems.append(str(exc))
            logger.error("cannot serve %s: %s", artifact.version, exc)
            continue
        if active is not None:
            _ActiveCache.put(kind, _CacheEntry(entry, active.pk, active_file))
        return entry
    raise ArtifactUnavailable("; ".join(problems))


def health(kind: str, loader: Loader) -> str:
    """For /healthz: "ok", or what is wrong with the model of ``kind``."""
    try:
        served = load_active(kind, loader)
    except ArtifactUnavailable as exc:
        return f"unavailable: {exc}"
    if not served.artifact.is_active:
        return f"degraded: serving {served.artifact.version}, the active version is unusable"
    return "ok"
