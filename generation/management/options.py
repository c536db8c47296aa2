"""Checks that the generation commands share for their command-line options."""

from __future__ import annotations

import math
from typing import Any

from django.core.management.base import CommandError

from generation.ml.models import ConditionalVAE, TokenModel
from generation.ml.training import check_top_p


def require_at_least_one(options: dict[str, Any], *names: str) -> None:
    """Refuse a count option (one not given, None, passes) below 1, naming it."""
    for name in names:
        if options[name] is not None and options[name] < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1")


def check_guidance_option(model: TokenModel, guidance: float) -> None:
    """Refuse a ``--guidance`` that ``model`` cannot sample with: any value but 1 needs a
    conditional CVAE trained with condition dropout."""
    if not math.isfinite(guidance) or guidance < 0:
        raise CommandError("--guidance must be a finite number of at least 0")
    if guidance == 1.0:
        return
    if not isinstance(model, ConditionalVAE):
        raise CommandError(f"--guidance: a {model.kind!r} model is not sampled with guidance")
    try:
        model.check_guidance(guidance)
    except ValueError as exc:
        raise CommandError(f"--guidance: {exc}") from exc


def check_top_p_option(top_p: float) -> None:
    try:
        check_top_p(top_p)
    except ValueError as exc:
        raise CommandError("--top-p must be above 0 and at most 1 (1 samples every token)") from exc
