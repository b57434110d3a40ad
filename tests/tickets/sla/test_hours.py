"""Business-hours arithmetic (``tickets.sla``): adding and counting business minutes, the timetable, the settings.

Business hours are the defaults (09:00-21:00, every day) unless a test overrides them.
"""

from __future__ import annotations

import time as pytime
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from tests.tickets.sla.support import (
    FRI,
    MON,
    MON_DATE,
    NEXT_MON,
    SAT,
    SH,
    SUN,
    THU,
    TUE,
    WED,
    S,
    at,
)
from tickets import sla

# --- add_business_minutes ---------------------------------------------------------------------------


def test_adding_inside_business_hours_stays_on_the_same_day() -> None:
    assert sla.add_business_minutes(at(MON, 10), 90) == at(MON, 11, 30)
    assert sla.add_business_minutes(at(MON, 10), 660) == at(MON, 21)  # runs out exactly at the close


def test_minutes_left_at_the_evening_close_carry_over_to_the_next_morning() -> None:
    assert sla.add_business_minutes(at(MON, 20, 30), 60) == at(TUE, 9, 30)
    assert sla.add_business_minutes(at(MON, 21), 1) == at(TUE, 9, 1)


def test_counting_from_the_night_begins_at_the_next_opening() -> None:
    assert sla.add_business_minutes(at(MON, 23), 30) == at(TUE, 9, 30)
    assert sla.add_business_minutes(at(TUE, 3), 30) == at(TUE, 9, 30)
    assert sla.add_business_minutes(at(TUE, 8, 59), 1) == at(TUE, 9, 1)


def test_closed_weekdays_are_skipped(settings: Any) -> None:
    settings.SUPPORT_WEEKDAYS = "0-4"
    assert sla.add_business_minutes(at(SAT, 10), 60) == at(NEXT_MON, 10)
    assert sla.add_business_minutes(at(SUN, 23), 60) == at(NEXT_MON, 10)
    assert sla.add_business_minutes(at(FRI, 20), 120) == at(NEXT_MON, 10)


def test_a_target_of_several_days() -> None:
    # Monday 10:00-21:00 is 660, Tuesday and Wednesday 720 each: 2,100; 90 more on Thursday.
    assert sla.add_business_minutes(at(MON, 10), 2190) == at(THU, 10, 30)


def test_a_target_of_several_days_over_a_weekend(settings: Any) -> None:
    settings.SUPPORT_WEEKDAYS = "0-4"
    assert sla.add_business_minutes(at(FRI, 10), 2190) == datetime(2025, 6, 11, 10, 30, tzinfo=SH)


def test_zero_minutes_is_the_start_itself_even_at_night() -> None:
    assert sla.add_business_minutes(at(MON, 10), 0) == at(MON, 10)
    assert sla.add_business_minutes(at(MON, 23), 0) == at(MON, 23)


def test_an_end_of_24_00_is_midnight(settings: Any) -> None:
    settings.SUPPORT_HOURS = "08:00-24:00"
    assert sla.add_business_minutes(at(MON, 23), 60) == at(TUE, 0)
    assert sla.add_business_minutes(at(MON, 23, 30), 60) == at(TUE, 8, 30)
    assert sla.business_minutes_between(at(MON, 23), at(TUE, 9)) == 120


def test_any_zone_in_local_time_out() -> None:
    due = sla.add_business_minutes(datetime(2025, 6, 2, 2, 0, tzinfo=ZoneInfo("UTC")), 60)  # 10:00 in Shanghai
    assert due == at(MON, 11)
    assert due.utcoffset() == timedelta(hours=8)


def test_naive_datetimes_and_negative_minutes_are_refused() -> None:
    with translation.override("en"):
        with pytest.raises(ValueError, match="timezone-aware"):
            sla.add_business_minutes(datetime(2025, 6, 2, 10), 10)
        with pytest.raises(ValueError, match="negative"):
            sla.add_business_minutes(at(MON, 10), -1)


# --- business_minutes_between -----------------------------------------------------------------------


def test_business_minutes_on_one_day() -> None:
    assert sla.business_minutes_between(at(MON, 10), at(MON, 12, 15)) == 135
    assert sla.business_minutes_between(at(MON, 8), at(MON, 9, 30)) == 30
    assert sla.business_minutes_between(at(MON, 20, 59) + timedelta(seconds=30), at(MON, 21)) == 0.5


def test_business_minutes_across_nights() -> None:
    assert sla.business_minutes_between(at(MON, 20), at(TUE, 10)) == 120
    assert sla.business_minutes_between(at(MON, 22), at(TUE, 8)) == 0
    assert sla.business_minutes_between(at(MON, 10), at(THU, 10, 30)) == 2190


