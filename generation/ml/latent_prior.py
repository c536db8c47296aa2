"""A sampling prior fitted to where the trained encoder puts each style's music.

The CVAE trains against a standard-normal prior, but its aggregate posterior (the codes of
all training segments) fills only part of N(0, I): the KL term settles near 57 nats per
segment, so the codes of each style gather in their own region and most of the Gaussian's
volume belongs to no training music. Codes drawn from that empty volume decode to music the
style classifier hears as no style in particular (docs/model_card_generator.md measures the
cost). After training, a Gaussian mixture per style is fitted to draws from the aggregate
posterior of that style's training segments (ex-post density estimation, as in Ghosh et al.,
2020, "From variational to deterministic autoencoders"), and sampling draws codes from the
mixture of the requested style. Draws, not posterior means, are fitted: the mixture then
covers each code's uncertainty rather than pinning samples onto training segments.

For the unconditional ablation one mixture is fitted to every segment and serves every
condition, so the prior cannot smuggle the condition into a model that must ignore it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from catalog.midi.style_space import STYLE_DIM, STYLES

DEFAULT_COMPONENTS = 4
# A full covariance in ~100 dimensions has ~5,000 parameters: a component needs about twice
# as many codes as there are dimensions for a usable estimate, so a style with fewer codes
# than this per component gets fewer components.
CODES_PER_COMPONENT = 200
# Added to every fitted variance: keeps a component fitted to near-identical codes from
# collapsing onto one training segment, and every covariance positive definite.
VARIANCE_FLOOR = 1e-3


@dataclass(frozen=True)
class LatentPrior:
    """Per style (or one shared row), a Gaussian mixture over latent codes.

    ``weights`` is ``(rows, components)`` with rows summing to 1 (unused components weigh
    0); ``means`` is ``(rows, components, latent)`` and ``scale_tril`` the lower-triangular
    Cholesky factors of the covariances, ``(rows, components, latent, latent)``. Rows follow
    ``catalog.midi.style_space.STYLES``; a single row is shared by all styles.
    """

    weights: torch.Tensor
    means: torch.Tensor
    scale_tril: torch.Tensor

    def __post_init__(self) -> None:
        rows, components = self.weights.shape
        if rows not in (1, STYLE_DIM):
            raise ValueError(f"a latent prior has 1 or {STYLE_DIM} rows, got {rows}")
        square = (*self.means.shape, self.means.shape[-1])
        if self.means.shape[:2] != (rows, components) or self.scale_tril.shape != square:
            raise ValueError(
                f"latent prior shapes disagree: weights {tuple(self.weights.shape)}, "
                f"means {tuple(self.means.shape)}, scale_tril {tuple(self.scale_tril.shape)}"
            )

    @property
    def latent_dim(self) -> int:
        return int(self.means.shape[-1])

    @property
    def shared(self) -> bool:
        return self.weights.shape[0] == 1

    def state(self) -> dict[str, torch.Tensor]:
        return {"weights": self.weights, "means": self.means, "scale_tril": self.scale_tril}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> LatentPrior:
        """The prior stored by :meth:`state`, or by the diagonal priors of checkpoints
        before 2026-11-30 (``scales``: standard deviations), which registered versions
        may still serve."""
        if "scale_tril" in state:
            scale_tril = state["scale_tril"].float()
        else:
            scale_tril = torch.diag_embed(state["scales"].float())
        return cls(
            weights=state["weights"].float(), means=state["means"].float(), scale_tril=scale_tril
        )

    def sample(
        self, condition: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """One code per condition row.

        Each row's style is drawn in proportion to its style weights (a 70/30 style mix
        gives about 70 % codes of the first style); a row without any style weight gets a
        standard-normal code, the prior the model was trained against. A shared prior
        ignores the condition.
        """
        batch = condition.shape[0]
        noise = torch.randn((batch, self.latent_dim), generator=generator)
        style_weights = condition[:, :STYLE_DIM].detach().float().clamp(min=0.0)
        if self.shared:
            asked = torch.ones(batch, dtype=torch.bool)
            rows = torch.zeros(batch, dtype=torch.long)
        else:
            asked = style_weights.sum(dim=1) > 0
            choosable = torch.where(asked[:, None], style_weights, torch.ones_like(style_weights))
            rows = torch.multinomial(choosable, 1, generator=generator)[:, 0]
        components = torch.multinomial(self.weights[rows], 1, generator=generator)[:, 0]
        spread = self.scale_tril[rows, components] @ noise[:, :, None]
        codes = self.means[rows, components] + spread[:, :, 0]
        return torch.where(asked[:, None], codes, noise).to(condition.dtype)


def fit_latent_prior(
    mu: np.ndarray,
    log_var: np.ndarray,
    segment_styles: Sequence[str] | None,
    components: int = DEFAULT_COMPONENTS,
    seed: int = 0,
) -> LatentPrior:
    """Fit the prior to posterior parameters ``(segments, latent)`` of training segments.

    ``segment_styles`` names each segment's style (one mixture per style of ``STYLES``), or
    is None for one mixture shared by every style (the unconditional ablation). A style
    without segments keeps the standard normal.
    """
    if components < 1:
        raise ValueError(f"components must be at least 1, got {components}")
    rng = np.random.default_rng(seed)
    codes = mu + np.exp(0.5 * log_var) * rng.standard_normal(mu.shape)
    if segment_styles is None:
        groups = [np.arange(len(codes))]
    else:
        labels = np.asarray(segment_styles, dtype=object)
        unknown = set(labels) - set(STYLES)
        if unknown:
            raise ValueError(f"segments of unknown styles: {sorted(unknown)}")
        groups = [np.flatnonzero(labels == style) for style in STYLES]
    mixtures = [_fit_mixture(codes[group], components, seed) for group in groups]
    weights, means, scale_tril = (
        torch.from_numpy(np.stack(part).astype(np.float32)) for part in zip(*mixtures, strict=True)
    )
    return LatentPrior(weights=weights, means=means, scale_tril=scale_tril)


def _fit_mixture(
    codes: np.ndarray, components: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mixture weights, means and Cholesky factors, padded to ``components``."""
    latent = codes.shape[1]
    weights = np.zeros(components)
    means = np.zeros((components, latent))
    scale_tril = np.broadcast_to(np.eye(latent), (components, latent, latent)).copy()
    if len(codes) < 2:  # nothing to fit a spread to: the standard normal
        weights[0] = 1.0
        return weights, means, scale_tril
    used = min(components, max(1, len(codes) // CODES_PER_COMPONENT))
    mixture = GaussianMixture(
        used, covariance_type="full", reg_covar=VARIANCE_FLOOR, random_state=seed
    ).fit(codes)
    weights[:used] = mixture.weights_
    means[:used] = mixture.means_
    scale_tril[:used] = np.linalg.cholesky(mixture.covariances_)
    return weights, means, scale_tril
