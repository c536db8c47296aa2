import io
import wave

import pytest
from PIL import Image

from catalog.midi.rendering import AudioRenderer, RendererUnavailable, render_pianoroll
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
