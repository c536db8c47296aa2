from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from catalog.midi.validation import InvalidMidi
from catalog.services import import_midi_file

MIDI_SUFFIXES = {".mid", ".midi", ".smf", ".kar"}


class Command(BaseCommand):
    help = (
        "Import MIDI files (or every MIDI file under folders) as public catalog tracks; files "
        "already imported are passed over, and files labelled AI-generated stay hidden "
        "until staff publish them."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="MIDI files or folders.")
        parser.add_argument("--artist", default="", help="Artist or composer of every file.")
        parser.add_argument("--collection", default="", help="Collection name to record.")

    def handle(self, *args: Any, **options: Any) -> None:
        files = list(_midi_files(options["paths"]))
        if not files:
            raise CommandError("no MIDI files (.mid, .midi, .smf, .kar) found")
        imported, known, skipped = 0, 0, []
        for path in files:
            try:
                track, created = import_midi_file(
                    path=path, artist=options["artist"], collection=options["collection"]
                )
            except InvalidMidi as error:
                skipped.append((path, error.message))
                continue
            except OSError as error:
                skipped.append((path, str(error)))
                continue
            if not created:
                known += 1
                self.stdout.write(f"already imported {path} as track {track.pk}")
                continue
            imported += 1
            hidden = " (AI-generated: hidden until published)" if track.ai_generated else ""
            style = track.style or "unstyled"
            self.stdout.write(f"imported {path} as track {track.pk} ({style}){hidden}")
        self.stdout.write(f"imported {imported}; already there {known}; skipped {len(skipped)}")
        for path, reason in skipped:
            self.stdout.write(f"  skipped {path}: {reason}")


def _midi_files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise CommandError(f"{path} does not exist")
    return found
