"""The sampling loops' per-step token work, in NumPy.

Each of a 16-bar piece's 256 steps picks one token per voice and updates what each voice
holds: a dozen operations on a handful of values. At that size the cost is dispatch, not
arithmetic, and NumPy dispatches an operation several times faster than PyTorch (about 1
against 3 to 10 µs). The matrix products and the recurrent cells stay in PyTorch, whose
kernels win once a batch has more than a few rows.
"""

from __future__ import annotations

import numpy as np

from generation.ml.data import HOLD, REST, STEPS_PER_BAR

# The most tokens a sampling nucleus holds (as in top-k sampling), which keeps a flat
# distribution from opening the nucleus to every pitch: in samples of the shipped model at
# top_p 0.9 the nucleus held 2.1 tokens on average and more than 16 in 0.16 % of steps.
NUCLEUS_LIMIT = 16
# Steps since a voice's last onset or rest, as the decoder sees them: two bars and longer
# are one value.
MAX_HELD_STEPS = 2 * STEPS_PER_BAR


def pick_tokens(
    logits: np.ndarray, previous: np.ndarray, noise: np.ndarray | None, top_p: float
) -> np.ndarray:
    """Next tokens ``(batch, voice)`` from ``logits (batch, voice, vocab)``, which it
    overwrites. A HOLD after a REST is impossible, so it is masked; ``noise`` is Gumbel
    noise times the temperature (None: greedy), and when sampling every token outside the
    step's ``top_p`` nucleus (Holtzman et al. 2020) is masked too."""
    np.copyto(logits[..., HOLD], -np.inf, where=previous == REST)
    if noise is None:
        return logits.argmax(-1)
    if top_p >= 1.0:
        return (logits + noise).argmax(-1)
    # The nucleus is the fewest likeliest tokens that hold top_p of the probability: every
    # token at least as likely as the least likely one it needs. Ranking only the
    # probabilities finds that one without mapping ranks back to tokens.
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    ranked = np.sort(probabilities, axis=-1)[..., : -NUCLEUS_LIMIT - 1 : -1]
    mass_before = ranked.cumsum(-1) - ranked
    needed = mass_before < top_p * probabilities.sum(-1, keepdims=True)
    least_needed = np.where(needed, ranked, np.inf).min(-1, keepdims=True)
    scores = np.where(probabilities >= least_needed, logits + noise, -np.inf)
    return scores.argmax(-1)


def follow_held_notes(
    tokens: np.ndarray, held: np.ndarray, held_steps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per voice, the note sounding after ``tokens`` and the steps since it began, from
    those before them (as ``TokenModel.held_notes`` reads them off a whole grid)."""
    holding = tokens == HOLD
    return (
        np.where(holding, held, tokens),
        np.where(holding, np.minimum(held_steps + 1, MAX_HELD_STEPS), 0),
    )
