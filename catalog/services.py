"""Every write on the catalog: importing music, style vectors, the classifier, renders.

MIDI is validated and analysed before anything is written; a track row and its MIDI file
are created together or not at all.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from artifacts.models import ModelArtifact
from artifacts.services import ArtifactUnavailable, health, load_active, register_artifact
from catalog.midi.classifier import StyleClassifier, TrainingConfig, train_style_classifier
from catalog.midi.corpus import CorpusPiece, evenly_spaced
from catalog.midi.excerpts import EXCERPT_BEATS, training_excerpts
from catalog.midi.features import MidiFeatures, extract_features
from catalog.midi.provenance import ai_label
from catalog.midi.rendering import (
    AudioRenderer,
    cache_files,
    prune_cache,
    render_files,
    render_once,
    render_pianoroll,
)
from catalog.midi.style_space import (
    STYLE_DIM,
    STYLES,
    compose_vector,
    normalize_attributes,
    one_hot_style,
)
from catalog.midi.validation import load_midi, unwrap_riff_midi
from catalog.models import Origin, Track
from catalog.selectors import labelled_tracks_by_style
from jobs.services import hold_person

logger = logging.getLogger(__name__)

STYLE_CLASSIFIER_KIND = "style_classifier"
RENDER_DIRECTORY = "renders"
# The classifier also learns from excerpts (see catalog.midi.excerpts): this many windows of
# this many pieces per style, enough to cover every collection of a style.
EXCERPTS_PER_PIECE = 3
EXCERPT_PIECES_PER_STYLE = 150


@dataclass(frozen=True)
class StyleAssignment:
    style: str | None
    vector: list[float]


def active_style_classifier() -> StyleClassifier | None:
    try:
        return load_active(STYLE_CLASSIFIER_KIND, StyleClassifier.load).model
    except ArtifactUnavailable:
        return None


def assign_style(
    features: MidiFeatures, style_label: str | None, classifier: StyleClassifier | None
) -> StyleAssignment:
    """A label gives a one-hot style part; otherwise the classifier's probabilities do.

    With neither, the style part is uniform (no style is favoured) until a classifier exists.
    """
    if style_label is not None:
        weights = one_hot_style(style_label)
    elif classifier is not None:
        weights = classifier.style_weights([features])[0]
    else:
        weights = np.full(STYLE_DIM, 1.0 / STYLE_DIM, dtype=np.float32)
    vector = compose_vector(weights, normalize_attributes(features.to_attributes()))
    top = STYLES[int(np.argmax(weights))] if weights.max() > weights.min() else None
    return StyleAssignment(style=style_label or top, vector=[round(float(v), 6) for v in vector])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _create_track(*, midi_bytes: bytes, features: MidiFeatures, **fields: Any) -> Track:
    """Create the row and its MIDI file atomically: on any failure neither remains."""
    track = Track(
        midi_sha256=_sha256(midi_bytes),
        duration_s=features.duration_s,
        tempo_bpm=features.tempo_bpm,
        key=features.key,
        features=features.to_dict(),
        **fields,
    )
    try:
        with transaction.atomic():
            track.midi.save("track.mid", ContentFile(midi_bytes), save=False)
            track.save()
    except BaseException:
        if track.midi.name:
            track.midi.delete(save=False)
        raise
    return track


def import_midi(
    *,
    midi_bytes: bytes,
    title: str,
    artist: str = "",
    origin: str = Origin.UPLOAD,
    owner: AbstractBaseUser | None = None,
    is_public: bool = False,
    collection: str = "",
    style_label: str | None = None,
    source_id: str = "",
    ai_generated: bool = False,
    provenance: dict[str, Any] | None = None,
    classifier: StyleClassifier | None = None,
) -> Track:
    """Validate, analyse and store one MIDI file as a track; ``InvalidMidi`` writes nothing.

    A RIFF MIDI (``.rmi``) file is stored as the Standard MIDI File it wraps.
    """
    midi_bytes = unwrap_riff_midi(midi_bytes)
    return _create_track(
        midi_bytes=midi_bytes,
        **_analysed(load_midi(midi_bytes), style_label, classifier),
        title=title,
        artist=artist,
        origin=origin,
        owner=owner,
        is_public=is_public,
        collection=collection,
        source_id=source_id,
        ai_generated=ai_generated,
        provenance=provenance or {},
    )


def _analysed(
    midi: pretty_midi.PrettyMIDI, style_label: str | None, classifier: StyleClassifier | None
) -> dict[str, Any]:
    """The fields a MIDI file's content decides: features and style."""
    features = extract_features(midi)
    assignment = assign_style(features, style_label, classifier or active_style_classifier())
    return {
        "features": features,
        "style_label": style_label,
        "style": assignment.style,
        "style_vector": assignment.vector,
    }


