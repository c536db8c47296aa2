"""Audio (FluidSynth with a General MIDI soundfont) and piano-roll images of MIDI files."""

from __future__ import annotations

import fcntl
import io
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pretty_midi
from PIL import Image, ImageDraw

# Debian's fluid-soundfont-gm, then other common install locations.
SOUNDFONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
)


@dataclass(frozen=True)
class AudioFormat:
    name: str
    fluidsynth_type: str
    content_type: str


AUDIO_FORMATS: dict[str, AudioFormat] = {
    "wav": AudioFormat("wav", "wav", "audio/wav"),
    "ogg": AudioFormat("ogg", "oga", "audio/ogg"),
}
PNG_CONTENT_TYPE = "image/png"


class RendererUnavailable(RuntimeError):
    """FluidSynth or a General MIDI soundfont is not installed on this machine."""


class RenderFailed(RuntimeError):
    """FluidSynth ran but produced no audio."""


@dataclass(frozen=True)
class AudioRenderer:
    executable: Path
    soundfont: Path
    sample_rate: int = 22050
    # Below 1.0 so that five-voice scores do not clip.
    gain: float = 0.5
    # Under the web server's 120 s request timeout: an hour of dense music renders in about
    # 35 s here, so a file that takes longer is pathological, not merely long.
    timeout_s: float = 90.0

    @classmethod
    def find(
        cls,
        *,
        executable: str = "fluidsynth",
        soundfonts: Sequence[Path] = SOUNDFONT_CANDIDATES,
    ) -> AudioRenderer:
        """The installed renderer; :class:`RendererUnavailable` says what is missing."""
        found = shutil.which(executable)
        if found is None:
            raise RendererUnavailable(
                f"the '{executable}' program is not installed (Debian: apt install fluidsynth)"
            )
        soundfont = next((path for path in soundfonts if path.is_file()), None)
        if soundfont is None:
            raise RendererUnavailable(
                "no General MIDI soundfont found (Debian: apt install fluid-soundfont-gm); "
                f"looked in {', '.join(str(path) for path in soundfonts)}"
            )
        return cls(executable=Path(found), soundfont=soundfont)

    def render(self, midi_bytes: bytes, audio_format: str, destination: Path) -> Path:
        """Write the audio of ``midi_bytes`` to ``destination``, atomically."""
        spec = AUDIO_FORMATS.get(audio_format)
        if spec is None:
            raise ValueError(f"unknown audio format {audio_format!r}; use {sorted(AUDIO_FORMATS)}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_workdirs(destination.parent, older_than_s=2 * self.timeout_s)
        with tempfile.TemporaryDirectory(dir=destination.parent, prefix=WORKDIR_PREFIX) as workdir:
            midi_path = Path(workdir) / "input.mid"
            midi_path.write_bytes(midi_bytes)
            audio_path = Path(workdir) / f"output.{spec.name}"
            self._run_fluidsynth(midi_path, audio_path, spec)
            os.replace(audio_path, destination)
        return destination

    def _run_fluidsynth(self, midi_path: Path, audio_path: Path, spec: AudioFormat) -> None:
        # coreutils' timeout kills fluidsynth even when this process dies first (a web
        # worker killed mid-request), so no render outlives its budget.
        limit = shutil.which("timeout")
        budget_s = max(1, math.ceil(self.timeout_s))
        deadline = [limit, "--kill-after=5", str(budget_s)] if limit else []
        command = [
            *deadline,
            str(self.executable),
            "-ni",  # no shell, no MIDI input: render the file and exit
            "-q",
            f"-g{self.gain}",
            f"-r{self.sample_rate}",
            f"-F{audio_path}",
            f"-T{spec.fluidsynth_type}",
            str(self.soundfont),
            str(midi_path),
        ]
        try:
            completed = subprocess.run(
                command, capture_output=True, timeout=budget_s + 10, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise RenderFailed(f"fluidsynth took longer than {budget_s} s") from error
        if completed.returncode in (124, 137) and deadline:
            raise RenderFailed(f"fluidsynth took longer than {budget_s} s")
        if completed.returncode != 0 or not audio_path.is_file() or not audio_path.stat().st_size:
            detail = completed.stderr.decode(errors="replace").strip()[-500:]
            raise RenderFailed(f"fluidsynth exited with {completed.returncode}: {detail}")


WORKDIR_PREFIX = "rendering-"
FAILED_SUFFIX = ".failed"
# A file that failed to render is not tried again for this long: every request would
# otherwise spend the whole budget again on the same hopeless file.
FAILURE_REMEMBERED_S = 3600.0


def render_once(destination: Path, render: Callable[[Path], object]) -> Path:
    """``destination``, made by ``render(destination)`` unless it already exists.

    One process renders a file at a time (others wait for it, then find it made); a failure
    is remembered beside the file for FAILURE_REMEMBERED_S and raised again at once as
    ``RenderFailed`` with the first failure's reason.
    """
    if _mark_used(destination):
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    _, lock_path, failed = render_files(destination)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if destination.is_file():
            return destination
        if failed.is_file() and time.time() - failed.stat().st_mtime < FAILURE_REMEMBERED_S:
            raise RenderFailed(failed.read_text())
        try:
            render(destination)
        except RenderFailed as error:
            failed.write_text(str(error))
            raise
        failed.unlink(missing_ok=True)
    return destination


def render_files(destination: Path) -> tuple[Path, Path, Path]:
    """The rendered file and what ``render_once`` keeps beside it: its lock and the record
    of a failure."""
    return (
        destination,
        destination.with_name(destination.name + ".lock"),
        destination.with_name(destination.name + FAILED_SUFFIX),
    )


def _mark_used(path: Path) -> bool:
    """Whether ``path`` exists; if so its time is set to now, so that pruning the cache
    removes what was least recently asked for."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def cache_files(directory: Path) -> list[tuple[float, int, Path]]:
    """``(last used, size, path)`` of every file in a render cache, least recently used first."""
    found = []
    for path in directory.rglob("*"):
        if any(part.startswith(WORKDIR_PREFIX) for part in path.relative_to(directory).parts):
            continue  # a render in progress
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        if path.is_file():
            found.append((info.st_mtime, info.st_size, path))
    return sorted(found)


def prune_cache(directory: Path, max_bytes: int) -> tuple[int, int]:
    """Delete the least recently used files until the cache holds at most ``max_bytes``;
    the number of files removed and the bytes freed. Anything removed is made again on
    its next request."""
    files = cache_files(directory)
    excess = sum(size for _, size, _ in files) - max_bytes
    removed = freed = 0
    for _, size, path in files:
        if freed >= excess:
            break
        path.unlink(missing_ok=True)
        removed, freed = removed + 1, freed + size
    return removed, freed


def _remove_abandoned_workdirs(directory: Path, *, older_than_s: float) -> None:
    """Work folders left by renders whose process was killed before cleaning up."""
    cutoff = time.time() - older_than_s
    for workdir in directory.glob(f"{WORKDIR_PREFIX}*"):
        try:
            if workdir.stat().st_mtime < cutoff:
                shutil.rmtree(workdir, ignore_errors=True)
        except FileNotFoundError:
            continue


# One colour per instrument, cycling; chosen to stay distinct on a dark background.
PIANOROLL_COLOURS = (
    (238, 102, 119),
    (102, 204, 238),
    (34, 170, 136),
    (204, 187, 68),
    (170, 51, 119),
    (68, 119, 170),
    (187, 187, 187),
)
PIANOROLL_BACKGROUND = (24, 24, 32)
PIANOROLL_OCTAVE_LINE = (52, 52, 66)


@dataclass(frozen=True)
class PianoRollStyle:
    pixels_per_second: float = 40.0
    pixels_per_semitone: int = 6
    max_width: int = 2400
    margin_semitones: int = 2


def render_pianoroll(
    midi: pretty_midi.PrettyMIDI, *, style: PianoRollStyle = PianoRollStyle()
) -> bytes:
    """A PNG of the notes: time runs left to right, pitch bottom to top, a colour per part."""
    notes = [
        (index, note)
        for index, instrument in enumerate(midi.instruments)
        if not instrument.is_drum
        for note in instrument.notes
    ]
    if not notes:
        raise ValueError("a piano roll needs at least one pitched note")
    low = min(note.pitch for _, note in notes) - style.margin_semitones
    high = max(note.pitch for _, note in notes) + style.margin_semitones
    duration = max(note.end for _, note in notes)
    scale = min(style.pixels_per_second, style.max_width / max(duration, 1e-3))
    width = max(1, round(duration * scale))
    height = (high - low + 1) * style.pixels_per_semitone
    image = Image.new("RGB", (width, height), PIANOROLL_BACKGROUND)
    draw = ImageDraw.Draw(image)

    def row_top(pitch: int) -> int:
        return (high - pitch) * style.pixels_per_semitone

    for pitch in range(low, high + 1):
        if pitch % 12 == 0:
            draw.line([(0, row_top(pitch)), (width, row_top(pitch))], fill=PIANOROLL_OCTAVE_LINE)
    for index, note in notes:
        left, right = note.start * scale, max(note.end * scale, note.start * scale + 1)
        top = row_top(note.pitch)
        colour = PIANOROLL_COLOURS[index % len(PIANOROLL_COLOURS)]
        draw.rectangle([left, top + 1, right, top + style.pixels_per_semitone - 1], fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
