"""The sampling prior fitted to the aggregate posterior: where codes come from, per style."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from catalog.midi.style_space import STYLES, compose_vector, style_weights_from_mapping
from generation.ml.latent_prior import LatentPrior, fit_latent_prior

LATENT = 6
ATTRIBUTES = np.full(5, 0.5, dtype=np.float32)


def _condition(mix: dict[str, float], count: int) -> torch.Tensor:
    weights = style_weights_from_mapping(mix) if mix else np.zeros(len(STYLES), np.float32)
    vector = compose_vector(weights, ATTRIBUTES)
    return torch.from_numpy(vector).expand(count, -1).contiguous()


def _two_style_codes(per_style: int = 200) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Folk codes around +3 and chorale codes around -3 on the first latent dimension."""
    rng = np.random.default_rng(0)
    mu = rng.normal(0.0, 0.3, (2 * per_style, LATENT))
    mu[:per_style, 0] += 3.0
    mu[per_style:, 0] -= 3.0
    log_var = np.full(mu.shape, np.log(0.1**2))
    return mu, log_var, ["folk"] * per_style + ["chorale"] * per_style


def _sample(prior: LatentPrior, mix: dict[str, float], count: int, seed: int = 0) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    return prior.sample(_condition(mix, count), generator).numpy()


def test_codes_for_a_style_come_from_where_that_style_s_music_was_encoded():
    prior = fit_latent_prior(*_two_style_codes(), components=4)
    folk, chorale = _sample(prior, {"folk": 1.0}, 300), _sample(prior, {"chorale": 1.0}, 300)
    assert folk[:, 0].mean() == pytest.approx(3.0, abs=0.2)
    assert chorale[:, 0].mean() == pytest.approx(-3.0, abs=0.2)
    assert (folk[:, 0] > 1.5).all() and (chorale[:, 0] < -1.5).all()
    # the spread is the codes' own (0.3 plus posterior noise), not the unit Gaussian's
    assert 0.2 < folk[:, 1].std() < 0.5


def test_codes_keep_how_the_latent_dimensions_of_a_style_move_together():
    mu, log_var, styles = _two_style_codes(per_style=400)
    # within each style the second dimension follows the first: a diagonal prior would
    # draw the two independently and land between the music the encoder produced
    mu[:, 1] = mu[:, 0] + np.random.default_rng(1).normal(0.0, 0.05, len(mu))
    prior = fit_latent_prior(mu, log_var, styles, components=1)
    folk = _sample(prior, {"folk": 1.0}, 1000)
    assert np.corrcoef(folk[:, 0], folk[:, 1])[0, 1] > 0.7
    assert np.abs(np.corrcoef(folk[:, 2], folk[:, 3])[0, 1]) < 0.1


def test_a_diagonal_prior_of_an_older_checkpoint_still_samples_its_spread():
    scales = torch.full((len(STYLES), 1, LATENT), 0.5)
    prior = LatentPrior.from_state(
        {
            "weights": torch.ones(len(STYLES), 1),
            "means": torch.zeros(len(STYLES), 1, LATENT),
            "scales": scales,
        }
    )
    codes = _sample(prior, {"folk": 1.0}, 2000)
    assert codes.std(axis=0) == pytest.approx(np.full(LATENT, 0.5), abs=0.05)


def test_a_style_mix_draws_codes_of_each_style_in_proportion():
    prior = fit_latent_prior(*_two_style_codes(), components=2)
    codes = _sample(prior, {"folk": 0.75, "chorale": 0.25}, 800)
    assert (codes[:, 0] > 0).mean() == pytest.approx(0.75, abs=0.05)


def test_no_style_weight_or_a_style_without_music_falls_back_to_the_standard_normal():
    prior = fit_latent_prior(*_two_style_codes(), components=2)
    for codes in (_sample(prior, {}, 2000), _sample(prior, {"medieval": 1.0}, 2000)):
        assert np.abs(codes.mean(axis=0)).max() < 0.1
        assert codes.std(axis=0) == pytest.approx(np.ones(LATENT), abs=0.1)


def test_the_ablation_s_shared_prior_ignores_the_condition():
    mu, log_var, _ = _two_style_codes()
    prior = fit_latent_prior(mu, log_var, None, components=2)
    assert prior.shared
    np.testing.assert_array_equal(
        _sample(prior, {"folk": 1.0}, 50, seed=4), _sample(prior, {"chorale": 1.0}, 50, seed=4)
    )
    both = _sample(prior, {"folk": 1.0}, 800)
    assert (both[:, 0] > 0).mean() == pytest.approx(0.5, abs=0.06)


def test_sampling_is_deterministic_for_a_seed_and_varies_across_seeds():
    prior = fit_latent_prior(*_two_style_codes(), components=3)
    mix = {"folk": 0.5, "chorale": 0.5}
    np.testing.assert_array_equal(_sample(prior, mix, 20, seed=1), _sample(prior, mix, 20, seed=1))
    assert not np.array_equal(_sample(prior, mix, 20, seed=1), _sample(prior, mix, 20, seed=2))


def test_a_small_style_gets_fewer_components_and_a_single_code_no_spread_of_its_own():
    mu, log_var, styles = _two_style_codes(per_style=30)
    mu, log_var, styles = mu[:31], log_var[:31], styles[:31]  # 30 folk codes, 1 chorale code
    prior = fit_latent_prior(mu, log_var, styles, components=8)
    folk, chorale = STYLES.index("folk"), STYLES.index("chorale")
    assert int((prior.weights[folk] > 0).sum()) == 1
    assert prior.weights[chorale].tolist()[0] == 1.0
    assert torch.equal(prior.scale_tril[chorale, 0], torch.eye(LATENT))


def test_unknown_styles_and_inconsistent_shapes_are_refused():
    mu, log_var, styles = _two_style_codes(per_style=10)
    with pytest.raises(ValueError, match="unknown styles"):
        fit_latent_prior(mu, log_var, ["jazz"] * len(mu))
    with pytest.raises(ValueError, match="components"):
        fit_latent_prior(mu, log_var, styles, components=0)
    with pytest.raises(ValueError, match="rows"):
        LatentPrior(torch.ones(2, 1), torch.zeros(2, 1, LATENT), torch.ones(2, 1, LATENT, LATENT))
    with pytest.raises(ValueError, match="disagree"):
        LatentPrior(torch.ones(1, 2), torch.zeros(1, 2, LATENT), torch.ones(1, 2, LATENT))
