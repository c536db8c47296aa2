"""Token grids to MIDI, and the sampling API: generate, vary, interpolate, restyle.

Every MIDI file written here carries a text meta event saying that it is AI-generated,
with the model version and the seed (the provenance contract of the architecture).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pretty_midi
import torch

from catalog.midi.provenance import AI_LABEL_PREFIX
from catalog.midi.style_space import ATTRIBUTES, STYLES, denormalize_tempo, split_vector
from generation.ml.data import (
    BARS_PER_SEGMENT,
    HOLD,
    PITCH_OFFSET,
    STEPS_PER_BAR,
    STEPS_PER_QUARTER,
    VOICES,
    midi_to_grid,
    token_to_pitch,
    window,
)
from generation.ml.models import ConditionalVAE, TokenModel, slerp

# General MIDI programs (0-based) for the four voices, highest first.
STYLE_INSTRUMENTS: dict[str, tuple[int, int, int, int]] = {
    "chorale": (52, 52, 52, 19),  # choir aahs over a church-organ bass
    "renaissance": (52, 52, 52, 52),  # a cappella choir
    "madrigal": (53, 53, 53, 53),  # voice oohs: a small vocal ensemble
    "medieval": (74, 71, 24, 24),  # recorder, clarinet (shawm stand-in), lutes (nylon guitar)
    "fiddle": (40, 40, 24, 32),  # violin lead, second fiddle, guitar, acoustic bass
    "folk": (73, 40, 24, 32),  # flute, violin, guitar, bass
    "classical": (40, 40, 41, 42),  # string quartet
}
VELOCITY = 80
# Token sampling temperature of a generation unless the request says otherwise, within the
# checkpoint's nucleus. For the shipped model (guidance 2, nucleus 0.9), 1.1 gave feature
# overlap 0.80 on the validation split against 0.76 for 0.85 without a nucleus, at the same
# conditioning fidelity (docs/model_card_generator.md).
DEFAULT_TEMPERATURE = 1.1
_TEMPO_INDEX = ATTRIBUTES.index("tempo")


def dominant_style(condition: np.ndarray) -> str:
    weights, _ = split_vector(condition)
    return STYLES[int(np.argmax(weights))]


def most_in_style(
    style_weights: np.ndarray, target: str, avoided: frozenset[str] = frozenset()
) -> int | None:
    """Which of several candidates (rows of the style classifier's ``style_weights``, one
    column per style) is heard most in the ``target`` style, among those not heard (their
    strongest style) in an ``avoided`` one; ``None`` when every one is."""
    weights = np.asarray(style_weights, dtype=float)
    heard_as = [STYLES[i] for i in np.argmax(weights, axis=1)]
    fitting = np.array([style not in avoided for style in heard_as], dtype=bool)
    if not fitting.any():
        return None
    return int(np.argmax(np.where(fitting, weights[:, STYLES.index(target)], -np.inf)))


def tempo_of(condition: np.ndarray) -> float:
    _, attributes = split_vector(condition)
    return denormalize_tempo(float(attributes[_TEMPO_INDEX]))


def with_style_instruments(midi: pretty_midi.PrettyMIDI, style: str) -> pretty_midi.PrettyMIDI:
    """The piece's voices (named "voice N" by :func:`grid_to_midi`) played by ``style``'s
    instruments: those of the style the piece turned out in, which a mixed condition does
    not fix in advance."""
    programs = STYLE_INSTRUMENTS[style]
    for instrument in midi.instruments:
        voice = int(instrument.name.removeprefix("voice ")) - 1
        instrument.program = programs[voice]
    return midi


def filled_share(midi: pretty_midi.PrettyMIDI, bars: int) -> float:
    """How much of ``bars`` bars at the piece's tempo its notes fill: the model may rest
    through the end, and a piece that stops after 11 of 64 bars is not what was asked."""
    tempo = float(midi.get_tempo_changes()[1][0])
    planned_seconds = bars * STEPS_PER_BAR / STEPS_PER_QUARTER * 60.0 / tempo
    return midi.get_end_time() / planned_seconds


def provenance_text(model_version: str, seed: int | None) -> str:
    seed_text = "none" if seed is None else str(seed)
    return f"{AI_LABEL_PREFIX} by generation.ml model {model_version}; seed {seed_text}"


def grid_to_midi(
    tokens: np.ndarray, condition: np.ndarray, model_version: str, seed: int | None
) -> pretty_midi.PrettyMIDI:
    """A MIDI file of one token grid ``(voice, step)``: tempo from the condition,
    instruments from its dominant style, and the AI-generated text event."""
    tempo = tempo_of(condition)
    step_seconds = 60.0 / tempo / STEPS_PER_QUARTER
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    programs = STYLE_INSTRUMENTS[dominant_style(condition)]
    for voice in range(VOICES):
        instrument = pretty_midi.Instrument(program=programs[voice], name=f"voice {voice + 1}")
        for start, end, token in note_spans(tokens[voice]):
            instrument.notes.append(
                pretty_midi.Note(
                    VELOCITY, token_to_pitch(token), start * step_seconds, end * step_seconds
                )
            )
        if instrument.notes:
            midi.instruments.append(instrument)
    midi.text_events.append(pretty_midi.Text(provenance_text(model_version, seed), 0.0))
    return midi


def note_spans(voice: np.ndarray) -> list[tuple[int, int, int]]:
    """``(start step, end step, pitch token)`` of each note of one voice's tokens."""
    spans = []
    for start in np.flatnonzero(voice >= PITCH_OFFSET):
        end = start + 1
        while end < len(voice) and voice[end] == HOLD:
            end += 1
        spans.append((int(start), int(end), int(voice[start])))
    return spans


