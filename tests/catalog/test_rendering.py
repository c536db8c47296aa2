import dataclasses
import io
import os
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from catalog.midi.rendering import (
    WORKDIR_PREFIX,
    AudioRenderer,
    RendererUnavailable,
    RenderFailed,
    prune_cache,
    render_once,
    render_pianoroll,
)
from catalog.midi.validation import load_midi
from tests.catalog.midi_factory import midi_bytes

# FluidSynth renders the reverb and release of the last notes after the music ends.
RELEASE_TAIL_S = 3.5


@pytest.fixture(scope="module")
def renderer() -> AudioRenderer:
    try:
        return AudioRenderer.find()
    except RendererUnavailable as missing:
        pytest.skip(f"audio rendering unavailable here: {missing}")


def ogg_duration_s(data: bytes, sample_rate: int) -> float:
    """From the granule position (samples) of the last Ogg page."""
    last_page = data.rindex(b"OggS")
    return int.from_bytes(data[last_page + 6 : last_page + 14], "little") / sample_rate


def test_wav_audio_lasts_as_long_as_the_music(renderer, tmp_path):
    path = renderer.render(midi_bytes(tempo_bpm=120), "wav", tmp_path / "scale.wav")
    with wave.open(str(path)) as audio:
        duration = audio.getnframes() / audio.getframerate()
        assert audio.getframerate() == renderer.sample_rate
    assert 4.0 <= duration <= 4.0 + RELEASE_TAIL_S  # four seconds of notes, then the tail
    assert [p.name for p in tmp_path.iterdir()] == ["scale.wav"]  # no temporary files left


def test_ogg_audio_is_vorbis_of_the_right_duration(renderer, tmp_path):
    data = renderer.render(midi_bytes(tempo_bpm=60), "ogg", tmp_path / "scale.ogg").read_bytes()
    assert data.startswith(b"OggS") and b"vorbis" in data[:64]
    assert 8.0 <= ogg_duration_s(data, renderer.sample_rate) <= 8.0 + RELEASE_TAIL_S


def test_unknown_audio_formats_are_refused(renderer, tmp_path):
    with pytest.raises(ValueError, match="mp3"):
        renderer.render(midi_bytes(), "mp3", tmp_path / "scale.mp3")


def test_a_missing_program_or_soundfont_says_what_is_missing(tmp_path):
    with pytest.raises(RendererUnavailable, match="no-such-synth"):
        AudioRenderer.find(executable="no-such-synth")
    with pytest.raises(RendererUnavailable, match="soundfont"):
        AudioRenderer.find(executable="sh", soundfonts=[tmp_path / "missing.sf2"])


def test_the_piano_roll_draws_each_note_where_it_sounds():
    # Two notes a fifth apart, one after the other, four seconds in all at 60 bpm.
    midi = load_midi(midi_bytes(notes=[(60, 0, 2), (67, 2, 2)], tempo_bpm=60))
    image = Image.open(io.BytesIO(render_pianoroll(midi)))
    assert image.format == "PNG"
    assert image.width == 160  # 40 pixels a second
    background = image.getpixel((0, 0))
    row_of = {pitch: (67 + 2 - pitch) * 6 + 3 for pitch in (60, 67)}  # 6 pixels a semitone
    assert image.getpixel((40, row_of[60])) != background
    assert image.getpixel((40, row_of[67])) == background
    assert image.getpixel((120, row_of[67])) != background
    assert image.getpixel((120, row_of[60])) == background


def _running_programs() -> set[str]:
    names = set()
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            names.add(comm.read_text().strip())
        except OSError:  # the process ended meanwhile
            continue
    return names


def test_a_render_over_its_budget_is_stopped_and_remembered(renderer, tmp_path):
    ten_minutes = midi_bytes(notes=[(48 + i % 24, i, 1.0) for i in range(1200)], tempo_bpm=120)
    impatient = dataclasses.replace(renderer, timeout_s=0.2)
    destination = tmp_path / "long.wav"
    calls = []

    def render(path):
        calls.append(path)
        impatient.render(ten_minutes, "wav", path)

    for _ in range(2):
        with pytest.raises(RenderFailed, match="longer than 1 s"):
            render_once(destination, render)
    assert len(calls) == 1  # the second request is answered from the remembered failure
    assert not destination.exists()
    assert not list(tmp_path.glob(f"{WORKDIR_PREFIX}*"))
    assert "fluidsynth" not in _running_programs()


def test_concurrent_requests_render_a_file_once(tmp_path):
    destination = tmp_path / "piece.png"
    calls = []

    def slow_render(path):
        calls.append(path)
        time.sleep(0.3)
        path.write_bytes(b"made")

    with ThreadPoolExecutor(4) as pool:
        made = list(pool.map(lambda _: render_once(destination, slow_render), range(4)))

    assert made == [destination] * 4 and len(calls) == 1
    assert destination.read_bytes() == b"made"


def test_work_folders_abandoned_by_killed_renders_are_removed(renderer, tmp_path):
    abandoned = tmp_path / f"{WORKDIR_PREFIX}killed"
    abandoned.mkdir()
    (abandoned / "output.wav").write_bytes(b"half an audio file")
    long_ago = time.time() - 3600
    os.utime(abandoned, (long_ago, long_ago))

    renderer.render(midi_bytes(), "wav", tmp_path / "scale.wav")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["scale.wav"]


def test_pruning_keeps_the_most_recently_used_files_within_the_limit(tmp_path):
    for age, name in enumerate(["newest", "middle", "oldest"]):
        path = tmp_path / "ab" / f"{name}.wav"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * 100)
        stamp = time.time() - 3600 * (age + 1)
        os.utime(path, (stamp, stamp))
    busy = tmp_path / "ab" / f"{WORKDIR_PREFIX}busy" / "output.wav"
    busy.parent.mkdir()
    busy.write_bytes(b"x" * 1000)
    render_once(tmp_path / "ab" / "oldest.wav", lambda path: None)  # asked for: now recent

    removed, freed = prune_cache(tmp_path, max_bytes=250)

    assert (removed, freed) == (1, 100)
    left = sorted(p.name for p in (tmp_path / "ab").glob("*.wav"))
    assert left == ["newest.wav", "oldest.wav"]
    assert busy.exists()  # a render in progress is never pruned
