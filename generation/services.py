"""Writes of the generation app: generation requests and jobs, playlists, curation."""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pretty_midi
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from catalog.midi.classifier import StyleClassifier
from catalog.midi.features import extract_features
from catalog.midi.rendering import RendererUnavailable
from catalog.midi.style_space import STYLES, split_vector
from catalog.models import Origin, Track
from catalog.selectors import public_or_own_tracks
from catalog.services import (
    active_style_classifier,
    import_midi,
    render_track_audio,
    render_track_pianoroll,
)
from generation.conditions import build_condition
from generation.flow import FlowItem, insert_for_flow, order_for_flow
from generation.generator import Generator, active_generator
from generation.ml.data import midi_to_grid
from generation.ml.evaluation import NOVELTY_THRESHOLD
from generation.ml.sampling import (
    DEFAULT_TEMPERATURE,
    filled_share,
    generate,
    most_in_style,
    vary,
    with_style_instruments,
)
from generation.models import (
    GeneratedTrack,
    GenerationRequest,
    Playlist,
    PlaylistItem,
    PlaylistStatus,
    ReviewStatus,
)
from generation.selectors import pieces_to_come, style_prototypes
from jobs.models import Job, JobStatus
from jobs.runner import JobError
from jobs.services import Idempotency, hold_person, submit_job
from profiles.models import Profile
from profiles.selectors import preferences_of
from recommender.ml.taste import without_styles
from recommender.selectors import recommend_for
from recommender.services import refresh_stale_taste

logger = logging.getLogger(__name__)
GENERATION_KIND = "generation"
# The taste vector's style weights are sharpened so that the dominant style leads the music.
TASTE_SHARPENING = 2.0
VARIATION_AMOUNT = 0.6
# Share of generated tracks in a playlist when neither the request nor the person says.
DEFAULT_GENERATED_SHARE = 0.25


# The most pieces one generation job makes, whether asked for directly or by a playlist.
MAX_PIECES_PER_REQUEST = 8


# A running job usually finishes within this; a client told to wait polls no sooner.
RUNNING_JOB_RETRY_S = 30


