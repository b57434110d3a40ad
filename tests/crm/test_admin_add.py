"""The admin's add pages: consumers and merchants for the roles that may add them, nothing for the others."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.test import Client

from crm.models import Consumer, Order
from merchants.models import Merchant

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONSUMER_FORM = {
    "external_id": "C100",
    "display_name": "王小明",
    "phone": "13912345678",
    "id_number": "11010519491231002X",
    "registered_at_0": "2026-01-02",
    "registered_at_1": "10:30:00",
}
MERCHANT_FORM = {
    "code": "M100",
    "name": "优品数码旗舰店",
    "category": "数码",
    "city": "杭州",
    "opened_at_0": "2025-05-01",
    "opened_at_1": "09:00:00",
    "instant_refunds": "on",
    "instant_refund_cap": "",
}


def test_supervisor_adds_a_consumer_with_the_identity_typed_on_the_add_page(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    page = client.get("/admin/crm/consumer/add/")
    response = client.post("/admin/crm/consumer/add/", CONSUMER_FORM)

    assert page.status_code == 200
    assert list(page.context["adminform"].form.fields) == [
        "external_id", "display_name", "phone", "id_number", "registered_at",
    ]  # fmt: skip
    assert response.status_code == 302
    consumer = Consumer.objects.get()
    assert (consumer.external_id, consumer.display_name, consumer.phone, consumer.id_number) == (
        "C100", "王小明", "13912345678", "11010519491231002X",
    )  # fmt: skip
    assert consumer.registered_at == datetime(2026, 1, 2, 10, 30, tzinfo=SHANGHAI)
    assert (consumer.credit_score, consumer.tier) == (None, None)


def test_a_consumer_added_without_registration_date_or_with_a_taken_id_is_refused_naming_the_field(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    client.post("/admin/crm/consumer/add/", CONSUMER_FORM)
    missing = client.post("/admin/crm/consumer/add/", {**CONSUMER_FORM, "external_id": "C101", "registered_at_0": ""})
    taken = client.post("/admin/crm/consumer/add/", {**CONSUMER_FORM, "display_name": "别人"})

    assert missing.status_code == taken.status_code == 200
    assert list(missing.context["adminform"].form.errors) == ["registered_at"]
    assert list(taken.context["adminform"].form.errors) == ["external_id"]
    assert list(Consumer.objects.values_list("external_id", "display_name")) == [("C100", "王小明")]


def test_the_identity_stays_read_only_once_the_consumer_exists(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    client.post("/admin/crm/consumer/add/", CONSUMER_FORM)
    consumer = Consumer.objects.get()
    client.post(
        f"/admin/crm/consumer/{consumer.pk}/change/",
        {**CONSUMER_FORM, "external_id": "C999", "display_name": "改名", "registered_at_0": "2020-01-01"},
    )
    consumer.refresh_from_db()

    assert (consumer.external_id, consumer.display_name) == ("C100", "改名")
    assert consumer.registered_at == datetime(2026, 1, 2, 10, 30, tzinfo=SHANGHAI)


def test_supervisor_adds_a_merchant(supervisor: User, client_for: Callable[[User], Client]) -> None:
    client = client_for(supervisor)
    assert client.get("/admin/merchants/merchant/add/").status_code == 200
    response = client.post("/admin/merchants/merchant/add/", MERCHANT_FORM)

    assert response.status_code == 302
    merchant = Merchant.objects.get()
    assert (merchant.code, merchant.name, merchant.category, merchant.city, merchant.instant_refunds) == (
        "M100", "优品数码旗舰店", "数码", "杭州", True,
    )  # fmt: skip
    assert merchant.opened_at == datetime(2025, 5, 1, 9, 0, tzinfo=SHANGHAI)


def test_agent_is_offered_no_add_page_and_cannot_post_one(agent: User, client_for: Callable[[User], Client]) -> None:
    client = client_for(agent)
    listing = client.get("/admin/crm/consumer/").content.decode()

    assert "/admin/crm/consumer/add/" not in listing
    assert client.get("/admin/crm/consumer/add/").status_code == 403
    assert client.post("/admin/crm/consumer/add/", CONSUMER_FORM).status_code == 403
    assert client.get("/admin/merchants/merchant/add/").status_code == 403
    assert client.post("/admin/merchants/merchant/add/", MERCHANT_FORM).status_code == 403
    assert not Consumer.objects.exists() and not Merchant.objects.exists()


def test_orders_and_reviews_have_no_add_page_even_for_a_supervisor(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    assert client.get("/admin/crm/order/add/").status_code == 403
    assert client.get("/admin/crm/review/add/").status_code == 403
    assert "/admin/crm/order/add/" not in client.get("/admin/crm/order/").content.decode()
    assert not Order.objects.exists()
