"""The instant return's entry points: the API (request with retries, read, the carrier's scan) and the ticket page's
button; per role and per shop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from crm.models import CreditTier, Order
from merchants.models import Merchant, MerchantMembership
from tests.crm import factories as f
from tickets.models import Department, RefundRequest, ReturnRequest, Ticket, TicketEvent
from tickets.services import open_ticket

EN = {"accept-language": "en"}
ADDRESS = "杭州市余杭区文一西路 969 号"
pytestmark = pytest.mark.django_db


def delivered(shop: Merchant, tier: str = "金牌会员", amount: str = "200.00") -> Order:
    who = f.consumer(tier=CreditTier.objects.get(name=tier))
    return f.order(who, shop, amount, status="delivered", delivered_at=timezone.now() - timedelta(days=1))


@pytest.fixture
def shops() -> dict[str, Merchant]:
    return {key: f.merchant(f"RS-{key}", return_address=ADDRESS) for key in ("A", "B")}


def staff_of(shop: Merchant, make_user: Callable[..., User], name: str) -> User:
    user = make_user(name, "merchant_staff")
    MerchantMembership.objects.create(user=user, merchant=shop)
    return user


def ask(client: Client, order: Order, key: str | None = "k1", **extra: Any) -> Any:
    body = {"order": order.order_no, "reason": "尺码不合适", **({"idempotency_key": key} if key else {}), **extra}
    return client.post("/api/returns/", body, content_type="application/json", headers=EN)


def test_an_agent_requests_an_instant_return_and_a_retry_gets_the_same_answer(
    shops: dict[str, Merchant], agent: User, client_for: Callable[[User], Client]
) -> None:
    client, order = client_for(agent), delivered(shops["A"])

    first = ask(client, order)
    again = ask(client, order)

    assert (first.status_code, again.status_code) == (201, 200)
    body = first.json()
    assert {k: body[k] for k in ("order", "merchant", "amount", "decision", "refund_at_once", "return_address")} == {
        "order": order.order_no, "merchant": "RS-A", "amount": "200.00", "decision": "instant",
        "refund_at_once": False, "return_address": ADDRESS,
    }  # fmt: skip
    assert body["explanations"] == [
        "Tier 金牌会员 returns instantly.", "The refund is released on the carrier's first scan.",
    ]  # fmt: skip
    assert again.json() == body and ReturnRequest.objects.count() == 1


def test_the_key_may_come_in_the_header_and_a_reused_key_is_a_409(
    shops: dict[str, Merchant], agent: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)
    response = client.post("/api/returns/", {"order": delivered(shops["A"]).order_no, "reason": "x"},
                           content_type="application/json", headers={"Idempotency-Key": "hdr", **EN})  # fmt: skip
    assert (response.status_code, response.json()["idempotency_key"]) == (201, "hdr")

    conflict = ask(client, delivered(shops["A"]), key="hdr")

    assert conflict.status_code == 409
    assert conflict.json()["errors"] == {"idempotency_key": ["This key was used for another return request."]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order": "NOPE", "reason": "x", "idempotency_key": "b1"}, "order"),
        ({"reason": "x", "idempotency_key": "b2"}, "order"),
        ({"order": "{order}", "idempotency_key": "b3"}, "reason"),
        ({"order": "{order}", "reason": "x"}, "idempotency_key"),
        ({"order": "{order}", "reason": "x", "idempotency_key": "k" * 65}, "idempotency_key"),
        ({"order": "{order}", "reason": "x" * 201, "idempotency_key": "b4"}, "reason"),
        ({"order": "{order}", "reason": "x", "idempotency_key": "b5", "ticket": 999999}, "ticket"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    shops: dict[str, Merchant], agent: User, client_for: Callable[[User], Client], body: dict[str, Any], field: str
) -> None:
    order = delivered(shops["A"])
    sent = {k: (order.order_no if v == "{order}" else v) for k, v in body.items()}

    response = client_for(agent).post("/api/returns/", sent, content_type="application/json", headers=EN)

    assert response.status_code == 400 and field in response.json()["errors"], response.json()
    assert not ReturnRequest.objects.exists()


def test_the_carriers_scan_releases_the_refund_once(
    shops: dict[str, Merchant], agent: User, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    order = delivered(shops["A"])
    made = ask(client_for(agent), order).json()
    carrier = client_for(supervisor)
    url = f"/api/returns/{made['id']}/scan/"

    first = carrier.post(url, {"tracking_no": "SF1234567890"}, content_type="application/json")
    again = carrier.post(url, {"tracking_no": "SF1234567890"}, content_type="application/json")
    other = carrier.post(url, {"tracking_no": "YT1"}, content_type="application/json", headers=EN)

    order.refresh_from_db()
    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 400)
    assert first.json()["refund"] == RefundRequest.objects.get().pk and again.json() == first.json()
    assert (order.refunded_amount, order.returned) == (Decimal("200.00"), True)
    assert "tracking_no" in other.json()["errors"]


def test_an_agent_cannot_record_a_scan(
    shops: dict[str, Merchant], agent: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(agent)
    made = ask(client, delivered(shops["A"])).json()
    response = client.post(f"/api/returns/{made['id']}/scan/", {"tracking_no": "SF1234567890"},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 403
    assert ReturnRequest.objects.get().scanned_at is None


def test_merchant_staff_see_their_shops_returns_only_and_cannot_request_or_scan(
    shops: dict[str, Merchant], agent: User, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    of_a = ask(client_for(agent), delivered(shops["A"]), key="a").json()
    of_b = ask(client_for(agent), delivered(shops["B"]), key="b").json()
    staff_b = client_for(staff_of(shops["B"], make_user, "staff-b"))

    listed = staff_b.get("/api/returns/").json()["results"]

    assert [r["id"] for r in listed] == [of_b["id"]]
    assert staff_b.get(f"/api/returns/{of_a['id']}/").status_code == 404
    assert staff_b.get(f"/api/returns/{of_b['id']}/").status_code == 200
    assert ask(staff_b, delivered(shops["B"]), key="c").status_code == 403
    for pk in (of_a["id"], of_b["id"]):
        scan = staff_b.post(f"/api/returns/{pk}/scan/", {"tracking_no": "SF1234567890"},
                            content_type="application/json")  # fmt: skip
        assert scan.status_code == 403
    assert not ReturnRequest.objects.filter(scanned_at__isnull=False).exists()


def test_merchant_staff_given_the_change_permission_still_reach_only_their_shop(
    shops: dict[str, Merchant], agent: User, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    # A merchant account given the change permission by mistake still reaches only its own shop's rows.
    of_a = ask(client_for(agent), delivered(shops["A"]), key="a").json()
    user = staff_of(shops["B"], make_user, "staff-b")
    user.user_permissions.add(Permission.objects.get(codename="change_returnrequest"))
    response = client_for(user).post(f"/api/returns/{of_a['id']}/scan/", {"tracking_no": "SF1234567890"},
                                     content_type="application/json")  # fmt: skip
    assert response.status_code == 404


def test_anonymous_and_business_users_cannot_reach_returns(
    shops: dict[str, Merchant], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    business = client_for(make_user("biz", "business"))
    assert business.get("/api/returns/").status_code == 403
    assert ask(business, delivered(shops["A"])).status_code == 403
    assert Client().get("/api/returns/").status_code in (401, 403)


def test_the_schema_documents_the_return_endpoints(agent: User, client_for: Callable[[User], Client]) -> None:
    schema = client_for(agent).get("/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"}).json()
    paths = schema["paths"]
    assert set(paths["/api/returns/"]) == {"get", "post"}
    assert set(paths["/api/returns/{id}/"]) == {"get"}
    assert set(paths["/api/returns/{id}/scan/"]) == {"post"}
    assert set(paths["/api/returns/"]["post"]["responses"]) >= {"200", "201", "400", "409"}


# --- the button on the ticket page -----------------------------------------------------------------------


def ticket_about(order: Order) -> Ticket:
    department, _ = Department.objects.get_or_create(code="after-sales", defaults={"name": "售后"})
    return open_ticket(order.consumer, subject="想退货", department=department, kind="return", order=order)


def test_an_agent_presses_instant_return_on_the_ticket_page(
    shops: dict[str, Merchant], agent: User, client_for: Callable[[User], Client]
) -> None:
    client, ticket = client_for(agent), ticket_about(delivered(shops["A"]))
    url = f"/admin/tickets/ticket/{ticket.pk}/act/"
    assert 'value="return"' in client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()

    page = client.post(url, {"action": "return", "reason": "尺码不合适", "key": "desk-1"}, follow=True, headers=EN)
    client.post(url, {"action": "return", "reason": "尺码不合适", "key": "desk-1"})  # a double click

    made = ReturnRequest.objects.get()
    ship_by = timezone.localtime(made.ship_by).strftime("%Y-%m-%d")
    assert (made.ticket_id, made.decision, made.requested_by) == (ticket.pk, "instant", agent)
    assert [str(m) for m in page.context["messages"]] == [
        "Approved instantly Tier 金牌会员 returns instantly. The refund is released on the carrier's first scan."
        f" Send the goods to {ADDRESS} by {ship_by}."
    ]
    assert f"send back by {ship_by}" in page.content.decode()
    assert '<div class="change refund">Return: Approved instantly</div>' in page.content.decode()
    assert TicketEvent.objects.filter(ticket=ticket, kind="return").count() == 1


def test_merchant_staff_have_no_return_button_and_cannot_press_it(
    shops: dict[str, Merchant], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    own, other = ticket_about(delivered(shops["B"])), ticket_about(delivered(shops["A"]))
    staff_b = client_for(staff_of(shops["B"], make_user, "staff-b"))

    assert 'value="return"' not in staff_b.get(f"/admin/tickets/ticket/{own.pk}/change/").content.decode()
    pressed = staff_b.post(f"/admin/tickets/ticket/{own.pk}/act/", {"action": "return", "key": "m1"})
    elsewhere = staff_b.post(f"/admin/tickets/ticket/{other.pk}/act/", {"action": "return", "key": "m2"})

    assert (pressed.status_code, elsewhere.status_code) == (403, 404)
    assert not ReturnRequest.objects.exists()


def test_a_ticket_without_an_order_offers_no_return(
    shops: dict[str, Merchant], agent: User, client_for: Callable[[User], Client]
) -> None:
    department = Department.objects.create(code="general", name="综合")
    ticket = open_ticket(f.consumer(), subject="咨询", department=department)
    client = client_for(agent)
    assert 'value="return"' not in client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert client.post(f"/admin/tickets/ticket/{ticket.pk}/act/", {"action": "return", "key": "k"}).status_code == 403


def test_a_return_without_a_key_on_the_ticket_page_is_refused_with_a_message(
    shops: dict[str, Merchant], agent: User, client_for: Callable[[User], Client]
) -> None:
    ticket = ticket_about(delivered(shops["A"]))
    page = client_for(agent).post(f"/admin/tickets/ticket/{ticket.pk}/act/", {"action": "return"}, follow=True,
                                  headers=EN)  # fmt: skip
    assert [str(m) for m in page.context["messages"]] == ["An idempotency key of 1 to 64 characters is required."]
    assert not ReturnRequest.objects.exists()
