"""The CVAE decoder's inputs: held pitches, and sampling that matches teacher forcing."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from generation.ml.data import HOLD, PITCH_OFFSET, REST, STEPS_PER_BAR, VOICES
from generation.ml.models import MAX_HELD_STEPS, ConditionalVAE, TokenModel
from tests.generation_ml.conftest import TINY_CVAE

C4, E4 = PITCH_OFFSET + 24, PITCH_OFFSET + 28


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
    allowed = logits + model.transition_mask[model.shifted(written)].transpose(1, 2)
    assert torch.equal(allowed.argmax(-1).transpose(1, 2), written)
    assert (written >= PITCH_OFFSET).any(), "an untrained decoder still writes notes"


def test_the_held_pitch_changes_what_the_decoder_predicts():
    torch.manual_seed(4)
    model = ConditionalVAE(TINY_CVAE).eval()
    z = torch.randn(1, TINY_CVAE.latent_dim)
    condition = torch.rand(1, 12)
    # Two bars of one held note each, C4 or E4: the second bar starts on a HOLD of either.
    first = torch.full((1, VOICES, 2 * STEPS_PER_BAR), HOLD)
    first[..., 0] = C4
    second = first.clone()
    second[..., 0] = E4
    with torch.no_grad():
        downbeat = STEPS_PER_BAR
        a = model.decode_logits(z, condition, first)[:, downbeat]
        b = model.decode_logits(z, condition, second)[:, downbeat]
    assert not torch.allclose(a, b), "the decoder restarts each bar but still knows the held note"


def test_how_long_a_note_has_sounded_changes_what_the_decoder_predicts():
    torch.manual_seed(5)
    model = ConditionalVAE(TINY_CVAE).eval()
    z = torch.randn(1, TINY_CVAE.latent_dim)
    condition = torch.rand(1, 12)
    # A C4 held into the second bar, begun on the first bar's first or tenth step.
    long_note = torch.full((1, VOICES, 2 * STEPS_PER_BAR), HOLD)
    long_note[..., 0] = C4
    short_note = long_note.clone()
    short_note[..., :9] = REST
    short_note[..., 9] = C4
    with torch.no_grad():
        downbeat = STEPS_PER_BAR
        a = model.decode_logits(z, condition, long_note)[:, downbeat]
        b = model.decode_logits(z, condition, short_note)[:, downbeat]
    assert not torch.allclose(a, b)