def import_midi_file(*, path: Path, artist: str = "", collection: str = "") -> tuple[Track, bool]:
    """A MIDI file as a catalog track, once: the same path imported again gives back the
    track it made. A file labelled AI-generated keeps the label and stays hidden until
    staff publish it.

    Returns the track and whether it was created; ``InvalidMidi`` and ``OSError`` write
    nothing.
    """
    source_id = f"file:{path.resolve()}"
    existing = Track.objects.filter(source_id=source_id).first()
    if existing is not None:
        return existing, False
    midi_bytes = path.read_bytes()
    label = ai_label(load_midi(midi_bytes))
    track = import_midi(
        midi_bytes=midi_bytes,
        title=path.stem,
        artist=artist,
        collection=collection,
        origin=Origin.CATALOG,
        is_public=label is None,
        source_id=source_id,
        ai_generated=label is not None,
        provenance={"label": label} if label else None,
    )
    return track, True


def upload_midi(*, user: AbstractBaseUser, midi_bytes: bytes, title: str) -> tuple[Track, bool]:
    """Staff uploads join the public catalog; anyone else's stay private to them. A file
    labelled AI-generated (as this project's generator labels its pieces) keeps the label,
    and a staff upload of one stays hidden until staff publish it knowingly, as an imported
    one does: the upload is no way around the review queue.

    Returns the track and whether it was created: the same file uploaded again (a client's
    retry, even one sent while the first is still being analysed) gives back the track it
    made the first time.
    """
    midi_bytes = unwrap_riff_midi(midi_bytes)
    if user.is_staff:
        place: dict[str, Any] = {"origin": Origin.CATALOG, "is_public": True}
    else:
        place = {"origin": Origin.UPLOAD, "owner": user, "is_public": False}
    lookup = {key: value for key, value in place.items() if key != "is_public"}
    same_file = Track.objects.filter(midi_sha256=_sha256(midi_bytes), **lookup)
    existing = same_file.first()
    if existing is not None:
        return existing, False
    if not user.is_staff:
        _check_upload_quota(user)
    midi = load_midi(midi_bytes)  # the slow part, before any lock is taken
    content = _analysed(midi, None, None)
    label = ai_label(midi)
    if label is not None:
        place.update(is_public=False, ai_generated=True, provenance={"label": label})
    with transaction.atomic():
        # One upload per person at a time from here, so two retries cannot both find
        # nothing and insert, nor two uploads both pass the quota.
        hold_person(user)
        existing = same_file.first()
        if existing is not None:
            return existing, False
        if not user.is_staff:
            _check_upload_quota(user)
        return _create_track(midi_bytes=midi_bytes, title=title, **content, **place), True


