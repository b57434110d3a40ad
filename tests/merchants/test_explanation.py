"""Why a shop's score is what it is: chat figures from its own chats, points that add up to the score, the
marketplace medians, the changes that would raise it most; the scorecard page and the API, per shop."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from chat.models import ChatSession
from crm.models import Consumer
from merchants.explanation import explain, figures_of
from merchants.models import Merchant, MerchantMembership, MerchantScore
from merchants.scoring import points, score_merchants
from merchants.selectors import day_medians
from tests.crm import factories as f
from tickets.models import Department, Ticket

DAY = date(2026, 6, 1)
EN = {"accept-language": "en"}
pytestmark = pytest.mark.django_db


def at(days_before: int, seconds: int = 0) -> datetime:
    noon = datetime.combine(DAY - timedelta(days=days_before), time(12), tzinfo=timezone.get_current_timezone())
    return noon + timedelta(seconds=seconds)


def chat(shop: Merchant | None, who: Consumer, *, days_before: int = 3, queued: bool = True,
         answered_after: int | None = None, ended: bool = True, status: str = "resolved") -> ChatSession:  # fmt: skip
    department, _ = Department.objects.get_or_create(code="after-sales", defaults={"name": "售后"})
    start = at(days_before)
    order = f.order(who, shop, placed_at=start) if shop is not None else None
    ticket = Ticket.objects.create(
        subject="chat", channel="chat", status=status, department=department, consumer=who, order=order,
        merchant=shop, created_at=start, updated_at=start,
    )  # fmt: skip
    return ChatSession.objects.create(
        ticket=ticket, consumer=who, created_at=start, last_activity_at=start,
        state="ended" if ended else ("active" if answered_after is not None else "waiting"),
        queued_at=start + timedelta(seconds=10) if queued else None,
        answered_at=start + timedelta(seconds=10 + answered_after) if answered_after is not None else None,
        ended_at=start + timedelta(hours=1) if ended else None,
    )  # fmt: skip


def score(shop: Merchant, service_score: str, **fields: Any) -> MerchantScore:
    values: dict[str, Any] = {
        "reviews": 40, "dsr_item": Decimal("4.700"), "dsr_service": Decimal("4.700"),
        "dsr_logistics": Decimal("4.600"), "orders": 100, "dispute_rate": Decimal("0.01000"),
        "refund_hours": Decimal("12.00"), "chats": 10, "chat_response_seconds": 60,
        "chat_resolution_rate": Decimal("0.9000"), "service_score": Decimal(service_score),
        "traffic_weight": Decimal("0.5") + Decimal(service_score) / 100, **fields,
    }  # fmt: skip
    return MerchantScore.objects.create(merchant=shop, day=DAY, **values)


# --- the chat components, from the shop's own chats --------------------------------------------------


def test_chat_figures_come_from_the_shops_own_chats_that_reached_a_person() -> None:
    shop, other = f.merchant("SHOP"), f.merchant("OTHER")
    who = f.consumer()
    chat(shop, who, answered_after=60)  # answered in a minute, resolved
    chat(shop, f.consumer(), answered_after=400, status="open")  # slow (counted 300 s), not resolved
    chat(shop, f.consumer(), status="closed")  # ended unanswered: 300 s; closed counts as resolved
    chat(shop, f.consumer(), ended=False)  # still waiting: a chat, but neither answered nor ended yet
    chat(shop, f.consumer(), queued=False)  # the bot alone: never reached a person
    chat(shop, f.consumer(), days_before=200, answered_after=1)  # outside the window
    chat(other, f.consumer(), answered_after=5)  # another shop's
    chat(None, f.consumer(), answered_after=5)  # about no order

    score_merchants(DAY)

    s = MerchantScore.objects.get(merchant=shop, day=DAY)
    assert (s.chats, s.chat_response_seconds, s.chat_resolution_rate) == (4, 220, Decimal("0.6667"))
    # the chats' orders, no reviews: prior DSR 3 x 13.88, no disputes 25, no refunds 15,
    # chat answers 10 x (300 - 220) / 300 = 2.67, resolved 5 x 0.6667 = 3.33
    assert s.service_score == Decimal("41.64") + 25 + 15 + Decimal("2.67") + Decimal("3.33")
    o = MerchantScore.objects.get(merchant=other, day=DAY)
    assert (o.chats, o.chat_response_seconds, o.chat_resolution_rate) == (1, 5, Decimal("1.0000"))


def test_the_points_add_up_to_the_stored_score_for_every_shop() -> None:
    rng = random.Random(12)
    shops = [f.merchant(f"R{i}") for i in range(12)]
    for shop in shops[:-1]:  # the last one has no data at all
        for _ in range(rng.randint(0, 12)):
            o = f.order(f.consumer(), shop, placed_at=at(rng.randint(1, 170)),
                        dispute=rng.choice(["", "", "", "open", "consumer_won"]))  # fmt: skip
            if rng.random() < 0.6:
                f.review(o, (rng.randint(1, 5), rng.randint(1, 5), rng.randint(1, 5)), created_at=at(rng.randint(0, 9)))
            if rng.random() < 0.3:
                o.refund_requested_at = at(rng.randint(10, 20))
                o.refunded_at = o.refund_requested_at + timedelta(minutes=rng.randint(1, 6000))
                o.save()
        for _ in range(rng.randint(0, 4)):
            chat(shop, f.consumer(), answered_after=rng.choice([None, rng.randint(0, 500)]),
                 status=rng.choice(["resolved", "open"]))  # fmt: skip

    assert score_merchants(DAY) == 12

    for s in MerchantScore.objects.filter(day=DAY):
        assert sum(points(figures_of(s)).values()) == s.service_score, s.merchant_id


# --- the explanation: components, medians, the changes that raise it most ------------------------------


@pytest.fixture
def scored() -> dict[str, Merchant]:
    """Three shops on DAY; A's figures are behind or at the median in every component."""
    a, b, c = f.merchant("M-A"), f.merchant("M-B"), f.merchant("M-C")
    # A: 13.13 + 14.25 + 12.00 + 15.00 + 8.75 + 6.00 + 4.00 = 73.13
    score(a, "73.13", dsr_item=Decimal("4.500"), dsr_service=Decimal("4.800"), dsr_logistics=Decimal("4.200"),
          dispute_rate=Decimal("0.02000"), refund_hours=Decimal("30.00"), chat_response_seconds=120,
          chat_resolution_rate=Decimal("0.8000"))  # fmt: skip
    score(b, "80.00")
    score(c, "60.00", dsr_item=Decimal("4.900"), dsr_service=Decimal("4.600"), dsr_logistics=Decimal("4.700"),
          dispute_rate=Decimal("0.03000"), refund_hours=Decimal("48.00"), chat_response_seconds=200,
          chat_resolution_rate=Decimal("0.7000"))  # fmt: skip
    score(f.merchant("M-D"), "50.00", orders=0, dispute_rate=Decimal("0"), refund_hours=None, chats=0,
          chat_response_seconds=None, chat_resolution_rate=None)  # fmt: skip
    return {"A": a, "B": b, "C": c}


