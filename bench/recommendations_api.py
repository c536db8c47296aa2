"""Latency of GET /api/v1/recommendations/ through the whole Django stack (in-process).

Sets up a throwaway SQLite database with a real corpus subset, synthetic listeners who each
favour one style, and a trained taste model; then times top-20 requests for those users.
Prints p50 and p95, next to the selector `recommend_for` called directly for the same users
(the peer: what authentication, serialization and the request cycle add), and the same for
GET /api/v1/tracks/{id}/similar/. With --heavy-listens N, one more listener has N listens
(a year of heavy scrobbling) and their requests are timed apart.

Run: bin/bench recommendations_api   (or: .venv/bin/python bench/recommendations_api.py
[--heavy-listens 100000])
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--heavy-listens", type=int, default=0)
    options = parser.parse_args()
    os.environ.update(
        VAR_DIR=tempfile.mkdtemp(prefix="bench-recommendations-"),
        DEBUG="0",
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        SECRET_KEY=secrets.token_urlsafe(64),
        THROTTLE_USER_RATE="1000000/min",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from catalog.models import Track
    from profiles.models import Listen
    from recommender.selectors import recommend_for

    call_command("migrate", verbosity=0)
    call_command("import_corpus", "--limit", "25")
    tracks_by_style: dict[str, list[int]] = {}
    for pk, style in Track.objects.values_list("pk", "style"):
        tracks_by_style.setdefault(style, []).append(pk)
    styles = sorted(tracks_by_style)
    rng = random.Random(0)
    users = []
    for number in range(options.users):
        user = get_user_model().objects.create_user(f"listener{number}")
        favourite = tracks_by_style[styles[number % len(styles)]]
        heard = rng.sample(favourite, min(8, len(favourite)))
        Listen.objects.bulk_create(
            Listen(user=user, track_id=pk, listened_at=timezone.now() - timedelta(hours=i))
            for i, pk in enumerate(heard)
        )
        users.append(user)
    heavy = None
    if options.heavy_listens:
        heavy = get_user_model().objects.create_user("heavy")
        catalog = [pk for pks in tracks_by_style.values() for pk in pks]
        start = timezone.now() - timedelta(days=365)
        step = timedelta(days=365) / options.heavy_listens
        Listen.objects.bulk_create(
            (
                Listen(user=heavy, track_id=rng.choice(catalog), listened_at=start + i * step)
                for i in range(options.heavy_listens)
            ),
            batch_size=5000,
        )
    call_command("train_taste")
    client = APIClient()
    track_ids = list(Track.objects.values_list("pk", flat=True))
    timings: dict[str, list[float]] = {}

    def timed(name: str, call: Callable[[], object]) -> None:
        started = time.perf_counter()
        call()
        timings.setdefault(name, []).append(1000 * (time.perf_counter() - started))

    def get(url: str, **query: object) -> None:
        response = client.get(url, query)
        assert response.status_code == 200, response.content

    for number in range(options.requests):
        user = users[number % len(users)]
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        timed(HTTP, lambda: get("/api/v1/recommendations/", limit=20))
        timed("recommend_for()", lambda u=user: recommend_for(u, limit=20))
        similar = f"/api/v1/tracks/{track_ids[number % len(track_ids)]}/similar/"
        timed("GET /api/v1/tracks/{id}/similar/", lambda url=similar: get(url, limit=20))
    if heavy is not None:
        token, _ = Token.objects.get_or_create(user=heavy)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        for _ in range(max(3, options.requests // 20)):
            name = f"{HTTP}, {options.heavy_listens} listens"
            timed(name, lambda: get("/api/v1/recommendations/", limit=20))
    print(f"catalog {Track.objects.count()} tracks, {len(users)} users")
    for name, values in timings.items():
        print(
            f"{name}: p50 {statistics.median(values):.1f} ms, "
            f"p95 {percentile(values, 0.95):.1f} ms over {len(values)} requests"
        )
    ratio = statistics.median(timings[HTTP]) / statistics.median(timings["recommend_for()"])
    print(f"ratio HTTP / selector p50: {ratio:.2f}")


HTTP = "GET /api/v1/recommendations/"


if __name__ == "__main__":
    main()
