"""The CVAE decoder's inputs: held pitches, and sampling that matches teacher forcing."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from generation.ml.data import HOLD, PITCH_OFFSET, REST, STEPS_PER_BAR, VOCAB_SIZE, VOICES
from generation.ml.models import ConditionalVAE, LSTMBaseline, TokenModel
from generation.ml.stepping import MAX_HELD_STEPS, NUCLEUS_LIMIT, follow_held_notes, pick_tokens
from tests.generation_ml.conftest import TINY_CVAE, TINY_LSTM

C4, E4 = PITCH_OFFSET + 24, PITCH_OFFSET + 28


def _allowed(logits: torch.Tensor, written: torch.Tensor) -> torch.Tensor:
    """``logits (batch, step, voice, vocab)`` with what sampling forbids after each of
    ``written``'s steps masked: a HOLD after a REST."""
    after_rest = TokenModel.shifted(written).transpose(1, 2) == REST
    allowed = logits.clone()
    allowed[..., HOLD] = allowed[..., HOLD].masked_fill(after_rest, float("-inf"))
    return allowed


def test_held_notes_follow_each_note_through_its_holds():
    tokens = torch.tensor([[[HOLD, C4, HOLD, HOLD, REST, E4, HOLD, C4]]])
    held, held_steps = TokenModel.held_notes(tokens)
    # The leading HOLD continues a note that began before the segment: its pitch is unknown.
    assert held.tolist() == [[[HOLD, C4, C4, C4, REST, E4, E4, C4]]]
    assert held_steps.tolist() == [[[1, 0, 1, 2, 0, 0, 1, 0]]]


def test_held_steps_stop_counting_after_two_bars():
    tokens = torch.full((1, 1, 3 * STEPS_PER_BAR), HOLD)
    tokens[..., 0] = C4
    _, held_steps = TokenModel.held_notes(tokens)
    assert held_steps[..., -1].item() == MAX_HELD_STEPS == 2 * STEPS_PER_BAR


def test_step_by_step_held_notes_agree_with_those_read_off_the_grid():
    """Sampling follows the held notes one step at a time; teacher forcing reads them off
    the whole grid. Three bars of random tokens, starting from the sampling loop's REST."""
    torch.manual_seed(4)
    tokens = torch.randint(0, VOCAB_SIZE, (5, VOICES, 3 * STEPS_PER_BAR))
    tokens[..., ::7] = HOLD
    expected_held, expected_steps = TokenModel.held_notes(F.pad(tokens, (1, 0), value=REST))
    held, held_steps = np.full((5, VOICES), REST), np.zeros((5, VOICES), dtype=np.int64)
    for step in range(tokens.shape[-1]):
        held, held_steps = follow_held_notes(tokens[..., step].numpy(), held, held_steps)
        assert (held == expected_held[..., step + 1].numpy()).all()
        assert (held_steps == expected_steps[..., step + 1].numpy()).all()


