"""Writes on accounts and profiles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import serializers
from rest_framework.authtoken.models import Token

from catalog.external import EXTERNAL_ORIGIN, TrackMetadata, resolve_tracks
from catalog.models import Track
from catalog.services import delete_tracks_of
from jobs.services import hold_person
from profiles import sign_in
from profiles.listen_input import ListenInput, ListenProblems, Problem
from profiles.models import (
    AccountDeletion,
    Feedback,
    FeedbackEvent,
    FeedbackScore,
    Listen,
    NowPlaying,
    Profile,
)
from profiles.preferences import PreferencesSerializer
from profiles.signals import taste_shown

User = get_user_model()


@transaction.atomic
def register_user(*, username: str, password: str, email: str = "") -> tuple[Any, str]:
    """Create an account and its API token; raise ValidationError with field messages.

    Names are compared as Django stores them (NFKC: full-width letters are plain ones) and
    without regard to case (the database holds one name per lower-case form), and new names
    are plain ASCII (RegisterSerializer), so no one registers a look-alike of another.
    """
    username = User.normalize_username(username)
    taken = ValidationError({"username": ["A user with that username already exists."]})
    if User.objects.filter(username__iexact=username).exists():
        raise taken
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password, email=email)
            token = Token.objects.create(user=user)
    except IntegrityError:  # the same name, in any case, registered at the same moment
        raise taken from None
    return user, token.key


@transaction.atomic
def change_password(*, user: AbstractBaseUser, current: str, new: str) -> str:
    """Set a new password and replace the API token (other devices must sign in again).

    Returns the new token; raises ValidationError naming the field at fault.
    """
    sign_in.check_not_locked(user.get_username())
    if not user.check_password(current):
        sign_in.note_failure(user.get_username())
        raise ValidationError({"current_password": ["This is not your password."]})
    try:
        validate_password(new, user=user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
    user.set_password(new)
    user.save(update_fields=["password"])
    return rotate_token(user=user)


def rotate_token(*, user: AbstractBaseUser) -> str:
    """Revoke the person's API token and issue a new one; returns the new key."""
    revoke_token(user=user)
    return Token.objects.create(user=user).key


def revoke_token(*, user: AbstractBaseUser) -> None:
    """The person's API token stops working; signing in issues a new one."""
    Token.objects.filter(user=user).delete()


def profile_of(user: AbstractBaseUser) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def profile_shown(user: AbstractBaseUser) -> Profile:
    """The person's profile as they are to see it, with a taste as fresh as the active model
    can make it (see ``profiles.signals.taste_shown``)."""
    profile = profile_of(user)
    taste_shown.send(sender=Profile, profile=profile)
    return profile


@transaction.atomic
def update_preferences(*, user: AbstractBaseUser, changes: dict[str, Any]) -> Profile:
    """Merge ``changes`` into the stored preferences; ``null`` removes a preference."""
    profile = Profile.objects.select_for_update().get(pk=profile_of(user).pk)
    merged = {**profile.preferences, **changes}
    merged = {key: value for key, value in merged.items() if value is not None}
    serializer = PreferencesSerializer(data=merged)
    if not serializer.is_valid():
        raise serializers.ValidationError({"preferences": serializer.errors})
    profile.preferences = serializer.validated_data
    profile.save(update_fields=["preferences", "updated_at"])
    return profile


def store_taste(
    *,
    user: AbstractBaseUser,
    vector: Sequence[float],
    styles: dict[str, float],
    model_version: str,
    updated_at: datetime | None = None,
) -> None:
    Profile.objects.filter(user=user).update(
        taste_vector=[float(v) for v in vector],
        taste_styles=styles,
        taste_model_version=model_version,
        taste_updated_at=updated_at or timezone.now(),
    )


@transaction.atomic
def delete_account(*, user: AbstractBaseUser) -> None:
    """Delete the person and, through cascades, every datum that belongs to them; their
    published tracks stay in the catalog without them (``delete_tracks_of``).

    Listening-history tracks they named stay: shared by name with anyone who names them,
    seen by nobody who has not, they link to no one once the listens are gone, and deleting
    one could fail a concurrent listen that has just matched it.
    """
    hold_person(user, deleting=True)  # listens being written finish; later ones find no one
    delete_tracks_of(owner=user)
    user.delete()
    AccountDeletion.objects.create()