class QuotaExceeded(APIException):
    """A 429 with ``Retry-After`` (DRF sends ``wait`` as that header)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "quota_exceeded"

    def __init__(self, detail: str, wait: float) -> None:
        super().__init__(detail)
        self.wait = max(1, round(wait))


def check_quota(user: AbstractBaseUser) -> None:
    jobs = Job.objects.filter(owner=user, kind=GENERATION_KIND)
    running = jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).count()
    if running >= settings.GENERATION_MAX_CONCURRENT:
        raise QuotaExceeded(
            f"You already have {running} generation jobs in progress; the limit is "
            f"{settings.GENERATION_MAX_CONCURRENT}. Wait for one to finish.",
            wait=RUNNING_JOB_RETRY_S,
        )
    window_start = timezone.now() - timedelta(days=1)
    today = jobs.filter(created_at__gte=window_start).order_by("created_at")
    started = today.count()
    if started >= settings.GENERATION_MAX_DAILY:
        # A job may start again once enough of today's have left the 24-hour window.
        freeing = today.values_list("created_at", flat=True)[
            max(started - settings.GENERATION_MAX_DAILY, 0) : started
        ].first()
        raise QuotaExceeded(
            f"You have started {started} generation jobs in the last 24 hours; the limit "
            f"is {settings.GENERATION_MAX_DAILY}.",
            wait=(freeing - window_start).total_seconds() if freeing else 86_400,
        )


@transaction.atomic
def request_generation(
    *,
    user: AbstractBaseUser,
    count: int,
    bars: int = 16,
    temperature: float = DEFAULT_TEMPERATURE,
    seed: int | None = None,
    style_mix: dict[str, float] | None = None,
    tempo_bpm: float | None = None,
    variation_of: int | None = None,
    check_quotas: bool = True,
    idempotency: Idempotency | None = None,
) -> GenerationRequest:
    """Record the request and queue its job; the job runs after this transaction commits.
    ``variation_of`` is the id of a public track or one of the person's own. A retry with
    the ``idempotency`` key of an earlier request gets that request (MadeAndDeleted if it
    was deleted since)."""
    hold_person(user)
    earlier = idempotency.earlier(user, GenerationRequest) if idempotency else None
    if earlier is not None:
        return earlier
    source = None if variation_of is None else _variation_source(user, variation_of)
    if check_quotas:
        check_quota(user)
    profile = Profile.objects.filter(user=user).first()
    if profile is not None:  # listens since the stored taste count, as GET /me/ shows them
        refresh_stale_taste(profile)
    taste = profile.taste_vector if profile and profile.taste_vector else None
    if taste is None and style_mix:
        taste = style_prototypes()[max(style_mix, key=style_mix.get)]
    sharpen = 1.0 if style_mix else TASTE_SHARPENING
    if source is not None:  # a variation is conditioned on its source, as it is made
        condition = np.asarray(source.style_vector, dtype=np.float32)
    else:
        condition = build_condition(
            taste=taste, style_mix=style_mix, tempo_bpm=tempo_bpm, sharpen=sharpen
        )
        if not style_mix:  # the neutral condition (no taste model yet) weighs every style
            condition = without_styles(condition, preferences_of(user).get("avoid_styles", []))
    job = submit_job(kind=GENERATION_KIND, owner=user, params={}, max_attempts=2)
    request = GenerationRequest.objects.create(
        job=job,
        user=user,
        count=count,
        bars=bars,
        temperature=temperature,
        seed=seed if seed is not None else random.SystemRandom().randrange(2**31),
        style_mix=style_mix,
        tempo_bpm=tempo_bpm,
        variation_of=source,
        condition=[round(float(v), 6) for v in condition],
    )
    job.params = {"request_id": request.pk}
    job.save(update_fields=["params"])
    if idempotency:
        idempotency.remember(user, request.pk)
    return request


def _variation_source(user: AbstractBaseUser, track_id: int) -> Track:
    """Staff too vary only public tracks and their own: seeing every track in order to curate
    it is no leave to make things of other people's private ones."""
    track = public_or_own_tracks(user).filter(pk=track_id).first()
    if track is None or not track.midi:
        message = "No public track or one of your own with MIDI has this id."
        raise ValidationError({"variation_of": [message]})
    return track


def run_generation(
    request: GenerationRequest, progress: Callable[[float, str], None]
) -> list[Track]:
    """Sample, check novelty (re-sampling copies) and style, store and render each piece.

    Idempotent: pieces stored by an earlier, interrupted attempt are kept and not redone.
    """
    generator = active_generator().model
    classifier = active_style_classifier()
    request.model_version = generator.version
    request.save(update_fields=["model_version"])
    done = list(GeneratedTrack.objects.filter(request=request).order_by("pk"))
    tracks = [g.track for g in done]
    for index in range(len(done), request.count):
        progress(index / request.count, f"generating piece {index + 1} of {request.count}")
        tracks.append(_generate_one(request, generator, classifier, index))
    progress(1.0, f"generated {request.count} piece{'' if request.count == 1 else 's'}")
    return tracks


def _target_style(request: GenerationRequest) -> str:
    return STYLES[int(np.argmax(split_vector(request.condition)[0]))]


Candidate = tuple[pretty_midi.PrettyMIDI, int, int]
"""A sampled piece, its seed and its longest run shared with training music."""
# A candidate whose notes stop before this share of the asked-for bars is passed over for
# up to LENGTH_ROUNDS rounds of candidates; then the longest seen is kept. (A variation is as
# long as its source allows, so it is not held to this.)
MIN_FILLED_SHARE = 0.9
LENGTH_ROUNDS = 2


