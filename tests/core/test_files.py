"""Which bytes a Range header asks for (core.files.requested_range); the responses are tested where files
are served: tests/qa/test_recordings_admin.py, tests/qa/test_admin.py, tests/radio/test_audio.py."""

from __future__ import annotations

import pytest

from core.files import requested_range


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        ("", None),  # no header: the whole file
        ("bytes=-", None),
        ("bytes=0-9,20-29", None),  # several ranges are not served: the whole file
        ("items=0-9", None),
        ("bytes=0-9", range(10)),
        (" bytes=90- ", range(90, 100)),
        ("bytes=95-500", range(95, 100)),  # an end past the file is cut to it
        ("bytes=-30", range(70, 100)),
        ("bytes=-500", range(100)),
        ("bytes=100-", range(0)),  # starts past the end: nothing to give (416)
        ("bytes=9-3", range(0)),
        ("bytes=-0", range(0)),
    ],
)
def test_a_range_header_names_the_bytes_it_wants(header: str, wanted: range | None) -> None:
    assert requested_range(header, 100) == wanted