@pytest.mark.parametrize(
    ("pitch", "duration"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_greedy_decoding_writes_what_teacher_forcing_predicts(pitch, duration):
    """The sampling loop and the teacher-forced pass must feed the decoder the same inputs;
    otherwise the model samples from a different distribution than it was trained on."""
    torch.manual_seed(3)
    config = dataclasses.replace(TINY_CVAE, held_pitch_input=pitch, held_duration_input=duration)
    model = ConditionalVAE(config).eval()
    z = torch.randn(3, config.latent_dim)
    condition = torch.rand(3, 12)
    written = model.decode(z, condition, bars=3, temperature=0)
    assert written.shape == (3, VOICES, 3 * STEPS_PER_BAR)
    with torch.no_grad():
        logits = model.decode_logits(z, condition, written)
    allowed = _allowed(logits, written)
    assert torch.equal(allowed.argmax(-1).transpose(1, 2), written)
    assert (written >= PITCH_OFFSET).any(), "an untrained decoder still writes notes"


def _second_downbeat_logits(*token_grids: torch.Tensor) -> list[torch.Tensor]:
    """What one untrained decoder predicts on the first step of bar 2 of each grid."""
    torch.manual_seed(4)
    model = ConditionalVAE(TINY_CVAE).eval()
    z = torch.randn(1, TINY_CVAE.latent_dim)
    condition = torch.rand(1, 12)
    with torch.no_grad():
        return [model.decode_logits(z, condition, grid)[:, STEPS_PER_BAR] for grid in token_grids]


def _held_c4(begins_at: int) -> torch.Tensor:
    """Two bars of rest, then a C4 from ``begins_at`` held to the end."""
    grid = torch.full((1, VOICES, 2 * STEPS_PER_BAR), HOLD)
    grid[..., :begins_at] = REST
    grid[..., begins_at] = C4
    return grid


def test_the_held_pitch_changes_what_the_decoder_predicts():
    # The second bar starts on a HOLD of C4 or of E4.
    c4 = _held_c4(0)
    e4 = c4.clone()
    e4[..., 0] = E4
    on_c4, on_e4 = _second_downbeat_logits(c4, e4)
    assert not torch.allclose(on_c4, on_e4), "the decoder restarts each bar but knows the note"


def test_how_long_a_note_has_sounded_changes_what_the_decoder_predicts():
    # The same C4 held into the second bar, begun on the first bar's first or tenth step.
    long_note, short_note = _second_downbeat_logits(_held_c4(0), _held_c4(9))
    assert not torch.allclose(long_note, short_note)


def _segments(dataset, count: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    return (
        torch.from_numpy(dataset.tokens[:count]).long(),
        torch.from_numpy(dataset.conditions[:count]),
    )


def _written_out_log_weights(model, tokens, conditions, codes: torch.Generator, samples: int):
    """log p(x | z, c) + log N(z; 0, I) - log q(z | x, c) per code, from torch's densities."""
    mu, log_var = model.encode(tokens, conditions)
    posterior = torch.distributions.Normal(mu, torch.exp(0.5 * log_var))
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    weights = []
    for _ in range(samples):
        z = mu + torch.randn(mu.shape, generator=codes) * posterior.scale
        log_decoded = -model.segment_nll(model.decode_logits(z, conditions, tokens), tokens)
        weights.append(log_decoded + prior.log_prob(z).sum(-1) - posterior.log_prob(z).sum(-1))
    return torch.stack(weights)


def test_the_importance_weighted_likelihood_is_the_mean_of_the_weights(small_dataset):
    torch.manual_seed(3)
    model = ConditionalVAE(TINY_CVAE).eval()
    tokens, conditions = _segments(small_dataset)
    with torch.no_grad():
        weights = _written_out_log_weights(model, tokens, conditions, _codes(), samples=8)
        breakdown = model.loss(tokens, conditions, kl_weight=1.0, free_bits=0.0)
    one = model.log_likelihood(tokens, conditions, 1, _codes())
    eight = model.log_likelihood(tokens, conditions, 8, _codes())
    assert torch.allclose(one, weights[0], atol=1e-2)
    assert torch.allclose(eight, torch.logsumexp(weights, 0) - math.log(8), atol=1e-2)
    # More codes give a tighter (higher) lower bound than the ELBO.
    many = model.log_likelihood(tokens, conditions, 256, _codes())
    assert float(many.mean()) > -float(breakdown.reconstruction + breakdown.kl) + 10.0
    assert torch.equal(model.log_likelihood(tokens, conditions, 8, _codes()), eight)


def _codes() -> torch.Generator:
    return torch.Generator().manual_seed(4)


def test_the_lstm_likelihood_is_its_exact_per_segment_nll(small_dataset):
    torch.manual_seed(0)
    model = LSTMBaseline(TINY_LSTM).eval()
    tokens, conditions = _segments(small_dataset)
    per_segment = model.log_likelihood(tokens, conditions)
    with torch.no_grad():
        nll = float(model.loss(tokens, conditions).reconstruction)
    assert per_segment.shape == (len(tokens),)
    assert float(per_segment.mean()) == pytest.approx(-nll, rel=1e-5)


GUIDED_CVAE = dataclasses.replace(TINY_CVAE, condition_dropout=0.2)


@pytest.mark.parametrize("guidance", [0.0, 2.5])
def test_guided_decoding_follows_the_guided_combination_of_both_decoders(guidance):
    """Each step picks from the unconditioned logits plus ``guidance`` times what the
    condition adds, both computed on the same code and the tokens written so far."""
    torch.manual_seed(5)
    model = ConditionalVAE(GUIDED_CVAE).eval()
    z = torch.randn(3, GUIDED_CVAE.latent_dim)
    condition = torch.rand(3, 12)
    written = model.decode(z, condition, bars=2, temperature=0, guidance=guidance)
    with torch.no_grad():
        conditioned = model.decode_logits(z, condition, written)
        unconditioned = model.decode_logits(z, torch.zeros_like(condition), written)
    guided = unconditioned + guidance * (conditioned - unconditioned)
    allowed = _allowed(guided, written)
    assert torch.equal(allowed.argmax(-1).transpose(1, 2), written)
    assert not torch.equal(written, model.decode(z, condition, bars=2, temperature=0))


def test_sampling_uses_the_models_guidance():
    torch.manual_seed(6)
    model = ConditionalVAE(GUIDED_CVAE).eval()
    condition = torch.rand(2, 12)

    def sampled() -> torch.Tensor:
        return model.sample(condition, bars=2, generator=torch.Generator().manual_seed(1))

    plain = sampled()
    model.guidance = 3.0
    assert not torch.equal(sampled(), plain)
    assert torch.equal(sampled(), sampled())


@pytest.mark.parametrize(
    "config",
    [TINY_CVAE, dataclasses.replace(GUIDED_CVAE, use_condition=False)],
    ids=["trained without condition dropout", "unconditional ablation"],
)
def test_guidance_is_refused_for_a_model_that_never_saw_the_empty_condition(config):
    model = ConditionalVAE(config).eval()
    with pytest.raises(ValueError, match="condition_dropout"):
        model.decode(torch.zeros(1, config.latent_dim), torch.rand(1, 12), 1, guidance=2.0)


def test_condition_dropout_empties_about_its_share_of_training_conditions():
    model = ConditionalVAE(dataclasses.replace(TINY_CVAE, condition_dropout=0.25))
    condition = torch.rand(4000, 12) + 0.1
    torch.manual_seed(7)
    dropped = model.dropped_condition(condition)
    emptied = (dropped == 0).all(dim=1)
    assert 0.2 < emptied.float().mean().item() < 0.3
    assert torch.equal(dropped[~emptied], condition[~emptied])
    assert torch.equal(model.eval().dropped_condition(condition), condition)


def test_sampling_keeps_the_nucleus_in_proportion_and_nothing_else():
    """Probabilities 0.3, 0.05, 0.5, 0.15 at top_p 0.75: the nucleus is the 0.5 and the 0.3,
    drawn 5 : 3, and the others never."""
    model = LSTMBaseline(TINY_LSTM)
    model.top_p = 0.75
    draws = 4000
    logits = torch.full((draws, VOICES, VOCAB_SIZE), float("-inf"))
    tokens = C4 + torch.arange(4)
    logits[..., tokens] = torch.tensor([0.3, 0.05, 0.5, 0.15]).log()
    noise = model.sampling_noise(1, draws, 1.0, torch.Generator().manual_seed(3))[0]
    previous = torch.full((draws, VOICES), C4).numpy()
    picked = torch.from_numpy(pick_tokens(logits.numpy(), previous, noise, model.top_p))
    counts = torch.bincount(picked.flatten() - C4, minlength=4) / picked.numel()
    assert counts[1] == counts[3] == 0
    assert counts[0] == pytest.approx(0.3 / 0.8, abs=0.02)
    assert counts[2] == pytest.approx(0.5 / 0.8, abs=0.02)


def _outside_nucleus(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Where a token lies outside the fewest likeliest tokens that hold ``top_p`` of the
    probability (at most ``NUCLEUS_LIMIT`` of them): the definition, written plainly."""
    probabilities = logits.softmax(-1)
    likelier = probabilities[..., None, :] > probabilities[..., :, None]
    mass_before = (probabilities[..., None, :] * likelier).sum(-1)
    return (mass_before >= top_p) | (likelier.sum(-1) >= NUCLEUS_LIMIT)


def _outside_share(model: TokenModel, written: torch.Tensor, logits: torch.Tensor) -> float:
    """The share of ``written`` tokens that lie outside their step's nucleus of ``logits``."""
    allowed = _allowed(logits, written)
    outside = _outside_nucleus(allowed, 0.5)
    chosen = outside.gather(-1, written.transpose(1, 2)[..., None].long())
    return chosen.float().mean().item()


def _guided_cvae_draw(model: ConditionalVAE) -> tuple[torch.Tensor, torch.Tensor]:
    """Guided samples of ``model`` at temperature 3 and the guided logits they were drawn
    from (teacher-forced on the samples)."""
    z, condition = torch.randn(4, GUIDED_CVAE.latent_dim), torch.rand(4, 12)
    generator = torch.Generator().manual_seed(2)
    written = model.decode(z, condition, 2, 3.0, generator, guidance=2.0)
    conditioned = model.decode_logits(z, condition, written)
    unconditioned = model.decode_logits(z, torch.zeros_like(condition), written)
    return written, unconditioned + 2.0 * (conditioned - unconditioned)


def _lstm_draw(model: LSTMBaseline) -> tuple[torch.Tensor, torch.Tensor]:
    condition = torch.rand(4, 12)
    written = model.sample(condition, 2, 3.0, torch.Generator().manual_seed(2))
    return written, model.teacher_forced_logits(written, condition)


@pytest.mark.parametrize(
    ("model", "draw"),
    [(ConditionalVAE(GUIDED_CVAE), _guided_cvae_draw), (LSTMBaseline(TINY_LSTM), _lstm_draw)],
    ids=["guided cvae", "lstm"],
)
def test_sampling_draws_only_from_the_nucleus_of_the_models_distribution(model, draw):
    model.eval()
    with torch.no_grad():
        model.top_p = 0.5
        torch.manual_seed(8)
        assert _outside_share(model, *draw(model)) == 0.0
        model.top_p = 1.0  # at temperature 3, the whole distribution strays far outside
        torch.manual_seed(8)
        assert _outside_share(model, *draw(model)) > 0.2


def test_sampling_follows_new_weights_after_a_load_or_an_optimizer_step():
    """Sampling prepares its weight layout once and keeps it only while no weight changes."""
    torch.manual_seed(9)
    model, other = ConditionalVAE(TINY_CVAE).eval(), ConditionalVAE(TINY_CVAE).eval()
    z, condition = torch.randn(2, TINY_CVAE.latent_dim), torch.rand(2, 12)

    def greedy(m: ConditionalVAE) -> torch.Tensor:
        return m.decode(z, condition, 2, temperature=0)

    before = greedy(model)
    model.load_state_dict(other.state_dict())
    assert torch.equal(greedy(model), greedy(other)) and not torch.equal(before, greedy(other))
    optimizer = torch.optim.SGD(model.parameters(), lr=10.0)
    model.train()
    model.loss(greedy(model), condition).loss.backward()
    optimizer.step()
    model.eval()
    with torch.no_grad():
        expected = model.decode_logits(z, condition, greedy(model))
    allowed = _allowed(expected, greedy(model))
    assert torch.equal(allowed.argmax(-1).transpose(1, 2), greedy(model))
    assert not torch.equal(greedy(model), greedy(other))