def _generate_one(
    request: GenerationRequest,
    generator: Generator,
    classifier: StyleClassifier | None,
    index: int,
) -> Track:
    """The most in-style of a few novel candidates that fill the length asked for.

    Copies of training music (a shared run of ``NOVELTY_THRESHOLD`` notes) are dropped and
    counted as re-sampled. Candidates that fall silent early are passed over (another round
    is sampled, LENGTH_ROUNDS in all); if none fills the length, the longest novel one is
    kept. Among the
    rest, the style classifier picks the candidate it hears most in the requested style: the
    same check a curator would make, made before saving. A round whose candidates are all
    heard in a style the person avoids is sampled again too. The piece is then played by the
    instruments of the style it was heard in.
    """
    condition = np.asarray(request.condition, dtype=np.float32)
    per_attempt = settings.GENERATION_STYLE_CANDIDATES if classifier is not None else 1
    avoided = _avoided_styles(request)
    novel: list[Candidate] = []
    short_rounds = 0
    for attempt in range(settings.GENERATION_MAX_RESAMPLES + 1):
        candidates = []
        for candidate in range(per_attempt):
            seed = piece_seed(request.seed, index, attempt, candidate)
            midi = _sample(request, generator, condition, seed)
            shared_run = generator.novelty.longest_shared_run(midi_to_grid(midi))
            if shared_run < NOVELTY_THRESHOLD:
                candidates.append((midi, seed, shared_run))
                continue
            GenerationRequest.objects.filter(pk=request.pk).update(resampled=F("resampled") + 1)
            logger.info("generation %s piece %s copied %s notes", request.pk, index, shared_run)
        novel += candidates
        full = [c for c in candidates if filled_share(c[0], request.bars) >= MIN_FILLED_SHARE]
        chosen = _most_in_style(full, request, classifier, avoided) if full else None
        if chosen is not None:
            return _store(request, generator, *chosen)
        if full:
            logger.info("generation %s piece %s: heard only in avoided styles", request.pk, index)
        elif candidates:
            logger.info("generation %s piece %s: every candidate stops early", request.pk, index)
            short_rounds += 1
            if request.variation_of_id is not None or short_rounds == LENGTH_ROUNDS:
                break
    if novel:
        longest = max(novel, key=lambda c: filled_share(c[0], request.bars))
        kept = _most_in_style([longest], request, classifier, frozenset())
        return _store(request, generator, *kept)
    raise ValueError(
        f"piece {index + 1} kept copying training music after "
        f"{settings.GENERATION_MAX_RESAMPLES} re-samples; try another seed or temperature"
    )


def piece_seed(request_seed: int, index: int, attempt: int, candidate: int) -> int:
    """The sampling seed of one candidate: the request's own for the first, and for the
    others a hash of all four, so that nearby request seeds never share pieces (seed 1's
    second piece used to be seed 2's first)."""
    if index == attempt == candidate == 0:
        return request_seed
    sequence = np.random.SeedSequence([request_seed, index, attempt, candidate])
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


def _avoided_styles(request: GenerationRequest) -> frozenset[str]:
    """The styles the person avoids, but those they asked for (a variation asks for its
    source's)."""
    if request.variation_of_id is not None:
        return frozenset()
    asked = {style for style, weight in (request.style_mix or {}).items() if weight > 0}
    return frozenset(preferences_of(request.user).get("avoid_styles", [])) - asked


def _most_in_style(
    candidates: list[Candidate],
    request: GenerationRequest,
    classifier: StyleClassifier | None,
    avoided: frozenset[str],
) -> Candidate | None:
    """The candidate heard most in the requested style, with its verdict's instruments;
    ``None`` when every one is heard in an ``avoided`` style."""
    if classifier is None:
        return candidates[0]
    weights = classifier.style_weights([extract_features(midi) for midi, _, _ in candidates])
    best = most_in_style(weights, _target_style(request), avoided)
    if best is None:
        return None
    midi, seed, shared_run = candidates[best]
    heard_as = STYLES[int(np.argmax(weights[best]))]
    return with_style_instruments(midi, heard_as), seed, shared_run


def _sample(
    request: GenerationRequest, generator: Generator, condition: np.ndarray, seed: int
) -> pretty_midi.PrettyMIDI:
    if request.variation_of is not None:
        source = request.variation_of
        with source.midi.open("rb") as handle:
            original = pretty_midi.PrettyMIDI(io.BytesIO(handle.read()))
        return vary(
            generator.model, original, VARIATION_AMOUNT, seed, condition, request.temperature
        )
    return generate(generator.model, condition, request.bars, 1, request.temperature, seed)[0]