def kept_by_others(track: Track, person: AbstractBaseUser) -> str | None:
    """Why ``person`` may not delete ``track``: others listened to it or judged it (while it
    was published); None when nobody else did."""
    rows = (Listen.objects, Feedback.objects, FeedbackEvent.objects)
    if any(model.filter(track=track).exclude(user=person).exists() for model in rows):
        return "Others have listened to this track; staff withdraw it in the admin."
    return None


def ensure_demo_staff(*, username: str, password: str) -> tuple[Any, bool]:
    """The local demo account; its password is reset so that the printed one always works.
    Another account whose name differs only in case is never taken over: ValueError."""
    twin = User.objects.filter(username__iexact=username).exclude(username=username).first()
    if twin is not None:
        raise ValueError(f"the account {twin.username!r} holds the demo name {username!r}")
    user, created = User.objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save(update_fields=["password", "is_staff", "is_superuser"])
    Token.objects.get_or_create(user=user)
    return user, created


# --- Listening history -------------------------------------------------------------------


@dataclass
class ListenTally:
    accepted: int = 0
    duplicates: int = 0


def visible_tracks(user: AbstractBaseUser) -> Q:
    """Tracks a person may name by id: public ones, their own uploads, and the shared
    external tracks they have listened to themselves (whose ids their listens show).

    Anyone else's external tracks stay unknown: their ids would otherwise reveal what other
    people listened to, one guessed id at a time.
    """
    heard = Listen.objects.filter(user=user).values("track_id")
    return Q(is_public=True) | Q(owner=user) | Q(origin=EXTERNAL_ORIGIN, pk__in=heard)


@transaction.atomic
def record_listens(
    *, user: AbstractBaseUser, listens: Sequence[ListenInput], source: str
) -> ListenTally:
    """Store ``listens`` all-or-nothing; a listen already stored counts as a duplicate.

    ``source`` labels the listens that do not name their own.

    Raises ListenProblems (nothing written) when a track id is unknown or not visible.
    """
    _check_track_ids(user, listens)
    metadata_ids = resolve_tracks(listen.metadata for listen in listens if listen.metadata)
    created_at = timezone.now()
    rows: dict[tuple[int, datetime], tuple] = {}
    for listen in listens:
        track_id = listen.track_id or metadata_ids[listen.metadata.key]  # type: ignore[union-attr]
        rows.setdefault(
            (track_id, listen.listened_at),
            (
                listen.ms_played,
                listen.skipped,
                listen.play_count,
                listen.source or source,
                _json_or_none(listen.track_metadata),
            ),
        )
    accepted = _insert_listens(user.pk, rows, created_at)
    return ListenTally(accepted=accepted, duplicates=len(listens) - accepted)


def _check_track_ids(user: AbstractBaseUser, listens: Sequence[ListenInput]) -> None:
    problems = unknown_track_problems(
        user,
        [(i, listen.track_id) for i, listen in enumerate(listens) if listen.track_id is not None],
    )
    if problems:
        raise ListenProblems(problems)


def unknown_track_problems(
    user: AbstractBaseUser, indexed_track_ids: Sequence[tuple[int, int]]
) -> list[Problem]:
    """A problem for each ``(index, track id)`` naming a track this person cannot see."""
    wanted = {track_id for _, track_id in indexed_track_ids}
    if not wanted:
        return []
    known = set(
        Track.objects.filter(visible_tracks(user), pk__in=wanted).values_list("pk", flat=True)
    )
    return [
        Problem(index, "track", f"Unknown track id {track_id}.")
        for index, track_id in indexed_track_ids
        if track_id not in known
    ]