class UploadQuotaExceeded(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "upload_quota_exceeded"


def _check_upload_quota(user: AbstractBaseUser) -> None:
    """Each upload can grow the render cache by its audio: a day's uploads are limited."""
    since = timezone.now() - timedelta(days=1)
    today = Track.objects.filter(owner=user, origin=Origin.UPLOAD, created_at__gte=since).count()
    if today >= settings.UPLOAD_MAX_DAILY:
        raise UploadQuotaExceeded(
            f"You have uploaded {today} files in the last 24 hours; the limit is "
            f"{settings.UPLOAD_MAX_DAILY}."
        )


def import_corpus_piece(*, piece: CorpusPiece) -> tuple[Track, bool]:
    """Store a corpus piece as a public catalog track; an already imported one is kept.

    Returns the track and whether it was created.
    """
    existing = Track.objects.filter(source_id=piece.source_id).first()
    if existing is not None:
        return existing, False
    assignment = assign_style(piece.features, piece.style, classifier=None)
    track = _create_track(
        midi_bytes=piece.midi_bytes,
        features=piece.features,
        title=piece.title,
        artist=piece.composer,
        collection=piece.collection,
        origin=Origin.CATALOG,
        is_public=True,
        style_label=piece.style,
        style=assignment.style,
        style_vector=assignment.vector,
        source_id=piece.source_id,
    )
    return track, True


@dataclass
class LabelledData:
    """The classifier's training samples: whole pieces and excerpts, with their piece."""

    features: list[MidiFeatures] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)
    is_excerpt: list[bool] = field(default_factory=list)
    collections: dict[str, int] = field(default_factory=dict)

    def add(self, features: MidiFeatures, label: str, piece: str, excerpt: bool) -> None:
        self.features.append(features)
        self.labels.append(label)
        self.pieces.append(piece)
        self.is_excerpt.append(excerpt)


def labelled_training_data(
    *,
    excerpts_per_piece: int = EXCERPTS_PER_PIECE,
    excerpt_pieces_per_style: int = EXCERPT_PIECES_PER_STYLE,
) -> LabelledData:
    """Every labelled track's stored features, plus excerpts of some of them.

    Excerpts need the MIDI parsed, so they come from ``excerpt_pieces_per_style`` pieces of
    each style, spread over the style's tracks in ``source_id`` order.
    """
    data = LabelledData()
    by_style = labelled_tracks_by_style(
        Track.objects.exclude(features={}).only(
            "pk", "source_id", "features", "style_label", "collection", "midi"
        )
    )
    for style, style_tracks in by_style.items():
        for track in style_tracks:
            data.add(MidiFeatures.from_dict(track.features), style, str(track.pk), False)
            data.collections[track.collection] = data.collections.get(track.collection, 0) + 1
        for track in evenly_spaced(style_tracks, excerpt_pieces_per_style):
            for window in _track_excerpts(track, excerpts_per_piece):
                data.add(extract_features(window), style, str(track.pk), True)
    return data


def _track_excerpts(track: Track, count: int) -> list[pretty_midi.PrettyMIDI]:
    if not track.midi:
        return []
    with track.midi.open("rb") as handle:
        return training_excerpts(load_midi(handle.read()), count)


def fit_style_classifier(config: TrainingConfig | None = None) -> StyleClassifier:
    """A classifier fitted on every labelled track and excerpts (nothing is saved)."""
    data = labelled_training_data()
    return train_style_classifier(
        data.features,
        data.labels,
        pieces=data.pieces,
        is_excerpt=data.is_excerpt,
        config=config or TrainingConfig(),
        data_description=(
            f"labelled catalog tracks, per collection: {data.collections}; "
            f"{sum(data.is_excerpt)} excerpts of {EXCERPT_BEATS} beats"
        ),
    )


def train_classifier(
    *, config: TrainingConfig | None = None, replace_broader: bool = False
) -> ModelArtifact:
    """Train on every labelled track (and excerpts) and register it. It is activated, and
    the unlabelled tracks restyled, unless the active classifier saw more samples (the
    shipped one saw the whole corpus; a small catalog would make a weaker one) and
    ``replace_broader`` is not set: then the active one keeps serving."""
    classifier = fit_style_classifier(config)
    active = ModelArtifact.objects.filter(kind=STYLE_CLASSIFIER_KIND, is_active=True).first()
    seen_before = int((active.data_summary or {}).get("samples", 0)) if active else 0
    activate = replace_broader or classifier.training_data["samples"] >= seen_before
    with tempfile.TemporaryDirectory() as workdir:
        saved = classifier.save(Path(workdir) / "style_classifier.joblib")
        artifact = register_artifact(
            kind=STYLE_CLASSIFIER_KIND,
            source=saved,
            loader=StyleClassifier.load,
            metrics={
                "accuracy": classifier.metrics.accuracy,
                "balanced_accuracy": classifier.metrics.balanced_accuracy,
                "labels": classifier.metrics.labels,
                "confusion_matrix": classifier.metrics.confusion_matrix,
                "test_size": classifier.metrics.test_size,
                "excerpt_accuracy": classifier.metrics.excerpt_accuracy,
                "excerpt_test_size": classifier.metrics.excerpt_test_size,
            },
            hyperparameters=classifier.describe()["config"],
            data_summary=classifier.training_data,
            version=classifier.version,
            activate=activate,
        )
    if activate:
        restyle_unlabelled_tracks(classifier=classifier)
    return artifact


