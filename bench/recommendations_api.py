"""Latency of GET /api/v1/recommendations/ through the whole Django stack (in-process).

Sets up a throwaway SQLite database with a real corpus subset, synthetic listeners who each
favour one style, and a trained taste model; then times top-20 requests for those users.
Prints p50 and p95, next to the selector `recommend_for` called directly for the same users
(the peer: what authentication, serialization and the request cycle add).

Run: bin/bench recommendations_api   (or: .venv/bin/python bench/recommendations_api.py)
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
    call_command("train_taste")
    client = APIClient()
    http, direct = [], []
    for number in range(options.requests):
        user = users[number % len(users)]
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        started = time.perf_counter()
        response = client.get("/api/v1/recommendations/", {"limit": 20})
        http.append(1000 * (time.perf_counter() - started))
        assert response.status_code == 200, response.content
        started = time.perf_counter()
        recommend_for(user, limit=20)
        direct.append(1000 * (time.perf_counter() - started))
    print(f"catalog {Track.objects.count()} tracks, {len(users)} users")
    for name, values in (("GET /api/v1/recommendations/", http), ("recommend_for()", direct)):
        print(
            f"{name}: p50 {statistics.median(values):.1f} ms, "
            f"p95 {percentile(values, 0.95):.1f} ms over {len(values)} requests"
        )
    print(f"ratio HTTP / selector p50: {statistics.median(http) / statistics.median(direct):.2f}")


if __name__ == "__main__":
    main()