_LISTEN_COLUMNS = (
    ("user_id", "bigint"),
    ("track_id", "bigint"),
    ("listened_at", "timestamptz"),
    ("ms_played", "integer"),
    ("skipped", "boolean"),
    ("play_count", "integer"),
    ("source", "varchar"),
    ("track_metadata", "jsonb"),
    ("created_at", "timestamptz"),
)


def _json_or_none(value: dict[str, Any] | None) -> str | None:
    # Raw SQL below: JSON goes in as text, which both databases' JSON columns accept.
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _insert_listens(
    user_id: int, rows: dict[tuple[int, datetime], tuple], created_at: datetime
) -> int:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the number of rows really inserted.

    The unique constraint, not a prior read, decides what is a duplicate, so concurrent
    clients submitting the same listens never store one twice.
    """
    if not rows:
        return 0
    ops = connection.ops
    quote = ops.quote_name
    stamp = ops.adapt_datetimefield_value(created_at)
    values = [
        (user_id, track_id, ops.adapt_datetimefield_value(at), *details, stamp)
        for (track_id, at), details in rows.items()
    ]
    head = (
        f"INSERT INTO {quote(Listen._meta.db_table)} "
        f"({', '.join(quote(name) for name, _ in _LISTEN_COLUMNS)}) "
    )
    tail = (
        f" ON CONFLICT ({quote('user_id')}, {quote('listened_at')}, {quote('track_id')})"
        f" DO NOTHING RETURNING {quote('id')}"
    )
    if connection.vendor == "postgresql":
        # One array per column: far less to adapt and parse than 8 parameters per row.
        arrays = ", ".join(f"%s::{kind}[]" for _, kind in _LISTEN_COLUMNS)
        statements = [
            (f"SELECT * FROM unnest({arrays})", [list(c) for c in zip(*values, strict=True)])
        ]
    else:
        per_statement = max(1, (connection.features.max_query_params or 999) // len(values[0]))
        row_sql = "(" + ", ".join(["%s"] * len(_LISTEN_COLUMNS)) + ")"
        statements = [
            (
                "VALUES " + ", ".join([row_sql] * len(batch)),
                [value for row in batch for value in row],
            )
            for batch in (
                values[start : start + per_statement]
                for start in range(0, len(values), per_statement)
            )
        ]
    inserted = 0
    with connection.cursor() as cursor:
        for body, params in statements:
            cursor.execute(head + body + tail, params)
            inserted += len(cursor.fetchall())
    return inserted


# --- Feedback and now playing ------------------------------------------------------------


@transaction.atomic
def set_feedback(*, user: AbstractBaseUser, track_id: int, score: int) -> Feedback | None:
    """Love (1), hate (-1) or clear (0) a track; every change is kept in the history."""
    if not Track.objects.filter(visible_tracks(user), pk=track_id).exists():
        raise ValidationError({"track": [f"Unknown track id {track_id}."]})
    now = timezone.now()
    FeedbackEvent.objects.create(user=user, track_id=track_id, score=score, created_at=now)
    if score == FeedbackScore.CLEAR:
        Feedback.objects.filter(user=user, track_id=track_id).delete()
        return None
    feedback, _ = Feedback.objects.update_or_create(
        user=user, track_id=track_id, defaults={"score": score, "updated_at": now}
    )
    return feedback


NOW_PLAYING_DEFAULT = timedelta(minutes=10)


@transaction.atomic
def set_now_playing(
    *,
    user: AbstractBaseUser,
    metadata: TrackMetadata,
    track_metadata: dict[str, Any] | None = None,
) -> NowPlaying:
    """Show ``metadata`` as playing until the track would end (or ten minutes).

    ``track_metadata`` is the metadata as the player sent it, shown back as sent.
    """
    track_id = resolve_tracks([metadata])[metadata.key]
    now = timezone.now()
    lasts = (
        timedelta(milliseconds=metadata.duration_ms)
        if metadata.duration_ms
        else NOW_PLAYING_DEFAULT
    )
    playing, _ = NowPlaying.objects.update_or_create(
        user=user,
        defaults={
            "track_id": track_id,
            "track_metadata": track_metadata,
            "started_at": now,
            "expires_at": now + lasts,
        },
    )
    return playing
