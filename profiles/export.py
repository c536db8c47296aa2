"""Sections of a person's data export; apps to the right of profiles add theirs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

ExportSection = Callable[[AbstractBaseUser], Any]

_SECTIONS: dict[str, ExportSection] = {}


def register_export_section(name: str, section: ExportSection) -> None:
    """``section(user)`` returns JSON-able data; it appears under ``name`` in the export."""
    _SECTIONS[name] = section


def export_sections() -> dict[str, ExportSection]:
    return dict(_SECTIONS)
