"""Ratings replayed as of a day: rows after it are unseen, windows count back from it, months in TIME_ZONE."""

from __future__ import annotations

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from crm.models import Consumer, CreditRating
from crm.tasks import nightly_rating
from tests.crm import factories as f

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def raw(who: Consumer, key: str) -> float | None:
    return CreditRating.objects.get(consumer=who).contributions[key][0]


def test_rating_as_of_a_day_sees_only_that_days_history_and_counts_windows_from_it() -> None:
    who = f.consumer("A", registered_at=local(2025, 4, 1))
    shop = f.merchant()
    f.order(who, shop, status="completed", placed_at=local(2026, 3, 10), delivered_at=local(2026, 3, 12))
    f.order(who, shop, status="completed", placed_at=local(2026, 6, 1), delivered_at=local(2026, 6, 2))
    out = StringIO()
    call_command("rate_consumers", "--as-of", "2026-03-31", "--quiet", stdout=out)

    rating = CreditRating.objects.get(consumer=who)
    assert rating.computed_at == local(2026, 4, 1)  # the midnight that ends the day, in TIME_ZONE
    assert raw(who, "orders_total") == 1
    assert raw(who, "orders_last_90d") == 1
    assert raw(who, "days_since_last_order") == 22
    assert raw(who, "account_age_days") == 365
    assert "Rated 1 consumers" in out.getvalue()


def test_months_are_counted_in_the_time_zone_not_in_utc() -> None:
    who = f.consumer("A", registered_at=local(2025, 1, 1))
    shop = f.merchant()
    # Both are in March in UTC (15:30 and 16:30 on the 31st); in Shanghai the second is on the 1st of April.
    f.order(who, shop, placed_at=local(2026, 3, 31, 23, 30))
    f.order(who, shop, placed_at=local(2026, 4, 1, 0, 30))
    call_command("rate_consumers", "--as-of", "2026-04-30", "--quiet", "--no-risk", stdout=StringIO())

    assert raw(who, "active_months_last_year") == 2


def test_the_nightly_job_rates_as_of_the_day_it_is_given() -> None:
    who = f.consumer("A", registered_at=local(2025, 1, 1))
    f.order(who, f.merchant(), placed_at=local(2026, 3, 31, 23, 59))
    outcome = nightly_rating("2026-03-31")
    later = f.consumer("B", registered_at=local(2025, 1, 1))
    f.order(later, f.merchant(), placed_at=local(2026, 4, 1, 0, 0))  # just after the day ended

    assert outcome["as_of"] == "2026-04-01T00:00:00+08:00"
    assert raw(who, "orders_total") == 1
    nightly_rating("2026-03-31")
    assert raw(later, "orders_total") == 0


def test_a_malformed_as_of_date_is_refused() -> None:
    with pytest.raises(CommandError, match="--as-of"):
        call_command("rate_consumers", "--as-of", "2026-02-30", "--quiet", stdout=StringIO())
    assert not CreditRating.objects.exists()