def _store(
    request: GenerationRequest, generator: Generator, midi: Any, seed: int, shared_run: int
) -> Track:
    buffer = io.BytesIO()
    midi.write(buffer)
    provenance = {
        "ai_generated": True,
        "model_version": generator.version,
        "seed": seed,
        "conditioning_vector": request.condition,
        "requested_by": request.user.get_username(),
        "created_at": timezone.now().isoformat(),
        "generation_request": request.pk,
    }
    if request.variation_of_id is not None:
        provenance["variation_of"] = request.variation_of_id
    classifier = active_style_classifier()
    with transaction.atomic():
        # Held until the piece is stored, so an account deleted meanwhile either waits for
        # it (and its deletion takes the piece's file too) or is gone before anything is
        # written, instead of leaving a MIDI file that no row names.
        owner = get_user_model().objects.select_for_update().filter(pk=request.user_id)
        if owner.first() is None:
            raise JobError("The account that asked for this piece was deleted.")
        track = import_midi(
            midi_bytes=buffer.getvalue(),
            title=f"Generated piece {request.pk}-{seed}",
            artist="AI generator",
            origin=Origin.GENERATED,
            owner=request.user,
            is_public=False,
            ai_generated=True,
            provenance=provenance,
            classifier=classifier,
        )
        weights, _ = split_vector(track.style_vector)
        GeneratedTrack.objects.create(
            track=track,
            request=request,
            requested_by=request.user,
            model_version=generator.version,
            seed=seed,
            condition=request.condition,
            novelty_shared_run=shared_run,
            classifier_style=track.style or "",
            classifier_confidence=float(weights.max()) if weights.size else None,
        )
    _render(track)
    return track


def _render(track: Track) -> None:
    try:
        render_track_audio(track=track, audio_format="ogg")
        render_track_pianoroll(track=track)
    except RendererUnavailable as exc:
        logger.warning("track %s stays unrendered until requested: %s", track.pk, exc)


def _flow_item(track: Track) -> FlowItem:
    tonic, _, mode = (track.key or "").partition(" ")
    return FlowItem(
        key=track.pk,
        style_vector=track.style_vector or [0.0] * 12,
        tonic=tonic or None,
        major=None if not mode else mode == "major",
        tempo_bpm=track.tempo_bpm,
        artist=track.artist,
    )


def _write_items(playlist: Playlist, tracks: list[Track], reasons: dict[int, str]) -> None:
    """Replace the playlist's items by ``tracks`` in flow order."""
    ordered = order_for_flow([_flow_item(t) for t in tracks]) if tracks else []
    _store_items(playlist, ordered, reasons)


def _store_items(playlist: Playlist, ordered: list[FlowItem], reasons: dict[int, str]) -> None:
    PlaylistItem.objects.filter(playlist=playlist).delete()
    PlaylistItem.objects.bulk_create(
        PlaylistItem(playlist=playlist, position=i + 1, track_id=item.key, reason=reasons[item.key])
        for i, item in enumerate(ordered)
    )


@transaction.atomic
def create_playlist(
    *,
    user: AbstractBaseUser,
    name: str,
    length: int,
    generated_share: float | None,
    idempotency: Idempotency | None = None,
) -> Playlist:
    """Recommended catalog tracks now; generated ones from a job, merged when it finishes.

    ``generated_share=None`` takes the person's preference, else the default share (none
    for someone who does not want generated tracks). The
    generated part is at most MAX_PIECES_PER_REQUEST pieces and counts against the
    person's generation quota: when that is used up, an explicit share is refused
    (``QuotaExceeded``) and a preferred or default one gives a catalog-only playlist. A retry
    with the ``idempotency`` key of an earlier request gets that playlist (MadeAndDeleted
    if it was deleted since)."""
    hold_person(user)
    earlier = idempotency.earlier(user, Playlist) if idempotency else None
    if earlier is not None:
        return earlier
    explicit = generated_share is not None
    preferences = preferences_of(user)
    if generated_share is None:
        wanted = preferences.get("generated_share", DEFAULT_GENERATED_SHARE)
        generated_share = wanted if preferences.get("include_generated", True) else 0.0
    generated = min(round(length * generated_share), MAX_PIECES_PER_REQUEST)
    if generated:
        try:
            check_quota(user)
        except QuotaExceeded:
            if explicit:
                raise
            generated, generated_share = 0, 0.0
    recommendations = []
    if length > generated:
        # Other people's published pieces are catalog tracks: offered as recommendations are.
        _, recommendations = recommend_for(user, limit=length - generated, diversity=0.3)
    playlist = Playlist.objects.create(
        user=user,
        name=name or f"Mix of {timezone.now():%Y-%m-%d %H:%M}",
        length=len(recommendations) + generated,  # fewer when the catalog has too few
        generated_share=generated_share,
        status=PlaylistStatus.BUILDING if generated else PlaylistStatus.READY,
    )
    _write_items(
        playlist,
        [r.track for r in recommendations],
        {r.track.pk: r.reason for r in recommendations},
    )
    if generated:
        request = request_generation(user=user, count=generated, check_quotas=False)
        playlist.job = request.job
        playlist.save(update_fields=["job"])
    if idempotency:
        idempotency.remember(user, playlist.pk)
    return playlist


