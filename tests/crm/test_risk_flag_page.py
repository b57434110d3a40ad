"""The risk flag's page: the reviews behind it (text masked, order, local date) instead of raw ids and timestamps,
and confirm / clear buttons for supervisors that record who and when; a cleared flag stops counting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from crm.models import Consumer, CreditRating, Review, RiskFlag
from crm.rating import rate_consumers
from tests.crm import factories as f

UTC_NIGHT = datetime(2026, 12, 6, 20, 30, tzinfo=ZoneInfo("UTC"))  # 04:30 the next day in Shanghai
QUERIES_OF_THE_FLAG_PAGE = 8  # the whole change page, measured; the reviews, orders and shops are one of them


@pytest.fixture
def flag(db: None) -> RiskFlag:
    who = f.consumer("FLAGGED", display_name="赵六")
    bought = f.order(who, f.merchant(name="星河数码旗舰店"))
    review = f.review(bought, (1, 1, 1),
                      "差评！不退款就打13800138000投诉", created_at=UTC_NIGHT)  # fmt: skip
    return RiskFlag.objects.create(
        consumer=who, kind="negative_burst", detected_at=timezone.now(),
        evidence={"reviews": 1, "shops": 1, "window_start": UTC_NIGHT.isoformat(), "window_days": 7,
                  "review_ids": [review.pk]},
    )  # fmt: skip


def page(client: Client, flag: RiskFlag) -> str:
    response = client.get(f"/admin/crm/riskflag/{flag.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_flag_page_shows_the_reviews_masked_with_order_and_local_dates(
    supervisor: User, flag: RiskFlag, client_for: Callable[[User], Client]
) -> None:
    html = page(client_for(supervisor), flag)
    assert "差评！不退款就打138****8000投诉" in html and "13800138000" not in html
    assert Review.objects.get().order.order_no in html and "星河数码旗舰店" in html
    assert "2026-12-07 04:30" in html  # the window start and the review's date, in Asia/Shanghai
    assert UTC_NIGHT.isoformat() not in html


def test_supervisor_confirms_then_clears_and_the_rating_follows(
    supervisor: User, flag: RiskFlag, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    assert page(client, flag).count('name="status" value=') == 2
    response = client.post(f"/admin/crm/riskflag/{flag.pk}/review/", {"status": "confirmed", "note": "核实"})
    assert response.status_code == 302 and response["Location"] == f"/admin/crm/riskflag/{flag.pk}/change/"
    flag.refresh_from_db()
    assert (flag.status, flag.reviewed_by, flag.note) == ("confirmed", supervisor, "核实")
    assert flag.reviewed_at is not None and (timezone.now() - flag.reviewed_at).total_seconds() < 60
    rate_consumers()
    confirmed = CreditRating.objects.get(consumer=flag.consumer)
    assert confirmed.contributions["confirmed_risk_flags"][1] == -300
    client.post(f"/admin/crm/riskflag/{flag.pk}/review/", {"status": "cleared"})
    flag.refresh_from_db()
    assert flag.status == "cleared"
    rate_consumers()
    cleared = CreditRating.objects.get(consumer=flag.consumer)
    assert cleared.contributions["confirmed_risk_flags"][1] == 0
    assert cleared.contributions["open_risk_flags"][1] == 0
    assert cleared.score == confirmed.score + 300
    assert page(client, flag).count('name="status" value=') == 0


def test_agent_sees_no_buttons_and_a_forged_verdict_is_refused(
    agent: User, flag: RiskFlag, client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)
    assert 'name="status" value=' not in page(client, flag)
    assert client.post(f"/admin/crm/riskflag/{flag.pk}/review/", {"status": "cleared"}).status_code == 403
    flag.refresh_from_db()
    assert (flag.status, flag.reviewed_by, flag.reviewed_at) == ("open", None, None)


def test_unknown_or_impossible_verdicts_change_nothing(
    supervisor: User, flag: RiskFlag, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    for status in ("bogus", "", "open"):
        response = client.post(f"/admin/crm/riskflag/{flag.pk}/review/", {"status": status}, follow=True)
        assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert client.get(f"/admin/crm/riskflag/{flag.pk}/review/").status_code == 405
    assert client.post("/admin/crm/riskflag/999999/review/", {"status": "cleared"}).status_code == 404
    flag.refresh_from_db()
    assert (flag.status, flag.reviewed_by) == ("open", None)
    assert Consumer.objects.count() == 1


def _flag_with_reviews(n: int) -> RiskFlag:
    who = f.consumer(f"BURST-{n}", display_name="钱七")
    reviews = [
        f.review(f.order(who, f.merchant(name=f"店铺{k}")), (1, 1, 1), f"差评{k}", created_at=UTC_NIGHT)
        for k in range(n)
    ]
    return RiskFlag.objects.create(
        consumer=who, kind="negative_burst", detected_at=timezone.now(),
        evidence={"reviews": n, "shops": n, "window_start": UTC_NIGHT.isoformat(), "window_days": 7,
                  "review_ids": [r.pk for r in reviews]},
    )  # fmt: skip


@pytest.mark.django_db
def test_the_review_table_costs_the_same_queries_for_one_review_and_for_six(
    supervisor: User, client_for: Callable[[User], Client], django_assert_num_queries: Any
) -> None:
    client = client_for(supervisor)
    one, six = _flag_with_reviews(1), _flag_with_reviews(6)
    page(client, one)  # the session and the permission caches warmed, as on any page after the first
    with django_assert_num_queries(QUERIES_OF_THE_FLAG_PAGE):
        html = page(client, one)
    assert html.count("差评0") == 1
    with django_assert_num_queries(QUERIES_OF_THE_FLAG_PAGE):
        html = page(client, six)
    assert [html.count(f"差评{k}") for k in range(6)] == [1] * 6 and html.count("<td>1/1/1</td>") == 6
