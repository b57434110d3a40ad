"""A span of time in its two largest units, in both languages: the queue's SLA time and the homes' waits."""

from __future__ import annotations

import pytest
from django.utils import translation

from core.durations import in_words


@pytest.mark.parametrize(
    ("seconds", "en", "zh"),
    [
        (0, "0s", "0秒"),
        (59, "59s", "59秒"),
        (60, "1m 0s", "1分0秒"),
        (3599, "59m 59s", "59分59秒"),
        (3600, "1h 0m", "1小时0分"),
        (37920, "10h 32m", "10小时32分"),
        (86399, "23h 59m", "23小时59分"),
        (86400, "1d 0h", "1天0小时"),
        (3 * 86400 + 7 * 3600 + 59, "3d 7h", "3天7小时"),
    ],
)
def test_a_span_is_written_in_its_two_largest_units(seconds: int, en: str, zh: str) -> None:
    with translation.override("en"):
        assert in_words(seconds) == en
    with translation.override("zh-hans"):
        assert in_words(seconds) == zh


@pytest.mark.parametrize(("seconds", "en"), [(0, "0m"), (59, "0m"), (2700, "45m"), (3660, "1h 1m"), (90000, "1d 1h")])
def test_to_the_minute_the_minutes_are_the_smallest_unit(seconds: int, en: str) -> None:
    with translation.override("en"):
        assert in_words(seconds, to_the_second=False) == en
