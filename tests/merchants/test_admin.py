from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client
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
