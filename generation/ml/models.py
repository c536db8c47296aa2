"""The generator models: a hierarchical conditional VAE and an LSTM next-step baseline.

Both read and write the token grids of :mod:`generation.ml.data`: ``tokens[batch, voice,
step]``. Both share the token embedding (one table per voice) and the output layer (one
block of logits per voice), so their figures differ by architecture only.

CVAE (MusicVAE-like, made conditional)
    encoder: per-voice token embeddings, concatenated per step, pooled to beats by a
    strided convolution, then a bidirectional GRU over the beats with the condition
    appended to every input; the final states and the condition give ``mu, log_var``.
    decoder: a conductor GRU over bars turns ``(z, condition)`` into one embedding per
    bar; a bar decoder GRU writes the 16 steps of each bar autoregressively from its bar
    embedding, the condition, the previous step's tokens and, per voice, the note it
    holds: its pitch (``held_pitch_input``) and how many steps ago it began
    (``held_duration_input``). Every bar's decoder starts from its own embedding, so
    long-range structure has to go through the conductor. That restart also wipes what
    the decoder knew about the notes sounding across the bar line: a HOLD token says
    neither which pitch it holds nor since when, so without them the decoder guessed the
    downbeat blind (teacher-forced accuracy 0.49 on the first step of a bar against 0.99
    on the steps between beats; 0.56 with the held pitch).
    With ``use_condition=False`` the condition is zeroed everywhere: the ablation.

LSTM baseline
    the classic next-step model: an LSTM over steps predicting each step's tokens from the
    previous ones (and the condition, so that conditioning fidelity can be compared).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from catalog.midi.style_space import VECTOR_DIM
from generation.ml.data import (
    BARS_PER_SEGMENT,
    HOLD,
    REST,
    STEPS_PER_BAR,
    STEPS_PER_QUARTER,
    VOCAB_SIZE,
    VOICES,
)
from generation.ml.latent_prior import LatentPrior
from generation.ml.stepping import MAX_HELD_STEPS, follow_held_notes, pick_tokens

# How far each segment of a piece longer than 16 bars moves its code toward a fresh draw
# (ConditionalVAE.sample): near enough to keep the piece's character, far enough to develop.
CHAIN_STEP = 0.3


@dataclass(frozen=True)
class CVAEConfig:
    use_condition: bool = True
    embedding_dim: int = 24
    encoder_hidden: int = 192
    latent_dim: int = 96
    conductor_hidden: int = 192
    bar_embedding_dim: int = 128
    decoder_hidden: int = 256
    dropout: float = 0.1
    held_pitch_input: bool = True
    held_duration_input: bool = True
    # Share of training segments whose decoder sees no condition (the encoder still sees
    # it), so that sampling can steer by classifier-free guidance (Ho & Salimans 2022):
    # without such training the decoder has never met the empty condition.
    condition_dropout: float = 0.0


# Config values of checkpoints written before a field existed: they behave as they did then.
LEGACY_CONFIG_DEFAULTS: dict[str, dict[str, object]] = {
    "cvae": {"held_pitch_input": False, "held_duration_input": False}
}


@dataclass(frozen=True)
class LSTMConfig:
    use_condition: bool = True
    embedding_dim: int = 24
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.1


@dataclass(frozen=True)
class SamplingWeights:
    """What the CVAE's sampling loop reads at every step, prepared once per set of weights."""

    gate_table: torch.Tensor  # input-gate rows of every (input, voice, value)
    gate_offsets: list[tuple[int, np.ndarray]]  # (input: previous/held/steps, voice rows)
    context_weight: torch.Tensor  # input gates of the bar embedding and the condition
    transposed_weight_hh: torch.Tensor
    head: torch.Tensor  # the output layer, transposed, over the copies' hidden states