def style_classifier_health() -> str:
    """For /healthz. Without a usable classifier, tracks are still stored and served; only
    the unlabelled ones go unstyled: degraded, not down."""
    state = health(STYLE_CLASSIFIER_KIND, StyleClassifier.load)
    return state if state == "ok" or state.startswith("degraded") else f"degraded: {state}"


def restyle_unlabelled_tracks(*, classifier: StyleClassifier, batch_size: int = 500) -> int:
    """Recompute the style vectors of tracks without a label; returns how many changed."""
    pending = Track.objects.filter(style_label__isnull=True).exclude(features={})
    updated = 0
    for batch in _batched(
        pending.only("pk", "features").iterator(chunk_size=batch_size), batch_size
    ):
        for track in batch:
            assignment = assign_style(MidiFeatures.from_dict(track.features), None, classifier)
            track.style, track.style_vector = assignment.style, assignment.vector
        Track.objects.bulk_update(batch, ["style", "style_vector"])
        updated += len(batch)
    return updated


def _batched(tracks: Iterable[Track], size: int) -> Iterable[list[Track]]:
    batch: list[Track] = []
    for track in tracks:
        batch.append(track)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _render_path(track: Track, suffix: str) -> Path:
    return (
        Path(settings.MEDIA_ROOT)
        / RENDER_DIRECTORY
        / track.midi_sha256[:2]
        / (f"{track.midi_sha256}.{suffix}")
    )


def render_track_audio(*, track: Track, audio_format: str) -> Path:
    """The track's audio, rendered on first use and cached by MIDI content.

    Raises ``RendererUnavailable`` where FluidSynth or the soundfont is missing, and
    ``RenderFailed`` (at once, for an hour) when this MIDI could not be rendered.
    """

    def render(destination: Path) -> None:
        renderer = AudioRenderer.find()
        with track.midi.open("rb") as midi:
            renderer.render(midi.read(), audio_format, destination)

    return render_once(_render_path(track, audio_format), render)


def render_track_pianoroll(*, track: Track) -> Path:
    """The track's piano-roll PNG, rendered on first use and cached by MIDI content."""

    def render(destination: Path) -> None:
        with track.midi.open("rb") as midi:
            image = render_pianoroll(load_midi(midi.read()))
        partial = destination.with_suffix(".png.partial")
        partial.write_bytes(image)
        partial.replace(destination)

    return render_once(_render_path(track, "png"), render)


def render_cache_is_over() -> bool:
    """Whether the render cache holds more than RENDER_CACHE_MAX_BYTES."""
    folder = Path(settings.MEDIA_ROOT) / RENDER_DIRECTORY
    total = sum(size for _, size, _ in cache_files(folder)) if folder.is_dir() else 0
    return total > settings.RENDER_CACHE_MAX_BYTES


def prune_renders() -> dict[str, int]:
    """Bring the render cache back under RENDER_CACHE_MAX_BYTES, least recently used first."""
    folder = Path(settings.MEDIA_ROOT) / RENDER_DIRECTORY
    if not folder.is_dir():
        return {"removed": 0, "freed_bytes": 0}
    removed, freed = prune_cache(folder, settings.RENDER_CACHE_MAX_BYTES)
    return {"removed": removed, "freed_bytes": freed}


