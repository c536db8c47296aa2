"""Scale benchmark: top-20 latency on a 100k-track catalog and fit time on 1M listens.

The model is the product's: item-EASE, user-EASE and latent factors fused, with content.

Synthetic data: 100 000 tracks with random 12-float style vectors, 50 000 users, 1 000 000
listens drawn from a Zipf-like popularity so that, as in real catalogs, a head of tracks gets
most listens and the tail gets few or none.

Usage: OMP_NUM_THREADS=1 .venv/bin/python bench/recommender_latency.py [--queries N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recommender.ml.recommenders import HybridBlendRecommender

N_TRACKS, N_USERS, N_LISTENS = 100_000, 50_000, 1_000_000


def synthetic_listens(rng: np.random.Generator) -> sparse.csr_matrix:
    popularity = 1.0 / np.arange(1, N_TRACKS + 1) ** 1.1
    items = rng.choice(N_TRACKS, N_LISTENS, p=popularity / popularity.sum())
    users = rng.integers(0, N_USERS, N_LISTENS)
    plays = rng.geometric(0.2, N_LISTENS).astype(np.float32)
    return sparse.csr_matrix((plays, (users, items)), shape=(N_USERS, N_TRACKS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=1000)
    # The served model's sizes (recommender.services.CF_ITEMS / CF_USERS).
    parser.add_argument("--max-cf-items", type=int, default=5000)
    parser.add_argument("--max-cf-users", type=int, default=5000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    listens = synthetic_listens(rng)
    vectors = rng.random((N_TRACKS, 12)).astype(np.float32)
    model = HybridBlendRecommender(max_cf_items=args.max_cf_items, max_cf_users=args.max_cf_users)
    started = time.perf_counter()
    model.fit(listens, vectors)
    fit_seconds = time.perf_counter() - started
    latencies = []
    for user in tqdm(rng.integers(0, N_USERS, args.queries), desc="top-20 queries"):
        started = time.perf_counter()
        model.recommend(int(user), n=20)
        latencies.append((time.perf_counter() - started) * 1000)
    diverse = []
    for user in rng.integers(0, N_USERS, args.queries // 5):
        started = time.perf_counter()
        model.recommend(int(user), n=20, diversity=0.3)
        diverse.append((time.perf_counter() - started) * 1000)
    report = {
        "tracks": N_TRACKS,
        "users": N_USERS,
        "listens": int(listens.nnz),
        "cf_items": len(model.cf_items),
        "cf_users": len(model.cf_users),
        "fit_seconds": round(fit_seconds, 2),
        "top20_ms_p50": round(float(np.percentile(latencies, 50)), 3),
        "top20_ms_p95": round(float(np.percentile(latencies, 95)), 3),
        "top20_diverse_ms_p50": round(float(np.percentile(diverse, 50)), 3),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
