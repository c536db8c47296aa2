"""Generator speed: one 16-bar piece on one core, and batched throughput on two cores.

Targets (issue 6): one piece <= 50 ms of model time on one core; >= 50 pieces/s batched
on two cores. Model time is ``model.sample`` (latent draw and decoding to tokens); MIDI
writing is excluded. By default it times the shipped checkpoint as it is served (its
guidance and nucleus; temperature 1.1, the served default); ``--checkpoint`` names another
and ``--untrained KIND`` times fresh weights of a kind without either.

    .venv/bin/python bench/generator_speed.py [--checkpoint PATH | --untrained cvae|lstm]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog.midi.style_space import compose_vector, one_hot_style
from generation.ml.models import build_model
from generation.ml.training import load_model

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "generator" / "cvae-shipped.pt"
SERVED_TEMPERATURE = 1.1
CONDITION = compose_vector(one_hot_style("chorale"), np.full(5, 0.5, dtype=np.float32))


def time_sampling(model, batch: int, repeats: int) -> list[float]:
    conditions = torch.from_numpy(CONDITION).expand(batch, -1).contiguous()
    generator = torch.Generator().manual_seed(0)
    timings = []
    with torch.inference_mode():
        model.sample(conditions, 16, SERVED_TEMPERATURE, generator)  # warm-up
        for _ in range(repeats):
            started = time.perf_counter()
            model.sample(conditions, 16, SERVED_TEMPERATURE, generator)
            timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED)
    parser.add_argument("--untrained", choices=("cvae", "lstm"))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, default=128)
    arguments = parser.parse_args()
    if arguments.untrained:
        model = build_model(arguments.untrained, seed=0).eval()
    else:
        model, _ = load_model(arguments.checkpoint)

    torch.set_num_threads(1)
    single = time_sampling(model, 1, arguments.repeats)
    torch.set_num_threads(2)
    batched = time_sampling(model, arguments.batch, max(3, arguments.repeats // 5))
    report = {
        "model": model.kind,
        "version": model.version,
        "one_piece_ms_1_core": {
            "median": round(1000 * statistics.median(single), 1),
            "min": round(1000 * min(single), 1),
            "target_max": 50,
        },
        "batched_pieces_per_s_2_cores": {
            "batch": arguments.batch,
            "median": round(arguments.batch / statistics.median(batched), 1),
            "target_min": 50,
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