def test_business_minutes_across_a_weekend(settings: Any) -> None:
    assert sla.business_minutes_between(at(FRI, 20), at(NEXT_MON, 10)) == 60 + 720 + 720 + 60
    settings.SUPPORT_WEEKDAYS = "0-4"
    assert sla.business_minutes_between(at(FRI, 20), at(NEXT_MON, 10)) == 120
    assert sla.business_minutes_between(at(SAT, 10), at(SUN, 20)) == 0


def test_no_business_minutes_backwards() -> None:
    assert sla.business_minutes_between(at(MON, 12), at(MON, 10)) == 0
    assert sla.business_minutes_between(at(MON, 12), at(MON, 12)) == 0


@pytest.mark.parametrize("hours", ["09:00-21:00", "08:30-24:00", "00:00-24:00"])
@pytest.mark.parametrize("weekdays", ["0-6", "0-4", "0,2,4", "6"])
def test_counting_back_what_was_added_gives_the_same_minutes(settings: Any, hours: str, weekdays: str) -> None:
    settings.SUPPORT_HOURS, settings.SUPPORT_WEEKDAYS = hours, weekdays
    starts = [at(MON, 0) + timedelta(minutes=m) for m in range(0, 7 * 24 * 60, 97)]  # in and out of hours
    for start in starts:
        previous = start
        for minutes in (0, 1, 29, 30, 61, 719, 720, 721, 1441, 5000, 20000):
            due = sla.add_business_minutes(start, minutes)
            assert sla.business_minutes_between(start, due) == minutes, (start, minutes)
            assert due >= previous
            previous = due


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUPPORT_HOURS", "9-21"),
        ("SUPPORT_HOURS", "21:00-09:00"),
        ("SUPPORT_HOURS", "09:00-09:00"),
        ("SUPPORT_HOURS", "09:00-25:00"),
        ("SUPPORT_HOURS", "09:00-24:30"),
        ("SUPPORT_HOURS", "09:60-21:00"),
        ("SUPPORT_HOURS", "09:00-21:60"),
        ("SUPPORT_HOURS", ""),
        ("SUPPORT_WEEKDAYS", "0-7"),
        ("SUPPORT_WEEKDAYS", "4-1"),
        ("SUPPORT_WEEKDAYS", "mon-fri"),
        ("SUPPORT_WEEKDAYS", "1,,2"),
        ("SUPPORT_WEEKDAYS", ""),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(settings: Any, name: str, value: str) -> None:
    setattr(settings, name, value)
    with pytest.raises(ValueError, match=name):
        sla.add_business_minutes(at(MON, 10), 10)
    with pytest.raises(ValueError, match=name):
        sla.business_minutes_between(at(MON, 10), at(MON, 11))


def test_weekday_lists_and_ranges_combine(settings: Any) -> None:
    settings.SUPPORT_WEEKDAYS = " 0-1, 3 ,6"
    assert sla.business_hours().weekdays == {0, 1, 3, 6}


# --- the timetable: the same business time, worked out once ------------------------------------------


@pytest.mark.parametrize(
    ("hours", "weekdays"), [("09:00-21:00", "0-6"), ("08:30-24:00", "0-4"), ("10:00-18:00", "1,3")]
)
def test_a_timetable_gives_what_the_business_hours_give(settings: Any, hours: str, weekdays: str) -> None:
    settings.SUPPORT_HOURS, settings.SUPPORT_WEEKDAYS = hours, weekdays
    business = sla.business_hours()
    table = sla.Timetable(business, at(MON, 0).date(), at(MON, 0).date() + timedelta(days=13))
    starts = [at(MON, 0) + timedelta(minutes=m) for m in range(0, 9 * 24 * 60, 173)]
    for start in starts:
        for minutes in (0, 1, 15, 60, 240, 720, 1440, 2880, 20000):  # the last runs past the table
            amount = timedelta(minutes=minutes)
            assert table.add(start, amount) == business.add(start, amount), (start, minutes)
        for end in (start + timedelta(minutes=m) for m in (-60, 0, 1, 59, 600, 1500, 6000, 30000)):
            assert table.between(start, end) == business.between(start, end), (start, end)
    before = at(MON, 0) - timedelta(days=2)  # before the table: asked of the hours
    assert table.add(before, timedelta(minutes=30)) == business.add(before, timedelta(minutes=30))
    assert table.between(before, at(TUE, 12)) == business.between(before, at(TUE, 12))


def test_a_timetable_counts_from_its_first_opening() -> None:
    table = sla.Timetable(sla.business_hours(), at(MON, 0).date(), at(WED, 0).date())
    assert table.business(at(MON, 9)) == timedelta(0)
    assert table.business(at(MON, 22)) == timedelta(hours=12)
    assert table.business(at(TUE, 10)) == timedelta(hours=13)
    assert table.instant(timedelta(hours=12)) == at(MON, 21)  # a closing, not the next opening
    assert table.instant(timedelta(hours=12, minutes=1)) == at(TUE, 9, 1)
    with pytest.raises(ValueError):
        table.business(at(MON, 8))