def delete_tracks_of(*, owner: AbstractBaseUser) -> int:
    """Delete an owner's private uploads and generated tracks with their files
    (:func:`delete_tracks`): deleting an account leaves none of its music on disk.

    Published tracks are the catalog's, listened to and curated by others: they stay, with no
    owner and no requester's name in their provenance.
    """
    published = Track.objects.filter(owner=owner, is_public=True)
    for track in published.filter(provenance__has_key="requested_by"):
        del track.provenance["requested_by"]
        track.save(update_fields=["provenance"])
    published.update(owner=None)
    return delete_tracks(tracks=Track.objects.filter(owner=owner))


class TrackNotDeletable(APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "track_not_deletable"


class TrackInUse(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "track_in_use"


DeletionCheck = Callable[[Track, AbstractBaseUser], str | None]
_DELETION_CHECKS: list[DeletionCheck] = []


def register_deletion_check(check: DeletionCheck) -> None:
    """Apps that keep rows about tracks (listens, pieces being made...) say why one person
    may not delete a track: ``check(track, person)`` returns the reason, or None. It runs in
    the deleting transaction before the track is locked, and may lock its own rows first
    (curation locks a piece, then its track: the same order)."""
    _DELETION_CHECKS.append(check)


@transaction.atomic
def delete_own_track(*, user: AbstractBaseUser, track: Track) -> None:
    """Delete a track of ``user``'s that only they can see (a private upload, a generated
    piece not published) with its files, and with it their listens, feedback and playlist
    entries of it. Published tracks are the catalog's, listened to by others: staff withdraw
    them (TrackNotDeletable). A track others kept while it was published, or a piece still
    being made, stays (TrackInUse)."""
    _check_own_and_unpublished(track, user)
    for check in _DELETION_CHECKS:
        reason = check(track, user)
        if reason:
            raise TrackInUse(reason)
    locked = Track.objects.select_for_update().filter(pk=track.pk).first()
    if locked is None:
        raise Http404  # deleted meanwhile: a retry
    _check_own_and_unpublished(locked, user)  # again, under the lock: published meanwhile?
    delete_tracks(tracks=Track.objects.filter(pk=locked.pk))


def _check_own_and_unpublished(track: Track, user: AbstractBaseUser) -> None:
    if track.is_public:
        raise TrackNotDeletable(
            "A published track belongs to the catalog; staff withdraw it in the admin."
        )
    if track.owner_id != user.pk:
        raise TrackNotDeletable("Only the person who uploaded or generated a track deletes it.")


def delete_tracks(*, tracks: QuerySet[Track]) -> int:
    """Delete ``tracks`` and, once the deletion commits, their MIDI files and the renders no
    other track shares (renders are kept by content); how many were deleted."""
    doomed = list(tracks)
    pks = [t.pk for t in doomed]
    paths = [Path(t.midi.path) for t in doomed if t.midi]
    shared = set(
        Track.objects.exclude(pk__in=pks)
        .filter(midi_sha256__in={t.midi_sha256 for t in doomed})
        .values_list("midi_sha256", flat=True)
    )
    paths += [
        path
        for t in doomed
        if t.midi_sha256 and t.midi_sha256 not in shared
        for suffix in ("wav", "ogg", "png")
        for path in render_files(_render_path(t, suffix))
    ]
    Track.objects.filter(pk__in=pks).delete()
    transaction.on_commit(lambda: [path.unlink(missing_ok=True) for path in paths])
    return len(doomed)


def set_style_label(*, track: Track, style_label: str | None) -> None:
    """Label a track's style (None: the classifier's verdict decides); its style and style
    vector follow, as they do for a track imported with that label."""
    track.style_label = style_label
    if track.features:
        classifier = None if style_label else active_style_classifier()
        assignment = assign_style(MidiFeatures.from_dict(track.features), style_label, classifier)
        track.style, track.style_vector = assignment.style, assignment.vector
    else:
        track.style = style_label
    track.save(update_fields=["style_label", "style", "style_vector", "updated_at"])
