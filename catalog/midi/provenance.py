"""The label that marks a MIDI file as AI-generated, wherever the file travels.

The generator writes it as a text event; importers read it back so that a generated file
imported like any other is still labelled, and still waits for curation.
"""

from __future__ import annotations

import pretty_midi

AI_LABEL_PREFIX = "AI-generated"


def ai_label(midi: pretty_midi.PrettyMIDI) -> str | None:
    """The file's AI-generated label (the whole text event), or None when it has none."""
    for event in midi.text_events:
        if event.text.startswith(AI_LABEL_PREFIX):
            return event.text
    return None