@dataclass(frozen=True)
class LossBreakdown:
    """Per-segment sums, averaged over the batch; ``loss`` is what the optimizer sees."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor
    token_accuracy: torch.Tensor


class TokenModel(nn.Module):
    """What both generators share: voice-aware embeddings, output heads, sampling."""

    kind = "base"

    def __init__(self, embedding_dim: int, hidden: int, use_condition: bool) -> None:
        super().__init__()
        self.use_condition = use_condition
        self.embedding = nn.Embedding(VOICES * VOCAB_SIZE, embedding_dim)
        self.heads = nn.Linear(hidden, VOICES * VOCAB_SIZE)
        self.register_buffer("voices", torch.arange(VOICES), persistent=False)
        self.version = "untrained"
        # Nucleus sampling (Holtzman et al. 2020): each step samples among its likeliest
        # tokens that together hold this share of the model's probability (before the
        # temperature), cutting the long tail of unlikely pitches that every step offers;
        # 1 samples from the whole distribution.
        self.top_p = 1.0

    def config_dict(self) -> dict[str, object]:
        return asdict(self.config)

    def condition(self, condition: torch.Tensor) -> torch.Tensor:
        return condition if self.use_condition else torch.zeros_like(condition)

    def embed_steps(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(batch, voice, step)`` tokens to ``(batch, step, voice * embedding)``."""
        return self.embed_per_voice(self.embedding, tokens, VOCAB_SIZE)

    def embed_per_voice(
        self, table: nn.Embedding, values: torch.Tensor, vocabulary: int
    ) -> torch.Tensor:
        """``(batch, voice, step)`` values to ``(batch, step, voice * embedding)`` through
        ``table``, which holds one block of ``vocabulary`` rows per voice."""
        embedded = table(values.long() + self.voices[:, None] * vocabulary)
        return embedded.permute(0, 2, 1, 3).flatten(2)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """``(..., hidden)`` to ``(..., voice, vocab)``: one output block per voice."""
        return self.heads(hidden).unflatten(-1, (VOICES, VOCAB_SIZE))

    @staticmethod
    def sampling_noise(
        steps: int, batch: int, temperature: float, generator: torch.Generator | None
    ) -> np.ndarray | None:
        """Gumbel noise scaled by the temperature for ``steps`` steps; None means greedy.

        ``argmax(logits + temperature * gumbel)`` is an exact sample of
        ``softmax(logits / temperature)``, and drawing the noise for a whole bar at once
        keeps the per-step loop short.
        """
        if temperature <= 0:
            return None
        uniform = torch.rand((steps, batch, VOICES, VOCAB_SIZE), generator=generator)
        return (-temperature * torch.log(-torch.log(uniform.clamp_(1e-10, 1.0 - 1e-7)))).numpy()

    @staticmethod
    def shifted(tokens: torch.Tensor) -> torch.Tensor:
        """The previous step's tokens for every step (REST before the first)."""
        return F.pad(tokens[..., :-1], (1, 0), value=REST)

    @staticmethod
    def held_notes(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per voice and step: the onset token of the note sounding there (a HOLD repeats
        its note's onset; REST in a rest; HOLD where the note began before the segment),
        and the steps since that onset or rest began (at most ``MAX_HELD_STEPS``).
        """
        steps = torch.arange(tokens.shape[-1], device=tokens.device).expand_as(tokens)
        last_change = torch.where(tokens != HOLD, steps, -1).cummax(dim=-1).values
        held = tokens.gather(-1, last_change.clamp(min=0))
        held = torch.where(last_change < 0, torch.full_like(tokens, HOLD), held)
        return held, (steps - last_change).clamp(max=MAX_HELD_STEPS)

    @staticmethod
    def token_nll(logits: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-segment summed negative log-likelihood and mean accuracy.

        ``logits`` is ``(batch, step, voice, vocab)``; ``tokens`` is ``(batch, voice, step)``.
        """
        targets = tokens.long().transpose(1, 2)
        accuracy = (logits.argmax(-1) == targets).float().mean()
        return TokenModel.segment_nll(logits, tokens).mean(), accuracy

    @staticmethod
    def segment_nll(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Each segment's summed negative log-likelihood, shapes as in :meth:`token_nll`."""
        targets = tokens.long().transpose(1, 2)
        nll = F.cross_entropy(logits.flatten(0, 2), targets.flatten(), reduction="none")
        return nll.view(targets.shape[0], -1).sum(1)


class ConditionalVAE(TokenModel):
    kind = "cvae"

    def __init__(self, config: CVAEConfig = CVAEConfig()) -> None:
        super().__init__(config.embedding_dim, config.decoder_hidden, config.use_condition)
        self.config = config
        step_width = VOICES * config.embedding_dim
        self.beat_pool = nn.Conv1d(
            step_width, config.encoder_hidden, STEPS_PER_QUARTER, stride=STEPS_PER_QUARTER
        )
        self.held_embedding = (
            nn.Embedding(VOICES * VOCAB_SIZE, config.embedding_dim)
            if config.held_pitch_input
            else None
        )
        self.held_duration_embedding = (
            nn.Embedding(VOICES * (MAX_HELD_STEPS + 1), config.embedding_dim)
            if config.held_duration_input
            else None
        )
        decoder_step_width = step_width * (1 + config.held_pitch_input + config.held_duration_input)
        self.encoder = nn.GRU(
            config.encoder_hidden + VECTOR_DIM,
            config.encoder_hidden,
            batch_first=True,
            bidirectional=True,
        )
        self.to_posterior = nn.Linear(2 * config.encoder_hidden + VECTOR_DIM, 2 * config.latent_dim)
        self.conductor_init = nn.Linear(config.latent_dim + VECTOR_DIM, config.conductor_hidden)
        self.conductor = nn.GRU(
            config.latent_dim + VECTOR_DIM, config.conductor_hidden, batch_first=True
        )
        self.to_bar = nn.Linear(config.conductor_hidden, config.bar_embedding_dim)
        self.decoder_init = nn.Linear(config.bar_embedding_dim, config.decoder_hidden)
        self.decoder = nn.GRUCell(
            decoder_step_width + config.bar_embedding_dim + VECTOR_DIM, config.decoder_hidden
        )
        self.dropout = nn.Dropout(config.dropout)
        # Fitted after training (generation.ml.latent_prior); None samples from N(0, I).
        self.latent_prior: LatentPrior | None = None
        # Classifier-free guidance of sampling (:meth:`decode`); 1 samples as trained.
        self.guidance = 1.0
        self._sampling_cache: tuple[tuple[object, ...], SamplingWeights] | None = None

    def encode(
        self, tokens: torch.Tensor, condition: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        condition = self.condition(condition)
        steps = self.embed_steps(tokens)
        beats = torch.relu(self.beat_pool(steps.transpose(1, 2))).transpose(1, 2)
        beats = torch.cat([beats, condition[:, None].expand(-1, beats.shape[1], -1)], dim=-1)
        _, final = self.encoder(self.dropout(beats))
        summary = torch.cat([final[0], final[1], condition], dim=-1)
        mu, log_var = self.to_posterior(summary).chunk(2, dim=-1)
        return mu, log_var

    @torch.no_grad()
    def posterior(
        self, tokens: np.ndarray, conditions: np.ndarray, batch_size: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """``mu, log_var`` of every segment (encoded without dropout), as CPU arrays."""
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        parts = []
        for start in range(0, len(tokens), batch_size):
            batch = torch.from_numpy(tokens[start : start + batch_size]).long().to(device)
            condition = torch.from_numpy(conditions[start : start + batch_size]).to(device)
            parts.append([part.float().cpu().numpy() for part in self.encode(batch, condition)])
        self.train(was_training)
        mu, log_var = (np.concatenate(part) for part in zip(*parts, strict=True))
        return mu, log_var

    def bar_embeddings(self, z: torch.Tensor, condition: torch.Tensor, bars: int) -> torch.Tensor:
        state_input = torch.cat([z, self.condition(condition)], dim=-1)
        initial = torch.tanh(self.conductor_init(state_input))[None]
        inputs = state_input[:, None].expand(-1, bars, -1)
        conducted, _ = self.conductor(inputs, initial.contiguous())
        return self.to_bar(conducted)

    def decoder_step(
        self,
        input_gates: torch.Tensor,
        state: torch.Tensor,
        transposed_weight_hh: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One GRU step of the bar decoder from precomputed input gates.

        Most of the decoder's input (bar embedding, condition) is constant within a bar
        and all of it is known under teacher forcing, so its projection is computed
        outside the step loop; only the hidden-state product remains per step. Sampling,
        which steps one row at a time, passes ``weight_hh`` transposed once and a 2-D
        ``state``, so that each step is one matrix product.
        """
        if transposed_weight_hh is None:
            hidden_gates = F.linear(state, self.decoder.weight_hh, self.decoder.bias_hh)
        else:
            hidden_gates = torch.addmm(self.decoder.bias_hh, state, transposed_weight_hh)
        width = self.config.decoder_hidden
        reset_update = torch.sigmoid(input_gates[..., : 2 * width] + hidden_gates[..., : 2 * width])
        candidate = torch.tanh(
            torch.addcmul(
                input_gates[..., 2 * width :],
                reset_update[..., :width],
                hidden_gates[..., 2 * width :],
            )
        )
        return torch.lerp(candidate, state, reset_update[..., width:])

    def decoder_step_inputs(
        self, previous: torch.Tensor, held: torch.Tensor, held_steps: torch.Tensor
    ) -> torch.Tensor:
        """The decoder's per-step input ``(batch, step, width)`` from ``(batch, voice,
        step)`` previous tokens and the held notes' pitches and ages (:meth:`held_notes`),
        each of the latter only when the config asks for it."""
        parts = [
            self.embed_per_voice(table, values, vocabulary)
            for (table, vocabulary), values in zip(
                self._step_input_tables(), (previous, held, held_steps), strict=True
            )
            if table is not None
        ]
        return torch.cat(parts, dim=-1)

    def _step_input_tables(self) -> list[tuple[nn.Embedding | None, int]]:
        """The decoder's per-step embedding tables in input order, with their vocabularies:
        previous token, held pitch, held steps (None where the config leaves one out)."""
        return [
            (self.embedding, VOCAB_SIZE),
            (self.held_embedding, VOCAB_SIZE),
            (self.held_duration_embedding, MAX_HELD_STEPS + 1),
        ]

    def _step_gate_table(self) -> tuple[torch.Tensor, list[tuple[int, np.ndarray]]]:
        """The decoder's input-gate contribution of every (voice, value) of each per-step
        input, as rows of one table ``(rows, 3 * hidden)``, and per input the config uses
        (0: previous token, 1: held pitch, 2: held steps) the row offsets of its voices
        ``(VOICES,)``.

        The per-step input is a concatenation of per-voice embeddings, so its projection is
        a sum of such rows: sampling sums them in one bag lookup instead of embedding and
        multiplying at every one of its 256 steps.
        """
        blocks: list[torch.Tensor] = []
        offsets: list[tuple[int, np.ndarray]] = []
        rows, column = 0, 0
        for index, (table, vocabulary) in enumerate(self._step_input_tables()):
            if table is None:
                continue
            weights = table.weight.view(VOICES, vocabulary, table.embedding_dim)
            width = VOICES * table.embedding_dim
            block = self.decoder.weight_ih[:, column : column + width]
            block = block.view(-1, VOICES, table.embedding_dim)
            blocks.append(torch.einsum("vte,gve->vtg", weights, block).flatten(0, 1))
            offsets.append((index, (rows + self.voices * vocabulary).numpy()))
            rows += VOICES * vocabulary
            column += width
        return torch.cat(blocks), offsets

    def _sampling_weights(self, guidance: float) -> SamplingWeights:
        """The decoder's weights laid out for sampling at ``guidance``, kept until a weight
        changes (an optimizer step or a load bumps a tensor's version): preparing them costs
        about as much as 50 sampling steps. Under guidance, the output layer applies to both
        copies' hidden states side by side: it is affine, so ``guidance * W h_conditioned +
        (1 - guidance) * W h_empty`` are the guided logits, the empty condition's plus
        ``guidance`` times what the condition adds."""
        key = (guidance, *((p.data_ptr(), p._version) for p in self.parameters()))
        if self._sampling_cache is None or self._sampling_cache[0] != key:
            self._sampling_cache = (key, self._prepare_sampling_weights(guidance))
        return self._sampling_cache[1]

    def _prepare_sampling_weights(self, guidance: float) -> SamplingWeights:
        gate_table, gate_offsets = self._step_gate_table()
        head = self.heads.weight
        if guidance != 1.0:
            head = torch.cat([guidance * head, (1.0 - guidance) * head], dim=1)
        return SamplingWeights(
            gate_table=gate_table,
            gate_offsets=gate_offsets,
            context_weight=self.decoder.weight_ih[
                :, -(self.config.bar_embedding_dim + VECTOR_DIM) :
            ],
            transposed_weight_hh=self.decoder.weight_hh.t().contiguous(),
            head=head.t().contiguous(),
        )

    def decode_logits(
        self, z: torch.Tensor, condition: torch.Tensor, tokens: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced logits ``(batch, step, voice, vocab)`` for ``tokens``."""
        batch, _, steps = tokens.shape
        bars = steps // STEPS_PER_BAR
        bar_embedding = self.bar_embeddings(z, condition, bars).flatten(0, 1)
        held, held_steps = self.held_notes(tokens)
        previous = self.decoder_step_inputs(
            self.shifted(tokens), self.shifted(held), F.pad(held_steps[..., :-1], (1, 0))
        )
        previous = previous.view(batch * bars, STEPS_PER_BAR, -1)
        context = torch.cat(
            [bar_embedding, self.condition(condition).repeat_interleave(bars, dim=0)], dim=-1
        )
        state = torch.tanh(self.decoder_init(bar_embedding))
        steps_input = torch.cat([previous, context[:, None].expand(-1, STEPS_PER_BAR, -1)], -1)
        input_gates = F.linear(steps_input, self.decoder.weight_ih, self.decoder.bias_ih)
        outputs = []
        for step_gates in input_gates.unbind(1):
            state = self.decoder_step(step_gates, state)
            outputs.append(state)
        hidden = self.dropout(torch.stack(outputs, dim=1)).reshape(batch, steps, -1)
        return self.logits(hidden)

    @torch.no_grad()
    def decode(
        self,
        z: torch.Tensor,
        condition: torch.Tensor,
        bars: int = BARS_PER_SEGMENT,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        guidance: float = 1.0,
    ) -> torch.Tensor:
        """Tokens ``(batch, voice, bars * 16)``; ``temperature <= 0`` decodes greedily.

        ``guidance`` other than 1 steers each step by classifier-free guidance: the
        logits under the empty condition plus ``guidance`` times what the condition adds
        to them, both decoded from the same code and the same tokens so far. Only a model
        trained with ``condition_dropout`` knows the empty condition.
        """
        batch = z.shape[0]
        copies = 1
        if guidance != 1.0:
            self.check_guidance(guidance)
            # Each item's rows are two copies: conditioned, then under the empty condition.
            copies = 2
            z = z.repeat_interleave(copies, dim=0)
            condition = torch.stack([condition, torch.zeros_like(condition)], 1).flatten(0, 1)
        bar_embeddings = self.bar_embeddings(z, condition, bars)
        condition = self.condition(condition)
        weights = self._sampling_weights(guidance)
        previous = np.full((batch, VOICES), REST, dtype=np.int64)
        held, held_steps = previous, np.zeros_like(previous)
        # Each step writes its inputs' table rows into one buffer and sums them in one
        # lookup; the token bookkeeping runs in NumPy (generation.ml.stepping), which
        # dispatches an operation on a few values several times faster than PyTorch.
        gate_rows = np.empty((batch, len(weights.gate_offsets), VOICES), dtype=np.int64)
        gate_rows_tensor = torch.from_numpy(gate_rows).view(-1)
        bags = torch.arange(batch) * gate_rows[0].size
        written = np.empty((batch, VOICES, bars * STEPS_PER_BAR), dtype=np.int64)
        for bar in range(bars):
            noise = self.sampling_noise(STEPS_PER_BAR, batch, temperature, generator)
            bar_embedding = bar_embeddings[:, bar]
            context = torch.cat([bar_embedding, condition], dim=-1)
            context_gates = F.linear(context, weights.context_weight, self.decoder.bias_ih)
            context_gates = context_gates.view(batch, copies, -1)
            state = torch.tanh(self.decoder_init(bar_embedding))
            for step in range(STEPS_PER_BAR):
                step_values = (previous, held, held_steps)
                for row, (index, offsets) in enumerate(weights.gate_offsets):
                    np.add(step_values[index], offsets, out=gate_rows[:, row])
                token_gates = F.embedding_bag(
                    gate_rows_tensor, weights.gate_table, bags, mode="sum"
                )
                input_gates = (context_gates + token_gates[:, None]).flatten(0, 1)
                state = self.decoder_step(input_gates, state, weights.transposed_weight_hh)
                logits = torch.addmm(self.heads.bias, state.view(batch, -1), weights.head)
                step_noise = None if noise is None else noise[step]
                logits = logits.numpy().reshape(batch, VOICES, -1)
                previous = pick_tokens(logits, previous, step_noise, self.top_p)
                held, held_steps = follow_held_notes(previous, held, held_steps)
                written[..., bar * STEPS_PER_BAR + step] = previous
        return torch.from_numpy(written)

    def check_guidance(self, guidance: float) -> None:
        """Refuse a guidance other than 1 for a model that never saw the empty condition."""
        if guidance != 1.0 and not (self.use_condition and self.config.condition_dropout > 0):
            raise ValueError(
                "guidance needs a conditional model trained with condition_dropout > 0"
            )

    def loss(
        self,
        tokens: torch.Tensor,
        condition: torch.Tensor,
        kl_weight: float = 1.0,
        free_bits: float = 0.0,
    ) -> LossBreakdown:
        """Negative ELBO with a weighted KL term; each latent dimension's KL below
        ``free_bits`` nats (averaged over the batch) costs nothing, so the decoder cannot
        win by ignoring the latent.
        """
        mu, log_var = self.encode(tokens, condition)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        logits = self.decode_logits(z, self.dropped_condition(condition), tokens)
        reconstruction, accuracy = self.token_nll(logits, tokens)
        kl_per_dimension = 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var).mean(0)
        kl = kl_per_dimension.sum()
        penalized = torch.clamp(kl_per_dimension, min=free_bits).sum()
        return LossBreakdown(reconstruction + kl_weight * penalized, reconstruction, kl, accuracy)

    def dropped_condition(self, condition: torch.Tensor) -> torch.Tensor:
        """In training, ``condition`` with the rows of a ``condition_dropout`` share of the
        segments zeroed: the empty condition that guided sampling contrasts with."""
        if not self.training or self.config.condition_dropout == 0:
            return condition
        kept = torch.rand(condition.shape[0], 1, device=condition.device)
        return condition * (kept >= self.config.condition_dropout)

    def teacher_forced_logits(self, tokens: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        mu, _ = self.encode(tokens, condition)
        return self.decode_logits(mu, condition, tokens)

    @torch.no_grad()
    def log_likelihood(
        self,
        tokens: torch.Tensor,
        condition: torch.Tensor,
        samples: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Each segment's importance-weighted estimate of log p(x | c) under the N(0, I)
        prior the model was trained with (Burda et al. 2016): with one sample it is the
        ELBO in expectation, and it tightens towards the exact log-likelihood as ``samples``
        grows, so it can be set beside an autoregressive model's exact likelihood.
        """
        mu, log_var = self.encode(tokens, condition)
        std = torch.exp(0.5 * log_var)
        weights = []
        for _ in range(samples):
            noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
            z = mu + noise * std
            log_decoded = -self.segment_nll(self.decode_logits(z, condition, tokens), tokens)
            log_prior = -0.5 * z.pow(2).sum(-1)
            log_posterior = -0.5 * noise.pow(2).sum(-1) - torch.log(std).sum(-1)
            weights.append(log_decoded + log_prior - log_posterior)
        return torch.logsumexp(torch.stack(weights), dim=0) - math.log(samples)

    @torch.no_grad()
    def reconstruct(self, tokens: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Free-running greedy reconstruction from the posterior mean."""
        mu, _ = self.encode(tokens, condition)
        return self.decode(mu, condition, tokens.shape[-1] // STEPS_PER_BAR, temperature=0)

    @torch.no_grad()
    def sample(
        self,
        condition: torch.Tensor,
        bars: int = BARS_PER_SEGMENT,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """New pieces of ``bars`` bars. The model learned 16-bar segments, and run further
        its conductor falls silent after 16-20 bars: a longer piece is a chain of segments,
        each decoded from a code ``CHAIN_STEP`` of the way from the one before toward a fresh
        draw, so it develops its material instead of repeating it or stopping."""
        z = self.prior_code(condition, generator)
        if bars <= BARS_PER_SEGMENT:
            return self.decode(z, condition, bars, temperature, generator, self.guidance)
        wanted = bars * STEPS_PER_BAR
        parts: list[list[torch.Tensor]] = [[] for _ in range(len(z))]
        filled = np.zeros(len(z), dtype=np.int64)
        # A segment may fall silent early (or, later in a chain, start late): its silent bars
        # are left out so the piece does not pause for bars, and further segments follow
        # until every piece is full. The bound ends a chain of a model that keeps resting.
        for number in range(2 * math.ceil(bars / BARS_PER_SEGMENT) + 2):
            if (filled >= wanted).all():
                break
            if number:
                z = slerp(z, self.prior_code(condition, generator), CHAIN_STEP)
            segment = self.decode(
                z, condition, BARS_PER_SEGMENT, temperature, generator, self.guidance
            )
            for item, grid in enumerate(segment):
                if filled[item] < wanted:
                    kept = _sounding_bars(grid, keep_lead=not parts[item])
                    parts[item].append(kept)
                    filled[item] += kept.shape[-1]
        pieces = torch.full((len(z), VOICES, wanted), REST, dtype=torch.long)
        for item, chain in enumerate(parts):
            joined = torch.cat(chain, dim=-1)[:, :wanted]
            pieces[item, :, : joined.shape[-1]] = joined
        return pieces

    def prior_code(
        self, condition: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """A latent code per condition, drawn from the sampling prior."""
        if self.latent_prior is None:
            return torch.randn(
                condition.shape[0],
                self.config.latent_dim,
                generator=generator,
                dtype=condition.dtype,
            )
        return self.latent_prior.sample(condition, generator)


def _sounding_bars(grid: torch.Tensor, keep_lead: bool) -> torch.Tensor:
    """``grid`` (voice, step) without its trailing silent bars, and without its leading ones
    unless ``keep_lead`` (the opening of a piece may rest)."""
    bars = grid.reshape(grid.shape[0], -1, STEPS_PER_BAR)
    sounding = torch.nonzero((bars != REST).any(dim=2).any(dim=0)).flatten()
    if len(sounding) == 0:
        return grid[:, :0]
    first = 0 if keep_lead else int(sounding[0])
    return grid[:, first * STEPS_PER_BAR : (int(sounding[-1]) + 1) * STEPS_PER_BAR]


def slerp(a: torch.Tensor, b: torch.Tensor, fraction: float) -> torch.Tensor:
    """Spherical interpolation, which keeps intermediate codes at a typical Gaussian norm."""
    cosine = torch.nn.functional.cosine_similarity(a, b, dim=-1).clamp(-1.0, 1.0)
    angle = torch.arccos(cosine)[..., None]
    if float(angle.abs().max()) < 1e-4:
        return torch.lerp(a, b, fraction)
    return (torch.sin((1 - fraction) * angle) * a + torch.sin(fraction * angle) * b) / torch.sin(
        angle
    )


class LSTMBaseline(TokenModel):
    kind = "lstm"

    def __init__(self, config: LSTMConfig = LSTMConfig()) -> None:
        super().__init__(config.embedding_dim, config.hidden, config.use_condition)
        self.config = config
        self.lstm = nn.LSTM(
            VOICES * config.embedding_dim + VECTOR_DIM,
            config.hidden,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
            batch_first=True,
        )

    def _inputs(self, previous: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        steps = self.embed_steps(previous)
        condition = self.condition(condition)[:, None].expand(-1, steps.shape[1], -1)
        return torch.cat([steps, condition], dim=-1)

    def teacher_forced_logits(self, tokens: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self._inputs(self.shifted(tokens), condition))
        return self.logits(hidden)

    def loss(
        self,
        tokens: torch.Tensor,
        condition: torch.Tensor,
        kl_weight: float = 1.0,
        free_bits: float = 0.0,
    ) -> LossBreakdown:
        """Exact negative log-likelihood; the KL arguments exist for a shared interface."""
        nll, accuracy = self.token_nll(self.teacher_forced_logits(tokens, condition), tokens)
        return LossBreakdown(nll, nll, torch.zeros(()), accuracy)

    @torch.no_grad()
    def log_likelihood(
        self,
        tokens: torch.Tensor,
        condition: torch.Tensor,
        samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Each segment's exact log p(x | c); ``samples`` and ``generator`` exist for a
        shared interface."""
        return -self.segment_nll(self.teacher_forced_logits(tokens, condition), tokens)

    @torch.no_grad()
    def continue_from(
        self,
        prime: torch.Tensor,
        condition: torch.Tensor,
        steps: int,
        temperature: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``prime`` (which may have zero steps) followed by ``steps`` generated steps."""
        start = torch.full((condition.shape[0], VOICES, 1), REST, dtype=torch.long)
        history = torch.cat([start, prime.long()], dim=-1)
        hidden, state = self.lstm(self._inputs(history, condition))
        current = history[..., -1]
        written = [prime.long()]
        noise = None
        for step in range(steps):
            if step % STEPS_PER_BAR == 0:
                noise = self.sampling_noise(STEPS_PER_BAR, len(current), temperature, generator)
            step_noise = None if noise is None else noise[step % STEPS_PER_BAR]
            logits = self.logits(hidden[:, -1]).numpy()
            current = torch.from_numpy(pick_tokens(logits, current.numpy(), step_noise, self.top_p))
            written.append(current[..., None])
            hidden, state = self.lstm(self._inputs(current[..., None], condition), state)
        return torch.cat(written, dim=-1)

    @torch.no_grad()
    def reconstruct(self, tokens: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Free-running greedy continuation of the first bar: the LSTM has no latent code."""
        prime = tokens[..., :STEPS_PER_BAR]
        return self.continue_from(prime, condition, tokens.shape[-1] - STEPS_PER_BAR, 0)

    @torch.no_grad()
    def sample(
        self,
        condition: torch.Tensor,
        bars: int = BARS_PER_SEGMENT,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        empty = torch.zeros((condition.shape[0], VOICES, 0), dtype=torch.long)
        return self.continue_from(empty, condition, bars * STEPS_PER_BAR, temperature, generator)


MODEL_CLASSES: dict[str, tuple[type[TokenModel], type]] = {
    ConditionalVAE.kind: (ConditionalVAE, CVAEConfig),
    LSTMBaseline.kind: (LSTMBaseline, LSTMConfig),
}


def build_model(
    kind: str, config: dict[str, object] | None = None, seed: int | None = None
) -> TokenModel:
    """A fresh model of ``kind`` ("cvae" or "lstm") from a config dictionary; a seed makes
    its initial weights reproducible."""
    if kind not in MODEL_CLASSES:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_CLASSES)}")
    if seed is not None:
        torch.manual_seed(seed)
    model_class, config_class = MODEL_CLASSES[kind]
    return model_class(config_class(**(config or {})))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# What ``train_generator --variant`` trains: the model and its baselines on the same data.
VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    "cvae": ("cvae", {}),
    "cvae-unconditional": ("cvae", {"use_condition": False}),
    "lstm": ("lstm", {}),
}
