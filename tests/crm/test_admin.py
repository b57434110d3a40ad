from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Consumer, Order
from merchants.models import Merchant


@pytest.fixture
def consumer(db: None) -> Consumer:
    return Consumer.objects.create(
        external_id="C1", display_name="王小明", phone="13912345678", registered_at=timezone.now()
    )


def make_orders(consumer: Consumer, n: int) -> None:
    merchant = Merchant.objects.create(code="M1", name="优品数码旗舰店", category="数码", opened_at=timezone.now())
    Order.objects.bulk_create(
        Order(
            order_no=f"O{i}",
            consumer=consumer,
            merchant=merchant,
            item_title="无线蓝牙耳机",
            amount=Decimal("99.00"),
            placed_at=timezone.now(),
        )
        for i in range(n)
    )


def test_agent_sees_a_masked_phone_in_list_and_page(
    agent: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)
    listing = client.get("/admin/crm/consumer/").content.decode()
    page = client.get(f"/admin/crm/consumer/{consumer.pk}/change/").content.decode()
    for html in (listing, page):
        assert "139****5678" in html
        assert "13912345678" not in html


def test_supervisor_sees_the_phone_masked_until_revealed(
    supervisor: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    # The whole number is one logged click away (tests/crm/test_consumer_page.py).
    page = client_for(supervisor).get(f"/admin/crm/consumer/{consumer.pk}/change/").content.decode()
    assert "139****5678" in page and "13912345678" not in page


def test_agent_cannot_change_a_consumer(agent: User, consumer: Consumer, client_for: Callable[[User], Client]) -> None:
    response = client_for(agent).post(
        f"/admin/crm/consumer/{consumer.pk}/change/",
        {"external_id": "C1", "display_name": "改名", "registered_at_0": "2026-01-01", "registered_at_1": "10:00"},
    )
    assert response.status_code == 403
    consumer.refresh_from_db()
    assert consumer.display_name == "王小明"


def test_business_and_merchant_staff_see_no_consumer(
    make_user: Callable[..., User], consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    business = client_for(make_user("business-user", "business"))
    assert business.get("/admin/crm/consumer/").status_code == 403
    assert business.get("/admin/crm/order/").status_code == 403
    # Merchant staff see orders, scoped to their merchant (tests/merchants/test_tenancy.py), never consumers.
    assert client_for(make_user("shop-user", "merchant_staff")).get("/admin/crm/consumer/").status_code == 403


def test_order_changelist_costs_the_same_queries_whatever_the_page_holds(
    supervisor: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    make_orders(consumer, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/admin/crm/order/").status_code == 200
    Order.objects.bulk_create(
        Order(
            order_no=f"P{i}",
            consumer=consumer,
            merchant_id=Order.objects.first().merchant_id,  # type: ignore[union-attr]
            item_title="机械键盘",
            amount=Decimal("199.00"),
            placed_at=timezone.now(),
        )
        for i in range(60)
    )
    with CaptureQueriesContext(connection) as many:
        assert client.get("/admin/crm/order/").status_code == 200
    # session, user, tenancy role check, count, page, plus the filters' lookups: the same for 3 rows or 63
    assert len(few) == len(many) == 7


def test_agent_cannot_filter_consumers_by_phone(
    agent: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)
    for lookup in ("phone__startswith=139", "phone=13912345678", "phone__regex=^139", "id_number__startswith=1"):
        response = client.get(f"/admin/crm/consumer/?{lookup}")
        # The admin answers a disallowed lookup with 400 Bad Request and lists nothing.
        assert response.status_code == 400, lookup
        assert "13912345678" not in response.content.decode()


def test_supervisor_can_filter_consumers_by_phone(
    supervisor: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    Consumer.objects.create(external_id="C2", display_name="李四", phone="13612345678", registered_at=timezone.now())
    response = client_for(supervisor).get("/admin/crm/consumer/?phone__startswith=139")
    html = response.content.decode()
    assert response.status_code == 200 and "王小明" in html and "李四" not in html
    assert "139****5678" in html and "13912345678" not in html  # listed masked, for supervisors too


def test_consumer_page_tells_the_whole_story(agent: User, client_for: Callable[[User], Client]) -> None:
    from crm.rating import rate_consumers
    from tests.crm import factories as f

    who = f.consumer("STORY", phone="13912345678", id_number="110105199001011234")
    shop = f.merchant(name="星河数码旗舰店")
    f.review(f.order(who, shop, status="completed"), (1, 1, 1), "质量太差了，退款！")
    rate_consumers()
    html = client_for(agent).get(f"/admin/crm/consumer/{who.pk}/change/").content.decode()
    for expected in ("rating-breakdown", "星河数码旗舰店", "质量太差了，退款！", "139****5678", "110***********1234"):
        assert expected in html, expected
    assert "13912345678" not in html and "110105199001011234" not in html


def test_consumers_are_found_by_masked_phone(
    agent: User, consumer: Consumer, client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)
    found = client.get("/admin/crm/consumer/", {"q": "139****5678"}).content.decode()
    missed = client.get("/admin/crm/consumer/", {"q": "139****0000"}).content.decode()
    assert f"/admin/crm/consumer/{consumer.pk}/change/" in found
    assert f"/admin/crm/consumer/{consumer.pk}/change/" not in missed


def test_phone_numbers_typed_into_reviews_are_masked_for_agents(
    agent: User, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    from tests.crm import factories as f

    who = f.consumer()
    review = f.review(f.order(who, f.merchant()), (1, 1, 1), "不退款就打我电话13912345678")
    for url in (
        "/admin/crm/review/",
        f"/admin/crm/review/{review.pk}/change/",
        f"/admin/crm/consumer/{who.pk}/change/",
    ):
        agent_html = client_for(agent).get(url).content.decode()
        assert "139****5678" in agent_html and "13912345678" not in agent_html, url
        assert "13912345678" in client_for(supervisor).get(url).content.decode(), url


def test_orders_and_reviews_cannot_be_edited_around_the_services(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    from tests.crm import factories as f

    order = f.order(f.consumer(), f.merchant(), "100.00")
    client = client_for(supervisor)
    client.post(f"/admin/crm/order/{order.pk}/change/", {"refunded_amount": "100.00", "status": "refunded"})
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (0, "paid")


def make_stories(n: int, reviewer: User) -> None:
    """n consumers, each in their own tier with an order at their own shop, a review, a rating and a flag."""
    from crm.models import CreditRating, CreditTier, RiskFlag
    from tests.crm import factories as f

    for _ in range(n):
        k = CreditTier.objects.count()
        tier = CreditTier.objects.create(name=f"T{k}", min_score=900 + k)  # above the seeded tiers
        who = f.consumer(tier=tier, credit_score=500, phone="13912345678")
        f.review(f.order(who, f.merchant()), (1, 1, 1), "差评")
        CreditRating.objects.create(consumer=who, score=500, tier=tier, contributions={}, computed_at=timezone.now())
        RiskFlag.objects.create(
            consumer=who, kind="extortion", status="cleared", detected_at=timezone.now(), reviewed_by=reviewer
        )


@pytest.mark.parametrize("model", ["consumer", "order", "review", "riskflag", "creditrating", "credittier"])
def test_every_crm_changelist_costs_the_same_queries_for_one_row_or_many(
    model: str, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    make_stories(1, supervisor)
    with CaptureQueriesContext(connection) as one:
        first = client.get(f"/admin/crm/{model}/")
    make_stories(7, supervisor)
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/admin/crm/{model}/")
    assert (first.status_code, response.status_code) == (200, 200)
    assert response.context["cl"].result_count == first.context["cl"].result_count + 7
    assert len(one) == len(many), [q["sql"] for q in many.captured_queries]


TIER_FORM = {"name": "钻石会员", "min_score": "800", "instant_refund_limit": "8000.00", "description": ""}


def test_agent_cannot_add_or_change_credit_tiers(agent: User, client_for: Callable[[User], Client]) -> None:
    from crm.models import CreditTier

    client = client_for(agent)
    tier = CreditTier.objects.get(name="88VIP")
    assert client.post("/admin/crm/credittier/add/", TIER_FORM).status_code == 403
    assert client.post(f"/admin/crm/credittier/{tier.pk}/change/", TIER_FORM).status_code == 403
    assert not CreditTier.objects.filter(name="钻石会员").exists()
    tier.refresh_from_db()
    assert tier.min_score == 720


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_score", "1001"), ("min_score", "720"), ("instant_refund_limit", "-1"), ("name", "")],
)
def test_a_bad_credit_tier_is_refused_naming_the_field(
    field: str, value: str, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    from crm.models import CreditTier

    before = CreditTier.objects.count()
    response = client_for(supervisor).post("/admin/crm/credittier/add/", {**TIER_FORM, field: value})
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    assert CreditTier.objects.count() == before


def test_a_consumers_page_costs_the_same_queries_for_one_order_or_many(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    from crm.models import RiskFlag
    from crm.rating import rate_consumers
    from tests.crm import factories as f

    who = f.consumer()
    client = client_for(supervisor)
    url = f"/admin/crm/consumer/{who.pk}/change/"

    def add_story() -> None:  # each at its own shop, so a per-row merchant lookup would show
        f.review(f.order(who, f.merchant()), (1, 1, 1), "差评")

    add_story()
    RiskFlag.objects.create(consumer=who, kind="extortion", detected_at=timezone.now())
    rate_consumers()
    assert client.get(url).status_code == 200  # warms the content-type cache, which the admin fills on first use
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for _ in range(6):
        add_story()
    RiskFlag.objects.create(consumer=who, kind="duplicate_text", detected_at=timezone.now())
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()
    assert html.count('<tr class="negative">') == 7
    assert len(one) == len(many), [q["sql"] for q in many.captured_queries]