def complete_playlists(request: GenerationRequest, tracks: list[Track]) -> None:
    """Merge a finished generation into the playlists that waited for it."""
    for waiting in Playlist.objects.filter(
        job=request.job, status=PlaylistStatus.BUILDING
    ).select_related("user"):
        with transaction.atomic():
            # Locked, so that a reorder sent meanwhile comes wholly before or after; the
            # person first, as every change of theirs and their account's deletion lock.
            hold_person(waiting.user)
            playlist = Playlist.objects.select_for_update().filter(pk=waiting.pk).first()
            if playlist is None or playlist.status != PlaylistStatus.BUILDING:
                continue  # deleted, or completed by a retry of the job
            # The items keep their order, which the person may have changed meanwhile;
            # the pieces go where they fit the flow best.
            items = list(playlist.items.select_related("track").order_by("position"))
            reasons = {item.track_id: item.reason for item in items}
            # Only the pieces still there: staff may have deleted one meanwhile.
            kept = set(Track.objects.filter(pk__in=[t.pk for t in tracks]).values_list("pk"))
            pieces = [t for t in tracks if (t.pk,) in kept]
            reasons.update({t.pk: _generated_reason(t) for t in pieces})
            ordered = insert_for_flow(
                [_flow_item(item.track) for item in items], [_flow_item(t) for t in pieces]
            )
            _store_items(playlist, ordered, reasons)
            playlist.status = PlaylistStatus.READY
            playlist.length = len(ordered)
            playlist.save(update_fields=["status", "length", "updated_at"])


def _generated_reason(track: Track) -> str:
    """In the style the piece came out in (the style classifier's verdict), which can differ
    from the taste it was conditioned on."""
    return (
        f"freshly generated for you, in {track.style}"
        if track.style
        else "freshly generated for you"
    )


def fail_playlists(request: GenerationRequest, error: str) -> None:
    Playlist.objects.filter(job=request.job, status=PlaylistStatus.BUILDING).update(
        status=PlaylistStatus.FAILED, error=f"The generated tracks could not be made: {error}"
    )


