"""How much of the bars asked for the shipped generator's pieces fill, 16 to 64 bars, and
the longest silence inside them.

The model learned 16-bar segments. The peer is one decoding run over all the bars asked for
(how pieces were made before 2026-11-30 evening); the product chains 16-bar segments
(``ConditionalVAE.sample``). Both start from the same prior draw and seed. Prints per length
the mean and lowest filled share (``generation.ml.sampling.filled_share``), the ratio, and
the mean and largest number of silent bars in a row before a piece's last note.

Run: bin/bench long_pieces   (or: .venv/bin/python bench/long_pieces.py --count 3)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from catalog.midi.style_space import STYLES, compose_vector, one_hot_style  # noqa: E402
from generation.ml.data import REST, STEPS_PER_BAR  # noqa: E402
from generation.ml.sampling import DEFAULT_TEMPERATURE, filled_share, grid_to_midi  # noqa: E402
from generation.ml.training import load_model  # noqa: E402

SHIPPED = REPO / "models" / "generator" / "cvae-shipped.pt"
MIDDLE_ATTRIBUTES = np.full(5, 0.5, dtype=np.float32)


def longest_inner_silence(grid: np.ndarray) -> int:
    """The most bars in a row in which no voice plays, before the piece's last sounding bar."""
    silent = (grid.reshape(grid.shape[0], -1, STEPS_PER_BAR) == REST).all(axis=(0, 2))
    sounding = np.flatnonzero(~silent)
    longest = run = 0
    for bar_is_silent in silent[: sounding[-1] + 1 if len(sounding) else 0]:
        run = run + 1 if bar_is_silent else 0
        longest = max(longest, run)
    return longest


def measure(model, bars: int, count: int, seed: int, chained: bool) -> tuple[list, list]:
    shares, silences = [], []
    for style in STYLES:
        condition = compose_vector(one_hot_style(style), MIDDLE_ATTRIBUTES)
        conditions = torch.from_numpy(condition).expand(count, -1).contiguous()
        generator = torch.Generator().manual_seed(seed)
        with torch.inference_mode():
            if chained:
                tokens = model.sample(conditions, bars, DEFAULT_TEMPERATURE, generator)
            else:
                z = model.prior_code(conditions, generator)
                tokens = model.decode(
                    z, conditions, bars, DEFAULT_TEMPERATURE, generator, model.guidance
                )
        for grid in tokens.numpy():
            shares.append(filled_share(grid_to_midi(grid, condition, model.version, seed), bars))
            silences.append(longest_inner_silence(grid))
    return shares, silences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=3, help="pieces per style and length")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    model, _ = load_model(SHIPPED)
    model.eval()
    print(f"{model.version}: {args.count} pieces per style and length, seed {args.seed}")
    for bars in (16, 32, 64):
        one_run, one_run_silence = measure(model, bars, args.count, args.seed, chained=False)
        chained, chained_silence = measure(model, bars, args.count, args.seed, chained=True)
        print(
            f"{bars:2d} bars: one run fills {np.mean(one_run):.2f} (lowest {min(one_run):.2f}), "
            f"chained {np.mean(chained):.2f} (lowest {min(chained):.2f}); "
            f"ratio {np.mean(chained) / np.mean(one_run):.2f}; silent bars in a row inside: "
            f"one run {np.mean(one_run_silence):.1f} (most {max(one_run_silence)}), "
            f"chained {np.mean(chained_silence):.1f} (most {max(chained_silence)})"
        )


if __name__ == "__main__":
    main()
