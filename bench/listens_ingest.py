"""Listen ingestion through the REST endpoint: throughput, and concurrent clients' correctness.

Usage:
    .venv/bin/python bench/listens_ingest.py [--databases sqlite,postgres] [--batches 40]
        [--clients 4] [--workers 2] [--postgres-url postgres://postgres@127.0.0.1:5432]

For each database (a fresh SQLite file, or a fresh PostgreSQL database named
``musicsite_bench_listens`` on the given server) it migrates, creates a user and 5000
catalog tracks, starts gunicorn (DEBUG off, throttling lifted) and then measures:

1. latency-bound throughput: one client posting ``--batches`` batches of 1000 listens (by track id)
   to POST /api/v1/listens/, then the same again by track_metadata (artist and title,
   matched or created as external tracks);
2. throughput with ``--clients`` client processes posting different listens at once;
3. concurrency: ``--clients`` processes at once, each posting batches that overlap its
   neighbour's by half, so most listens are sent by two processes at about the same
   time. It checks that the stored count equals the number of distinct listens (none lost, none
   doubled) and that the answers' ``accepted`` add up to it.

Bodies are encoded before timing starts, so the figures measure the server.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
BATCH = 1000
TRACKS = 5000
T0 = 1_600_000_000
SETUP = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from catalog.models import Track
user = get_user_model().objects.create_user("bench", password="bench-password-123")
Track.objects.bulk_create(
    [Track(title=f"Piece {i}", artist="Bench", origin="catalog", is_public=True,
           normalized_artist="bench", normalized_title=f"piece {i}") for i in range(TRACKS)],
    batch_size=1000)
first = Track.objects.order_by("pk").values_list("pk", flat=True).first()
print("BENCH", Token.objects.create(user=user).key, first)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        sys.exit(f"manage.py {args[0]} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def by_id_batch(first_track: int, start: int) -> bytes:
    listens = [
        {"track": first_track + (start + i) % TRACKS, "listened_at": T0 + start + i}
        for i in range(BATCH)
    ]
    return json.dumps({"listens": listens}).encode()


def by_metadata_batch(start: int) -> bytes:
    """Listens of 3001 songs by 97 artists, none in the catalog: the first batches create
    the songs' external tracks, later ones find them (as a scrobbler's history would)."""
    songs = [(start + i) % 3001 for i in range(BATCH)]
    listens = [
        {
            "track_metadata": {"artist_name": f"Artist {song % 97}", "track_name": f"Song {song}"},
            "listened_at": T0 + start + i,
        }
        for i, song in enumerate(songs)
    ]
    return json.dumps({"listens": listens}).encode()


def post_all(base: str, token: str, bodies: list[bytes]) -> tuple[int, int]:
    session = requests.Session()
    session.headers.update({"Authorization": f"Token {token}", "Content-Type": "application/json"})
    accepted = duplicates = 0
    for body in bodies:
        response = session.post(f"{base}/api/v1/listens/", data=body, timeout=120)
        if response.status_code != 201:
            raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
        tally = response.json()
        accepted += tally["accepted"]
        duplicates += tally["duplicates"]
    return accepted, duplicates


def _client(args: tuple[str, str, list[bytes], multiprocessing.Barrier]) -> tuple[int, int]:
    base, token, bodies, barrier = args
    barrier.wait()
    return post_all(base, token, bodies)


def stored_count(base: str, token: str) -> int:
    response = requests.get(
        f"{base}/api/v1/listens/",
        params={"page_size": 1},
        headers={"Authorization": f"Token {token}"},
        timeout=60,
    )
    return response.json()["count"]


def timed(label: str, base: str, token: str, bodies: list[bytes]) -> float:
    started = time.perf_counter()
    accepted, duplicates = post_all(base, token, bodies)
    elapsed = time.perf_counter() - started
    rate = accepted / elapsed
    print(f"  {label}: {accepted} listens in {elapsed:.2f} s = {rate:,.0f} listens/s")
    assert duplicates == 0, duplicates
    return rate


def in_parallel(base: str, token: str, per_client: list[list[bytes]]) -> tuple[int, int, float]:
    """(accepted, duplicates, seconds) of one client process per list of bodies."""
    context = multiprocessing.get_context("fork")
    barrier = context.Manager().Barrier(len(per_client))
    started = time.perf_counter()
    with context.Pool(len(per_client)) as pool:
        tallies = pool.map(_client, [(base, token, bodies, barrier) for bodies in per_client])
    elapsed = time.perf_counter() - started
    return sum(a for a, _ in tallies), sum(d for _, d in tallies), elapsed


def parallel_throughput(base: str, token: str, clients: int, batches: int, first: int) -> None:
    offset = 20_000_000
    per_client = [
        [by_id_batch(first, offset + (c * batches + b) * BATCH) for b in range(batches)]
        for c in range(clients)
    ]
    accepted, duplicates, elapsed = in_parallel(base, token, per_client)
    assert duplicates == 0, duplicates
    print(
        f"  {clients} clients at once, by track id: {accepted} listens in {elapsed:.2f} s "
        f"= {accepted / elapsed:,.0f} listens/s"
    )


def concurrency(base: str, token: str, clients: int, batches: int, first_track: int) -> None:
    offset = 10_000_000  # clear of the other phases' listens
    per_client = [
        [
            by_id_batch(first_track, offset + (c * (batches // 2) + b) * BATCH)
            for b in range(batches)
        ]
        for c in range(clients)
    ]
    distinct = ((clients - 1) * (batches // 2) + batches) * BATCH
    sent = clients * batches * BATCH
    before = stored_count(base, token)
    accepted, duplicates, elapsed = in_parallel(base, token, per_client)
    stored = stored_count(base, token) - before
    print(
        f"  {clients} clients at once, overlapping: sent {sent}, distinct {distinct}, "
        f"stored {stored}, accepted {accepted}, duplicates {duplicates}; "
        f"{sent / elapsed:,.0f} listens/s sent"
    )
    ok = stored == distinct == accepted and accepted + duplicates == sent
    print(f"  no lost and no doubled listens: {'yes' if ok else 'NO'}")
    if not ok:
        raise SystemExit(1)


def run(database: str, url: str, args: argparse.Namespace, var_dir: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "VAR_DIR": str(var_dir),
        "THROTTLE_USER_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
    }
    manage(env, "migrate", "-v0")
    output = manage(env, "shell", "-c", f"TRACKS = {TRACKS}\n{SETUP}")
    marked = next(line for line in output.splitlines() if line.startswith("BENCH "))
    _, token, first_track = marked.split()
    port = free_port()
    server = subprocess.Popen(
        [
            str(REPO / ".venv" / "bin" / "gunicorn"),
            "musicsite.wsgi",
            *("--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        print(f"{database} ({args.workers} gunicorn workers, batches of {BATCH}):")
        starts = range(0, args.batches * BATCH, BATCH)
        post_all(base, token, [by_id_batch(int(first_track), 5_000_000)])  # warm up
        timed(
            "1 client, by track id", base, token, [by_id_batch(int(first_track), s) for s in starts]
        )
        timed("1 client, by metadata", base, token, [by_metadata_batch(s) for s in starts])
        parallel_throughput(base, token, args.clients, args.batches, int(first_track))
        concurrency(base, token, args.clients, args.batches, int(first_track))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def fresh_postgres(server_url: str) -> str:
    import psycopg

    name = "musicsite_bench_listens"
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    return f"{server_url}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--batches", type=int, default=40, help="batches per measurement")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    print(f"bench: {os.cpu_count()} cores")
    for database in args.databases.split(","):
        with tempfile.TemporaryDirectory() as var_dir:
            if database == "sqlite":
                url = f"sqlite:///{var_dir}/bench.sqlite3"
            else:
                url = fresh_postgres(args.postgres_url)
            run(database, url, args, Path(var_dir))


if __name__ == "__main__":
    main()
