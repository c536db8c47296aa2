"""Catalog throughput: corpus import (parse → MIDI → validate → features, then the database),
feature extraction, and audio rendering time per minute of music.

Run: bin/bench catalog_bench   (or: DEBUG=1 .venv/bin/python bench/catalog_bench.py --per-style 10)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-style", type=int, default=8, help="Corpus pieces per style.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--render", type=int, default=3, help="Pieces to render to audio.")
    options = parser.parse_args()

    from catalog.midi.corpus import CorpusPiece, balanced_limits, load_pieces, plan_corpus
    from catalog.midi.features import extract_features
    from catalog.midi.rendering import AudioRenderer, RendererUnavailable
    from catalog.midi.validation import load_midi

    limits = balanced_limits(options.per_style)
    items = plan_corpus(list(limits), limits, max_mxl_bytes=64_000).items
    started = time.perf_counter()
    pieces = [p for p in load_pieces(items, workers=options.workers) if isinstance(p, CorpusPiece)]
    load_s = time.perf_counter() - started
    print(
        f"corpus load (parse, MIDI, validate, features; {options.workers} processes): "
        f"{len(pieces)} pieces in {load_s:.1f} s = {len(pieces) / load_s:.2f} pieces/s"
    )

    started = time.perf_counter()
    for piece in pieces:
        extract_features(load_midi(piece.midi_bytes))
    feature_s = time.perf_counter() - started
    print(
        f"feature extraction (validate + features, 1 process): "
        f"{len(pieces) / feature_s:.1f} pieces/s ({1000 * feature_s / len(pieces):.1f} ms each)"
    )

    _bench_database_import(pieces)

    try:
        renderer = AudioRenderer.find()
    except RendererUnavailable as missing:
        print(f"audio rendering skipped: {missing}")
        return
    sample = sorted(pieces, key=lambda piece: piece.features.duration_s)[-options.render :]
    music_s = sum(piece.features.duration_s for piece in sample)
    with tempfile.TemporaryDirectory() as workdir:
        for audio_format in ("wav", "ogg"):
            started = time.perf_counter()
            for index, piece in enumerate(sample):
                renderer.render(piece.midi_bytes, audio_format, Path(workdir) / f"{index}.x")
            render_s = time.perf_counter() - started
            print(
                f"audio render ({audio_format}): {render_s / (music_s / 60):.2f} s per minute of "
                f"music ({len(sample)} pieces, {music_s / 60:.1f} min)"
            )


def _bench_database_import(pieces: list) -> None:
    """Store the loaded pieces as tracks in a throwaway SQLite database."""
    import django

    with tempfile.TemporaryDirectory() as workdir:
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
        os.environ["MEDIA_ROOT"] = str(Path(workdir) / "media")
        django.setup()
        from django.core.management import call_command

        from catalog.models import Track
        from catalog.services import import_corpus_piece

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        for piece in pieces:
            import_corpus_piece(piece=piece)
        store_s = time.perf_counter() - started
        assert Track.objects.count() == len(pieces)
    print(
        f"database import (row + MIDI file): {len(pieces) / store_s:.1f} tracks/s "
        f"({1000 * store_s / len(pieces):.1f} ms each)"
    )


if __name__ == "__main__":
    main()