def test_the_explanation_gives_each_components_points_against_the_median(scored: dict[str, Merchant]) -> None:
    x = explain(MerchantScore.objects.get(merchant=scored["A"]), day_medians(DAY))

    rows = [(c.code, c.value, c.points, c.median, c.median_points) for c in x.components]
    assert rows == [
        ("dsr_item", Decimal("4.500"), Decimal("13.13"), Decimal("4.700"), Decimal("13.88")),
        ("dsr_service", Decimal("4.800"), Decimal("14.25"), Decimal("4.700"), Decimal("13.88")),
        ("dsr_logistics", Decimal("4.200"), Decimal("12.00"), Decimal("4.600"), Decimal("13.50")),
        # the shop without orders is left out of the disputes' median (else its 0 would pull it down)
        ("dispute_rate", Decimal("0.02000"), Decimal("15.00"), Decimal("0.02000"), Decimal("15.00")),
        # medians over the shops that have the figure (the fourth has no refunds and no chats)
        ("refund_hours", Decimal("30.00"), Decimal("8.75"), Decimal("30.00"), Decimal("8.75")),
        ("chat_response_seconds", 120, Decimal("6.00"), 120, Decimal("6.00")),
        ("chat_resolution_rate", Decimal("0.8000"), Decimal("4.00"), Decimal("0.8000"), Decimal("4.00")),
    ]
    assert sum(c.points for c in x.components) == x.service_score == Decimal("73.13")
    # the four shops' scores 50, 60, 73.13, 80: median 66.565 -> 66.57, which earns x1.166
    assert (x.traffic_weight, x.median_score, x.median_weight) == (
        Decimal("1.231"), Decimal("66.57"), Decimal("1.166"),
    )  # fmt: skip