class PlaylistChanged(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "playlist_changed"
    default_detail = (
        "The playlist changed since you read it (its generated pieces joined, or another "
        "change came first); read it again and resend."
    )


def playlist_version(playlist: Playlist) -> str:
    """The playlist's ETag: it changes whenever the playlist does."""
    return f'"{playlist.updated_at.timestamp():.6f}"'


@transaction.atomic
def update_playlist(
    *,
    playlist: Playlist,
    name: str | None = None,
    tracks: list[int] | None = None,
    if_match: str | None = None,
) -> Playlist:
    """Rename, and reorder or remove items: ``tracks`` is the new order of kept tracks.

    The person and the playlist are locked first: generated pieces joining it meanwhile,
    another change, or the account's deletion come wholly before or after this one. With
    ``if_match`` (an If-Match header), a playlist that changed since the client read it is
    left as it is (PlaylistChanged): a reorder read before a piece joined would drop it."""
    hold_person(playlist.user)
    playlist = Playlist.objects.select_for_update().get(pk=playlist.pk)
    if if_match is not None and not _matches(if_match, playlist_version(playlist)):
        raise PlaylistChanged
    if name is not None:
        playlist.name = name
        playlist.save(update_fields=["name", "updated_at"])
    if tracks is not None:
        items = {item.track_id: item for item in playlist.items.all()}
        unknown = [t for t in tracks if t not in items]
        repeated = sorted({t for t in tracks if tracks.count(t) > 1})
        problems = [f"not in this playlist: {unknown}"] if unknown else []
        problems += [f"listed more than once: {repeated}"] if repeated else []
        if problems:
            raise ValidationError(
                {"tracks": [f"Must list tracks of this playlist once each; {'; '.join(problems)}"]}
            )
        PlaylistItem.objects.filter(playlist=playlist).delete()
        PlaylistItem.objects.bulk_create(
            PlaylistItem(
                playlist=playlist, position=i + 1, track_id=track, reason=items[track].reason
            )
            for i, track in enumerate(tracks)
        )
        playlist.length = len(tracks) + pieces_to_come(playlist)
        playlist.save(update_fields=["length", "updated_at"])
    return playlist


# Curation is two steps, approve then publish, and every decision can be taken back
# except that nothing jumps from pending or rejected straight into the catalog.
REVIEW_TRANSITIONS: dict[str, frozenset[str]] = {
    ReviewStatus.PENDING: frozenset({ReviewStatus.APPROVED, ReviewStatus.REJECTED}),
    ReviewStatus.APPROVED: frozenset({ReviewStatus.PUBLISHED, ReviewStatus.REJECTED}),
    ReviewStatus.PUBLISHED: frozenset({ReviewStatus.APPROVED, ReviewStatus.REJECTED}),
    ReviewStatus.REJECTED: frozenset({ReviewStatus.APPROVED}),
}


def _matches(if_match: str, version: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    return "*" in tags or version in tags


class ReviewRefused(Exception):
    """A curation decision that the track's current state does not allow."""


def review_problem(current: str, decision: str) -> str | None:
    """Why a track ``current``ly in review cannot be moved to ``decision``, or None."""
    if decision == current:
        return None
    if decision not in REVIEW_TRANSITIONS.get(current, frozenset()):
        allowed = " or ".join(sorted(REVIEW_TRANSITIONS.get(current, frozenset()))) or "nothing"
        return f"{current} tracks can become {allowed}, not {decision}"
    return None


def piece_deletion_problem(track: Track, person: AbstractBaseUser) -> str | None:
    """Why ``person`` may not delete ``track`` now: it is a piece whose generation is still
    running (its playlists wait for it), or it is in someone else's playlist. Locks the
    piece's curation record first, as curation does."""
    piece = GeneratedTrack.objects.select_for_update().filter(track=track).first()
    if piece is not None and piece.request_id is not None:
        job_status = Job.objects.filter(generation__pk=piece.request_id).values_list(
            "status", flat=True
        )
        if job_status.first() in (JobStatus.QUEUED, JobStatus.RUNNING):
            return "This piece's generation is still running; delete it once it has finished."
    if PlaylistItem.objects.filter(track=track).exclude(playlist__user=person).exists():
        return "This track is in other people's playlists; staff withdraw it in the admin."
    return None


@transaction.atomic
def review_generated(
    *, generated: GeneratedTrack, decision: str, reviewer: AbstractBaseUser
) -> bool:
    """Move a generated track to ``decision``, recording who decided and when.

    Publishing makes the track public (it joins the catalog and can be recommended to
    others); approving a published track unpublishes it; rejecting hides it from everyone
    but its owner. Returns whether anything changed: repeating the current decision keeps
    the first reviewer and time. Raises ``ReviewRefused`` for a move REVIEW_TRANSITIONS
    does not allow (publishing what nobody approved, say).
    """
    locked = GeneratedTrack.objects.select_for_update().get(pk=generated.pk)
    problem = review_problem(locked.review_status, decision)
    if problem:
        raise ReviewRefused(f"{generated.track}: {problem}.")
    if locked.review_status == decision:
        return False
    generated.review_status = decision
    generated.reviewed_by = reviewer
    generated.reviewed_at = timezone.now()
    generated.save(update_fields=["review_status", "reviewed_by", "reviewed_at"])
    Track.objects.filter(pk=generated.track_id).update(is_public=decision == ReviewStatus.PUBLISHED)
    return True
