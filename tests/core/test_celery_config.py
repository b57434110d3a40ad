from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.celery import digest_time


@pytest.mark.parametrize(("value", "expected"), [("08:30", (8, 30)), ("7:05", (7, 5)), (" 23:59 ", (23, 59))])
def test_digest_time_reads_hours_and_minutes(value: str, expected: tuple[int, int]) -> None:
    assert digest_time(value) == expected


@pytest.mark.parametrize("value", ["8.30", "24:00", "08:60", "", "noon"])
def test_a_bad_digest_time_names_the_setting(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="RADIO_DIGEST_TIME"):
        digest_time(value)