def test_the_three_changes_that_would_raise_the_score_most_come_first(scored: dict[str, Merchant]) -> None:
    x = explain(MerchantScore.objects.get(merchant=scored["A"]), day_medians(DAY))

    found = [(i.definition.code, i.current, i.target, i.towards, i.gain) for i in x.improvements]
    # the others: chat answers one step to 90 s +1.00, item to the median 4.700 +0.75, resolved one step
    # to 90 % +0.50, service one step to 4.900 +0.38 (ahead of the median already)
    assert found == [
        ("dispute_rate", Decimal("0.02000"), Decimal("0.01000"), "step", Decimal("5.00")),
        ("refund_hours", Decimal("30.00"), Decimal("18.00"), "step", Decimal("2.50")),
        ("dsr_logistics", Decimal("4.200"), Decimal("4.600"), "median", Decimal("1.50")),
    ]
    with translation.override("en"):
        assert [i.text for i in x.improvements] == [
            "Dispute rate from 2.00% to 1.00%: +5.00 points",
            "Time to refund from 30.0 h to 18.0 h: +2.50 points",
            "DSR: logistics from 4.200 to 4.600 (the marketplace median): +1.50 points",
        ]
    with translation.override("zh-hans"):
        assert x.improvements[2].text == "DSR：物流服务：4.200 → 4.600（全站中位数）：+1.50 分"


def test_a_shop_without_data_is_offered_no_change_it_cannot_make(scored: dict[str, Merchant]) -> None:
    empty = MerchantScore.objects.get(merchant__code="M-D")

    x = explain(empty, day_medians(DAY))

    assert [c.code for c in x.components if not c.has_data] == [
        "dispute_rate", "refund_hours", "chat_response_seconds", "chat_resolution_rate",
    ]  # fmt: skip
    assert [(c.points, c.shown) for c in x.components[3:]] == [
        (Decimal("12.5"), "0.00%"), (Decimal("7.5"), "—"), (Decimal("5"), "—"), (Decimal("2.5"), "—"),
    ]  # fmt: skip
    assert {i.definition.code for i in x.improvements} <= {"dsr_item", "dsr_service", "dsr_logistics"}


def test_a_shop_at_its_best_has_nothing_to_gain() -> None:
    best = score(f.merchant("TOP"), "100.00", dsr_item=Decimal(5), dsr_service=Decimal(5), dsr_logistics=Decimal(5),
                 dispute_rate=Decimal(0), refund_hours=Decimal(0), chat_response_seconds=0,
                 chat_resolution_rate=Decimal(1))  # fmt: skip

    x = explain(best, day_medians(DAY))

    assert sum(c.points for c in x.components) == Decimal("100.00") and x.improvements == []


# --- the scorecard page ----------------------------------------------------------------------------------


def staff_of(shop: Merchant, make_user: Callable[..., User], name: str) -> User:
    user = make_user(name, "merchant_staff")
    MerchantMembership.objects.create(user=user, merchant=shop)
    return user