# --- the settings, read exactly ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "opens", "closes"),
    [
        ("23:00-24:00", time(23), None),
        ("00:00-23:59", time(0), time(23, 59)),
        ("08:59-21:00", time(8, 59), time(21)),
        (" 8:05 - 9:06 ", time(8, 5), time(9, 6)),
    ],
)
def test_the_widest_and_narrowest_hours_are_read_exactly(settings: Any, hours: str, opens: time, closes: time) -> None:
    settings.SUPPORT_HOURS, settings.SUPPORT_WEEKDAYS = hours, "0-6"
    assert sla.business_hours() == sla.BusinessHours(opens, closes, frozenset(range(7)), SH)


@pytest.mark.parametrize(("weekdays", "days"), [("6", {6}), ("0-6", set(range(7))), ("2-2,5", {2, 5}), ("0", {0})])
def test_weekdays_are_read_exactly(settings: Any, weekdays: str, days: set[int]) -> None:
    settings.SUPPORT_WEEKDAYS = weekdays
    assert sla.business_hours().weekdays == days


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SUPPORT_HOURS", "9-21",
         "SUPPORT_HOURS must look like “09:00-21:00” (an end of 24:00 is midnight), not “9-21”."),
        ("SUPPORT_HOURS", "24:00-24:00",
         "SUPPORT_HOURS must look like “09:00-21:00” (an end of 24:00 is midnight), not “24:00-24:00”."),
        ("SUPPORT_HOURS", "21:00-09:00",
         "SUPPORT_HOURS must open before it closes on the same day, not “21:00-09:00”."),
        ("SUPPORT_WEEKDAYS", "0-7",
         "SUPPORT_WEEKDAYS must list days 0 (Monday) to 6 and ranges such as “0-4,6”, not “0-7”."),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_in_so_many_words(settings: Any, name: str, value: str, message: str) -> None:
    setattr(settings, name, value)
    with translation.override("en"), pytest.raises(ValueError) as error:
        sla.business_hours()
    assert str(error.value) == message


def test_naive_datetimes_and_negative_minutes_are_refused_in_so_many_words() -> None:
    hours = sla.business_hours()
    with translation.override("en"):
        for call in (lambda: hours.add(datetime(2025, 6, 2, 10), timedelta(1)),
                     lambda: hours.between(at(MON, 10), datetime(2025, 6, 2, 11))):  # fmt: skip
            with pytest.raises(ValueError) as naive:
                call()
            assert str(naive.value) == "SLA arithmetic needs timezone-aware datetimes."
        with pytest.raises(ValueError) as negative:
            hours.add(at(MON, 10), timedelta(minutes=-1))
        assert str(negative.value) == "Cannot add a negative number of business minutes."


def test_the_default_hours_are_nine_to_nine_every_day(settings: Any) -> None:
    del settings.SUPPORT_HOURS, settings.SUPPORT_WEEKDAYS
    assert sla.business_hours() == sla.BusinessHours(time(9), time(21), frozenset(range(7)), SH)


def test_a_started_clock_carries_its_dues_and_its_policy_s_targets() -> None:
    hours = sla.business_hours()
    assert sla.started(hours, at(MON, 10), 60, 480) == sla.Clock(at(MON, 11), at(MON, 18), None, None, 60, 480)
    long = sla.started(hours, at(MON, 10), 60, 5000)  # at risk with 1,000 business minutes left
    answered = sla.Clock(long.first_response_due, long.resolution_due, at(MON, 10, 5), None, 60, 5000)
    assert sla.state(hours, answered, at(WED, 9)) == S.OK
    assert sla.state(hours, replace(answered, first_response_minutes=None), at(MON, 10, 31)) == S.OK
    first = sla.started(hours, at(MON, 10), 1000, 5000)  # the first response is at risk 200 minutes before
    assert sla.state(hours, first, at(TUE, 11, 20)) == S.AT_RISK


def test_the_business_time_between_needs_aware_instants_at_both_ends() -> None:
    hours = sla.business_hours()
    for a, b in ((datetime(2025, 6, 2, 10), at(MON, 11)), (at(MON, 10), datetime(2025, 6, 2, 11))):
        with pytest.raises(ValueError):
            hours.between(a, b)


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12", "UTC"])  # UTC+14, UTC-12
def test_business_time_does_not_depend_on_the_machine_s_zone(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("TZ", zone)
    pytime.tzset()
    try:
        hours = sla.business_hours()
        assert hours.between(at(MON, 20), at(TUE, 10)) == timedelta(minutes=120)
        due = hours.add(at(MON, 20), timedelta(minutes=120))
        assert (due, due.utcoffset()) == (at(TUE, 10), timedelta(hours=8))
        assert hours.window(MON_DATE) == (datetime(2025, 6, 2, 1, tzinfo=UTC), datetime(2025, 6, 2, 13, tzinfo=UTC))
    finally:
        monkeypatch.undo()
        pytime.tzset()
