from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from merchants.models import Merchant


def test_agent_can_list_merchants_but_not_change_them(agent: User, client_for: Callable[[User], Client]) -> None:
    merchant = Merchant.objects.create(code="M9", name="南山零食小铺", category="零食", opened_at=timezone.now())
    client = client_for(agent)
    assert "南山零食小铺" in client.get("/admin/merchants/merchant/").content.decode()
    response = client.post(f"/admin/merchants/merchant/{merchant.pk}/change/", {"name": "改名"})
    assert response.status_code == 403
    merchant.refresh_from_db()
    assert merchant.name == "南山零食小铺"


def test_merchant_staff_cannot_list_memberships(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(make_user("shop-staff", "merchant_staff"))
    assert client.get("/admin/merchants/merchantmembership/").status_code == 403


def _scored_merchants(n: int, make_user: Callable[..., User]) -> None:
    from decimal import Decimal

    from merchants.models import MerchantMembership, MerchantScore

    for _ in range(n):
        k = Merchant.objects.count()
        shop = Merchant.objects.create(code=f"Q{k}", name=f"店{k}", category="数码", opened_at=timezone.now())
        MerchantMembership.objects.create(user=make_user(f"staff-{k}", "merchant_staff"), merchant=shop)
        MerchantScore.objects.create(
            merchant=shop, day=timezone.localdate(), reviews=1, dsr_item=Decimal("4.5"), dsr_service=Decimal("4.5"),
            dsr_logistics=Decimal("4.5"), orders=1, dispute_rate=0, service_score=Decimal("80"),
            traffic_weight=Decimal("1.3"),
        )  # fmt: skip


@pytest.mark.parametrize("model", ["merchant", "merchantscore", "merchantmembership"])
def test_every_merchants_changelist_costs_the_same_queries_for_one_row_or_many(
    model: str, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(make_user("root", is_superuser=True))  # the one role that sees memberships
    _scored_merchants(1, make_user)
    with CaptureQueriesContext(connection) as one:
        assert client.get(f"/admin/merchants/{model}/").status_code == 200
    _scored_merchants(7, make_user)
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/admin/merchants/{model}/")
    assert response.status_code == 200 and response.context["cl"].result_count == 8
    assert len(one) == len(many), [q["sql"] for q in many.captured_queries]


def test_a_negative_instant_refund_cap_is_refused_naming_the_field(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    merchant = Merchant.objects.create(code="M8", name="北湖数码", category="数码", opened_at=timezone.now())
    form = {"code": "M8", "name": "北湖数码", "category": "数码", "city": "", "opened_at_0": "2026-01-01",
            "opened_at_1": "10:00:00", "instant_refunds": "on"}  # fmt: skip
    client = client_for(supervisor)
    response = client.post(f"/admin/merchants/merchant/{merchant.pk}/change/", {**form, "instant_refund_cap": "-1"})
    assert response.status_code == 200  # the form again, with the error
    assert list(response.context["adminform"].form.errors) == ["instant_refund_cap"]
    merchant.refresh_from_db()
    assert merchant.instant_refund_cap is None
    response = client.post(f"/admin/merchants/merchant/{merchant.pk}/change/", {**form, "instant_refund_cap": "50"})
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.instant_refund_cap == 50