def test_the_scorecard_page_explains_the_score(
    scored: dict[str, Merchant], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(staff_of(scored["A"], make_user, "staff-a"))

    page = client.get(f"/admin/merchants/merchant/{scored['A'].pk}/scores/", headers=EN)

    html = page.content.decode()
    assert page.status_code == 200
    assert "Why this score" in html and "The changes that would raise it most" in html
    assert '<span class="gain">+5.00</span> Dispute rate from 2.00% to 1.00%</li>' in html
    assert "8.75 / 15" in html and "73.13 / 100" in html and "Median shop ×1.166" in html
    assert html.index("+5.00") < html.index("+2.50") < html.index("+1.50")


def test_merchant_staff_read_their_own_explanation_only(
    scored: dict[str, Merchant], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(staff_of(scored["B"], make_user, "staff-b"))

    assert client.get(f"/admin/merchants/merchant/{scored['A'].pk}/scores/").status_code == 404
    assert client.get("/api/merchants/M-A/explanation/").status_code == 404
    assert client.get(f"/admin/merchants/merchant/{scored['B'].pk}/scores/").status_code == 200
    assert client.get("/api/merchants/M-B/explanation/").json()["service_score"] == "80.00"


def test_staff_without_a_membership_and_other_roles_see_no_explanation(
    scored: dict[str, Merchant], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    loose = client_for(make_user("loose", "merchant_staff"))
    business = client_for(make_user("biz", "business"))

    assert loose.get("/api/merchants/M-A/explanation/").status_code == 404
    assert loose.get(f"/admin/merchants/merchant/{scored['A'].pk}/scores/").status_code == 404
    assert business.get("/api/merchants/M-A/explanation/").status_code == 403
    assert Client().get("/api/merchants/M-A/explanation/").status_code in (401, 403)


def test_the_scorecard_page_costs_the_same_queries_for_a_day_or_a_quarter_of_history(
    scored: dict[str, Merchant], agent: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)
    a, b = scored["A"], scored["B"]
    MerchantScore.objects.bulk_create(
        MerchantScore(**{**{k: v for k, v in MerchantScore.objects.filter(merchant=a).values()[0].items()
                            if k not in ("id", "day")}, "day": DAY - timedelta(days=n)})
        for n in range(1, 90)
    )  # fmt: skip
    client.get(f"/admin/merchants/merchant/{b.pk}/scores/")  # warm the session and content types

    counts = []
    for shop in (a, b):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/admin/merchants/merchant/{shop.pk}/scores/").status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]


# --- the API ---------------------------------------------------------------------------------------------


def test_the_explanation_api_takes_the_score_apart(
    scored: dict[str, Merchant], agent: User, client_for: Callable[[User], Client]
) -> None:
    body = client_for(agent).get("/api/merchants/M-A/explanation/", headers=EN).json()

    assert {k: body[k] for k in ("day", "service_score", "traffic_weight", "median_score", "median_weight")} == {
        "day": "2026-06-01", "service_score": "73.13", "traffic_weight": "1.231", "median_score": "66.57",
        "median_weight": "1.166",
    }  # fmt: skip
    assert body["components"][4] == {
        "code": "refund_hours", "label": "Time to refund", "value": "30.00", "shown": "30.0 h", "points": "8.75",
        "max_points": 15, "has_data": True, "median": "30.00", "median_points": "8.75",
    }  # fmt: skip
    assert body["improvements"][0] == {
        "code": "dispute_rate", "current": "0.02000", "target": "0.01000", "towards": "step", "gain": "5.00",
        "text": "Dispute rate from 2.00% to 1.00%: +5.00 points",
    }  # fmt: skip
    assert len(body["improvements"]) == 3


def test_a_merchant_without_a_score_has_no_explanation_yet(agent: User, client_for: Callable[[User], Client]) -> None:
    Merchant.objects.create(code="NEW", name="新店", category="数码", opened_at=datetime(2026, 1, 1, tzinfo=UTC))
    client = client_for(agent)

    response = client.get("/api/merchants/NEW/explanation/", headers=EN)

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found", "message": "This merchant has no score yet: scores are computed every night.",
    }  # fmt: skip
    assert client.get("/api/merchants/NOPE/explanation/").status_code == 404
    assert client.post("/api/merchants/NEW/explanation/").status_code in (403, 405)


def test_the_schema_documents_the_explanation(agent: User, client_for: Callable[[User], Client]) -> None:
    schema = client_for(agent).get("/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}).json()

    operation = schema["paths"]["/api/merchants/{code}/explanation/"]["get"]
    assert set(operation["responses"]) >= {"200", "404"}
    explanation = schema["components"]["schemas"]["Explanation"]["properties"]
    assert {"components", "improvements", "median_score", "traffic_weight"} <= set(explanation)
