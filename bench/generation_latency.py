"""Request-to-ready time of generation jobs and playlists, with the database-backed worker.

Sets up a throwaway SQLite database, a small real catalog, the shipped generator and a
taste model; starts `manage.py run_worker`; then times, through the REST API, a 1-track
generation job and a 20-item playlist with 25% generated tracks, from the POST to the
moment the API says succeeded/ready. Prints p50 and p95 of each.

Run: bin/bench generation_latency   (or: .venv/bin/python bench/generation_latency.py --runs 10)
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def wait_for(client, url: str, done: set[str], timeout: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        status = client.get(url).json()["status"]
        if status in done:
            if status not in {"succeeded", "ready"}:
                raise RuntimeError(f"{url} ended {status}")
            return time.perf_counter()
        time.sleep(0.05)
    raise TimeoutError(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-generation-"))
    os.environ.update(
        VAR_DIR=str(workdir),
        DEBUG="0",
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        SECRET_KEY=secrets.token_urlsafe(64),
        THROTTLE_USER_RATE="100000/min",
        GENERATION_MAX_CONCURRENT="1000",
        GENERATION_MAX_DAILY="100000",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from profiles.services import register_user

    call_command("migrate", verbosity=0)
    call_command(
        "import_corpus", "--collections", "bach,ryansMammoth,essenFolksong", "--limit", "12"
    )
    call_command("load_defaults")
    _, token = register_user(username="bench", password="a bench password 123")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    tracks = client.get("/api/v1/tracks/", {"style": "fiddle", "page_size": 5}).json()["results"]
    listens = [
        {"track": t["id"], "listened_at": int(time.time()) - 3600 * (i + 1)}
        for i, t in enumerate(tracks)
    ]
    client.post("/api/v1/listens/", {"listens": listens}, format="json")
    call_command("train_taste")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--interval", "0.05"], cwd=REPO
    )
    try:
        single = []
        playlist = []
        for run in range(options.runs):
            started = time.perf_counter()
            job = client.post("/api/v1/generations/", {"count": 1, "seed": run}, format="json")
            single.append(wait_for(client, job.json()["url"], {"succeeded", "failed"}) - started)
            started = time.perf_counter()
            made = client.post(
                "/api/v1/playlists/", {"length": 20, "generated_share": 0.25}, format="json"
            ).json()
            url = f"/api/v1/playlists/{made['id']}/"
            playlist.append(wait_for(client, url, {"ready", "failed"}) - started)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    for name, values in (("1-track job", single), ("20-item playlist, 25% generated", playlist)):
        print(
            f"{name}: p50 {statistics.median(values):.2f} s, p95 {percentile(values, 0.95):.2f} s "
            f"over {len(values)} runs"
        )


if __name__ == "__main__":
    main()