def _condition_tensor(condition: np.ndarray, count: int) -> torch.Tensor:
    vector = np.asarray(condition, dtype=np.float32)
    split_vector(vector)  # validates the shape
    return torch.from_numpy(vector).expand(count, -1).contiguous()


def _to_midis(
    tokens: torch.Tensor, conditions: Sequence[np.ndarray], model: TokenModel, seed: int | None
) -> list[pretty_midi.PrettyMIDI]:
    return [
        grid_to_midi(grid.numpy(), condition, model.version, seed)
        for grid, condition in zip(tokens, conditions, strict=True)
    ]


def generate(
    model: TokenModel,
    condition: np.ndarray,
    bars: int = BARS_PER_SEGMENT,
    count: int = 1,
    temperature: float = DEFAULT_TEMPERATURE,
    seed: int = 0,
) -> list[pretty_midi.PrettyMIDI]:
    """``count`` new pieces of ``bars`` bars in the style of ``condition``.

    The same seed (and model, arguments) gives the same pieces. The model was trained on
    16-bar segments: the CVAE chains them for longer pieces (``ConditionalVAE.sample``).
    """
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        tokens = model.sample(_condition_tensor(condition, count), bars, temperature, generator)
    return _to_midis(tokens, [condition] * count, model, seed)


def _segment_of(midi: pretty_midi.PrettyMIDI | Path | str) -> torch.Tensor:
    """The first 16 bars of a piece as a ``(1, voice, step)`` tensor."""
    grid = midi_to_grid(midi)
    return torch.from_numpy(window(grid, 0, BARS_PER_SEGMENT * STEPS_PER_BAR)).long()[None]


def _require_vae(model: TokenModel) -> ConditionalVAE:
    if not isinstance(model, ConditionalVAE):
        raise TypeError(f"this operation needs the conditional VAE, not {model.kind!r}")
    return model


def vary(
    model: TokenModel,
    midi: pretty_midi.PrettyMIDI | Path | str,
    amount: float,
    seed: int,
    condition: np.ndarray,
    temperature: float = 0.0,
) -> pretty_midi.PrettyMIDI:
    """A variation: encode the piece, move its latent code by ``amount`` standard
    deviations of random noise, decode. ``condition`` is the piece's own style vector."""
    vae = _require_vae(model).eval()
    generator = torch.Generator().manual_seed(seed)
    conditions = _condition_tensor(condition, 1)
    with torch.inference_mode():
        mu, _ = vae.encode(_segment_of(midi), conditions)
        noise = torch.randn(mu.shape, generator=generator)
        tokens = vae.decode(
            mu + amount * noise, conditions, BARS_PER_SEGMENT, temperature, generator, vae.guidance
        )
    return _to_midis(tokens, [condition], vae, seed)[0]


def interpolate(
    model: TokenModel,
    a: pretty_midi.PrettyMIDI | Path | str,
    b: pretty_midi.PrettyMIDI | Path | str,
    steps: int,
    condition_a: np.ndarray,
    condition_b: np.ndarray,
) -> list[pretty_midi.PrettyMIDI]:
    """``steps`` pieces morphing from ``a`` to ``b`` (both ends included): latent codes
    by slerp, conditions linearly; decoded greedily so the path itself is deterministic."""
    if steps < 2:
        raise ValueError("an interpolation needs at least 2 steps")
    vae = _require_vae(model).eval()
    with torch.inference_mode():
        mu_a, _ = vae.encode(_segment_of(a), _condition_tensor(condition_a, 1))
        mu_b, _ = vae.encode(_segment_of(b), _condition_tensor(condition_b, 1))
        fractions = np.linspace(0.0, 1.0, steps)
        latents = torch.cat([slerp(mu_a, mu_b, float(f)) for f in fractions])
        conditions = [
            ((1 - f) * condition_a + f * condition_b).astype(np.float32) for f in fractions
        ]
        tokens = vae.decode(
            latents, torch.from_numpy(np.stack(conditions)), temperature=0, guidance=vae.guidance
        )
    return _to_midis(tokens, conditions, vae, None)


def restyle(
    model: TokenModel,
    midi: pretty_midi.PrettyMIDI | Path | str,
    condition: np.ndarray,
    source_condition: np.ndarray,
    guidance: float | None = None,
) -> pretty_midi.PrettyMIDI:
    """Style transfer: encode under the piece's own condition, decode under another, with
    ``guidance`` (default: the model's own), which pulls the decoding towards the new style
    and away from the one the code carries."""
    vae = _require_vae(model).eval()
    with torch.inference_mode():
        mu, _ = vae.encode(_segment_of(midi), _condition_tensor(source_condition, 1))
        tokens = vae.decode(
            mu,
            _condition_tensor(condition, 1),
            temperature=0,
            guidance=vae.guidance if guidance is None else guidance,
        )
    return _to_midis(tokens, [condition], vae, None)[0]
