"""Byte ranges on track files: what audio players need to seek."""

import pytest

from catalog.api.files import UnsatisfiableRange, requested_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-200", (800, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=5-2", None),  # malformed: the whole file
        ("bytes=0-1,5-9", None),  # several ranges: the whole file, as RFC 9110 allows
        ("items=0-1", None),
        ("bytes=0-" + "9" * 4301, None),  # past Python's int() digits: malformed, not a 500
        ("bytes=" + "1" * 19 + "-", None),
        (None, None),
    ],
)
def test_requested_range(header, expected):
    assert requested_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=-0"])
def test_a_range_past_the_end_is_unsatisfiable(header):
    with pytest.raises(UnsatisfiableRange):
        requested_range(header, 1000)
