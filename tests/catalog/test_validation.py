import pytest

from catalog.midi.validation import InvalidMidi, MidiLimits, load_midi
from tests.catalog.midi_factory import broken_midi_files, midi_bytes


def test_a_valid_file_parses_with_its_notes():
    midi = load_midi(midi_bytes())
    assert sum(len(instrument.notes) for instrument in midi.instruments) == 8


@pytest.mark.parametrize("name", sorted(broken_midi_files()))
def test_each_broken_file_is_refused_for_its_reason(name):
    data, field = broken_midi_files()[name]
    with pytest.raises(InvalidMidi) as refused:
        load_midi(data)
    assert refused.value.field == field
    assert refused.value.message


def test_files_over_the_size_limit_are_refused_before_parsing():
    data = midi_bytes()
    with pytest.raises(InvalidMidi, match="limit is 100 bytes") as refused:
        load_midi(data, limits=MidiLimits(max_bytes=100))
    assert refused.value.field == "size"


def test_too_many_notes_are_refused():
    notes = [(60 + i % 12, i * 0.5, 0.5) for i in range(11)]
    with pytest.raises(InvalidMidi, match="11 notes") as refused:
        load_midi(midi_bytes(notes=notes), limits=MidiLimits(max_notes=10))
    assert refused.value.field == "notes"
    assert load_midi(midi_bytes(notes=notes[:10]), limits=MidiLimits(max_notes=10))


def test_the_event_count_stops_at_the_limit_and_spares_ordinary_files():
    flood, _ = broken_midi_files()["controller_flood"]
    with pytest.raises(InvalidMidi, match="more than 1000 events"):
        load_midi(flood, limits=MidiLimits(max_events=1000))
    assert load_midi(midi_bytes(), limits=MidiLimits(max_events=20))  # 20 events


def test_a_riff_midi_file_is_read_as_the_midi_it_wraps():
    inner = midi_bytes()
    padding = b"\x00" if len(inner) % 2 else b""
    info = b"LIST" + (4).to_bytes(4, "little") + b"INFO"
    riff_body = b"RMID" + info + b"data" + len(inner).to_bytes(4, "little") + inner + padding
    rmi = b"RIFF" + len(riff_body).to_bytes(4, "little") + riff_body

    midi = load_midi(rmi)

    assert sum(len(instrument.notes) for instrument in midi.instruments) == 8
    with pytest.raises(InvalidMidi, match="data chunk"):
        load_midi(b"RIFF" + (4).to_bytes(4, "little") + b"RMID")
