"""Checks that the generation commands share for their command-line options."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError


def require_at_least_one(options: dict[str, Any], *names: str) -> None:
    """Refuse a count option (one not given, None, passes) below 1, naming it."""
    for name in names:
        if options[name] is not None and options[name] < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
