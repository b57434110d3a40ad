"""Merchant tenancy: merchant staff see and touch only their own merchant's rows, on every admin page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from core import roles
from core.tenancy import TenantScopedAdmin, scope
from crm.models import Order, Review
from merchants.models import Merchant, MerchantMembership, MerchantScore
from tests.crm import factories as f

OUR_APPS = {"core", "crm", "merchants", "tickets", "chat", "qa", "radio"}
pytestmark = pytest.mark.django_db


@pytest.fixture
def two_shops() -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for key in ("a", "b"):
        shop = f.merchant(f"SHOP-{key.upper()}", name=f"店铺{key.upper()}")
        o = f.order(f.consumer(), shop, item_title=f"商品{key.upper()}")
        rows[key] = {
            "merchant": shop,
            "order": o,
            "review": f.review(o, (5, 5, 5), f"评价{key.upper()}"),
            "score": MerchantScore.objects.create(
                merchant=shop,
                day=timezone.localdate(),
                reviews=1,
                dsr_item=5,
                dsr_service=5,
                dsr_logistics=5,
                orders=1,
                dispute_rate=0,
                service_score=90 if key == "a" else 40,
                traffic_weight=1.4,
            ),
        }
    return rows


@pytest.fixture
def staff_of_a(
    two_shops: dict[str, Any], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> Client:
    user = make_user("staff-a", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=user, merchant=two_shops["a"]["merchant"])
    return client_for(user)


def test_every_admin_of_ours_is_tenant_scoped() -> None:
    ours = {
        model: model_admin for model, model_admin in admin.site._registry.items() if model._meta.app_label in OUR_APPS
    }
    assert ours, "no admin registered?"
    unscoped = [model.__name__ for model, model_admin in ours.items() if not isinstance(model_admin, TenantScopedAdmin)]
    assert unscoped == []


def test_every_model_merchant_staff_may_view_declares_its_tenant_field() -> None:
    for dotted in roles.ROLE_PERMISSIONS[roles.MERCHANT_STAFF]:
        app_label, codename = dotted.split(".")
        # A model's own permission (use_chat_console, add_wording) names the model by its content type.
        model = Permission.objects.get(content_type__app_label=app_label, codename=codename).content_type.model_class()
        assert getattr(model, "tenant_field", "missing") not in ("missing", None), dotted


@pytest.mark.parametrize(
    ("url", "key", "own_text", "other_text"),
    [
        ("/admin/crm/order/", "order", "商品A", "商品B"),
        ("/admin/crm/review/", "review", "评价A", "评价B"),
        ("/admin/merchants/merchant/", "merchant", "SHOP-A", "SHOP-B"),
        ("/admin/merchants/merchantscore/", "score", "90.00", "40.00"),
    ],
)
def test_merchant_staff_see_only_their_merchant(
    staff_of_a: Client, two_shops: dict[str, Any], url: str, key: str, own_text: str, other_text: str
) -> None:
    listing = staff_of_a.get(url)
    assert listing.status_code == 200
    html = listing.content.decode()
    assert own_text in html and other_text not in html
    own, other = two_shops["a"][key], two_shops["b"][key]
    assert staff_of_a.get(f"{url}{own.pk}/change/").status_code == 200
    # Another merchant's row does not exist for them: the admin redirects with "doesn't exist".
    response = staff_of_a.get(f"{url}{other.pk}/change/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    # Searching for the other merchant's row finds nothing either.
    assert f"{url}{other.pk}/change/" not in staff_of_a.get(f"{url}?q={other_text}").content.decode()


def test_merchant_staff_cannot_change_another_merchants_rows(staff_of_a: Client, two_shops: dict[str, Any]) -> None:
    other = two_shops["b"]["merchant"]
    staff_of_a.post(f"/admin/merchants/merchant/{other.pk}/change/", {"name": "改掉", "code": "X", "category": "x"})
    staff_of_a.post(f"/admin/merchants/merchant/{other.pk}/delete/", {"post": "yes"})
    staff_of_a.post("/admin/crm/review/", {"action": "remove", "_selected_action": [two_shops["b"]["review"].pk]})
    other.refresh_from_db()
    assert other.name == "店铺B"
    assert Review.objects.get(pk=two_shops["b"]["review"].pk).moderation == "published"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/crm/consumer/",
        "/admin/crm/riskflag/",
        "/admin/crm/creditrating/",
        "/admin/crm/credittier/",
        "/admin/merchants/merchantmembership/",
        "/admin/core/demodataset/",
    ],
)
def test_merchant_staff_cannot_open_marketplace_wide_pages(staff_of_a: Client, url: str) -> None:
    assert staff_of_a.get(url).status_code == 403


def test_merchant_staff_see_their_own_score_page_only(staff_of_a: Client, two_shops: dict[str, Any]) -> None:
    own, other = two_shops["a"]["merchant"], two_shops["b"]["merchant"]
    assert staff_of_a.get(f"/admin/merchants/merchant/{own.pk}/scores/").status_code == 200
    assert staff_of_a.get(f"/admin/merchants/merchant/{other.pk}/scores/").status_code == 404


def test_merchant_staff_without_a_membership_see_nothing(
    two_shops: dict[str, Any], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    user = make_user("orphan", roles.MERCHANT_STAFF)
    assert scope(Order.objects.all(), user).count() == 0
    assert "SHOP-A" not in client_for(user).get("/admin/merchants/merchant/").content.decode()


def test_marketplace_staff_are_not_scoped(two_shops: dict[str, Any], agent: User) -> None:
    assert scope(Merchant.objects.all(), agent).count() == 2
