"""The tickets and refunds API: permissions, tenancy, the happy paths, bad input and query counts."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import roles
from crm.models import Consumer, CreditTier, Order
from merchants.models import Merchant, MerchantMembership
from tests.crm import factories as f
from tickets import services
from tickets.models import Department, RefundRequest, SLAPolicy, Ticket, TicketEvent
from tickets.refunds import request_refund, review_refund

pytestmark = pytest.mark.django_db
EN = {"accept-language": "en"}
JSON = "application/json"


def grant(user: User, *codenames: str) -> User:
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames, content_type__app_label="tickets"))
    return user


def ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def timeline(response: Any) -> list[tuple[str, str, str | None, str]]:
    return [(e["kind"], e["author_kind"], e["author"], e["body"]) for e in response.json()["timeline"]]


@pytest.fixture
def dept() -> Department:
    return Department.objects.create(code="refunds", name="退款")


@pytest.fixture
def shop_a() -> Merchant:
    return f.merchant("SHOP-A", name="店铺A")


@pytest.fixture
def shop_b() -> Merchant:
    return f.merchant("SHOP-B", name="店铺B")


@pytest.fixture
def vip() -> Consumer:
    tier = CreditTier.objects.create(name="测试VIP", min_score=987, instant_refund_limit=Decimal("200.00"))
    return f.consumer("C-VIP", display_name="王小明", tier=tier)


@pytest.fixture
def order_a(vip: Consumer, shop_a: Merchant) -> Order:
    return numbered(f.order(vip, shop_a, "300.00", status="delivered", delivered_at=timezone.now()), "A-300")


@pytest.fixture
def order_b(shop_b: Merchant) -> Order:
    return numbered(f.order(f.consumer("C-B"), shop_b, "80.00"), "B-80")


@pytest.fixture
def ticket_a(order_a: Order, dept: Department) -> Ticket:
    return services.open_ticket(order_a.consumer, subject="耳机坏了", department=dept, order=order_a, body="左耳没声音")


@pytest.fixture
def ticket_b(order_b: Order, dept: Department) -> Ticket:
    return services.open_ticket(order_b.consumer, subject="快递没到", department=dept, order=order_b)


@pytest.fixture
def desk_agent(make_user: Callable[..., User]) -> User:
    user = make_user("desk-agent")
    return grant(user, "view_ticket", "add_ticket", "change_ticket", "view_refundrequest", "add_refundrequest")


@pytest.fixture
def merchant_staff(make_user: Callable[..., User], shop_a: Merchant) -> User:
    user = make_user("staff-a", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=user, merchant=shop_a)
    return grant(user, "view_ticket", "view_refundrequest")


@pytest.fixture
def business(make_user: Callable[..., User]) -> User:
    return make_user("biz", roles.BUSINESS)


@pytest.fixture
def api(desk_agent: User, client_for: Callable[[User], Client]) -> Client:
    return client_for(desk_agent)


def post(client: Client, url: str, data: Any, **headers: str) -> Any:
    return client.post(url, json.dumps(data), content_type=JSON, headers={**EN, **headers})


def numbered(order: Order, order_no: str) -> Order:
    order.order_no = order_no
    order.save(update_fields=["order_no"])
    return order


def refund_body(order: Order, amount: str, key: str = "key-1", **extra: Any) -> dict[str, Any]:
    return {"order": order.order_no, "amount": amount, "reason": "质量问题", "idempotency_key": key, **extra}


# Permissions ------------------------------------------------------------------------------------


def endpoints(ticket: Ticket, refund: RefundRequest, order: Order) -> list[tuple[str, str, dict[str, Any]]]:
    t, r = f"/api/tickets/{ticket.pk}/", f"/api/refunds/{refund.pk}/"
    new_ticket = {"consumer": order.consumer.external_id, "subject": "x", "department": "refunds"}
    return [
        ("get", "/api/tickets/", {}),
        ("post", "/api/tickets/", new_ticket),
        ("get", t, {}),
        ("post", f"{t}reply/", {"body": "hi"}),
        ("post", f"{t}transition/", {"status": "pending"}),
        ("get", "/api/refunds/", {}),
        ("post", "/api/refunds/", refund_body(order, "1.00", "perm")),
        ("get", r, {}),
    ]


@pytest.mark.parametrize("who", ["anonymous", "business"])
def test_anonymous_and_business_users_are_refused_everywhere(
    who: str, business: User, ticket_a: Ticket, order_a: Order, client_for: Callable[[User], Client]
) -> None:
    refund = request_refund(order_a, Decimal("10.00"), "x", key="seed")
    client = Client() if who == "anonymous" else client_for(business)
    before = (Ticket.objects.count(), TicketEvent.objects.count(), RefundRequest.objects.count())

    for method, url, data in endpoints(ticket_a, refund, order_a):
        response = client.get(url) if method == "get" else post(client, url, data)
        assert (method, url, response.status_code) == (method, url, 403)

    ticket_a.refresh_from_db()
    assert (Ticket.objects.count(), TicketEvent.objects.count(), RefundRequest.objects.count()) == before
    assert ticket_a.status == Ticket.Status.NEW


def test_agent_may_use_every_endpoint(api: Client, ticket_a: Ticket, order_a: Order) -> None:
    refund = request_refund(order_a, Decimal("10.00"), "x", key="seed")
    codes = []
    for method, url, data in endpoints(ticket_a, refund, order_a):
        response = api.get(url) if method == "get" else post(api, url, data)
        codes.append(response.status_code)
    assert codes == [200, 201, 200, 201, 200, 200, 201, 200]


def test_viewing_is_not_enough_to_reply_or_transition(
    make_user: Callable[..., User], ticket_a: Ticket, client_for: Callable[[User], Client]
) -> None:
    client = client_for(grant(make_user("viewer"), "view_ticket", "add_ticket"))
    assert post(client, f"/api/tickets/{ticket_a.pk}/reply/", {"body": "hi"}).status_code == 403
    assert post(client, f"/api/tickets/{ticket_a.pk}/transition/", {"status": "open"}).status_code == 403
    assert TicketEvent.objects.filter(ticket=ticket_a).count() == 2


# Tenancy ----------------------------------------------------------------------------------------


def test_merchant_staff_see_only_their_merchants_tickets(
    merchant_staff: User, ticket_a: Ticket, ticket_b: Ticket, vip: Consumer, dept: Department,
    client_for: Callable[[User], Client],
) -> None:  # fmt: skip
    no_merchant = services.open_ticket(vip, subject="怎么开发票", department=dept)
    client = client_for(merchant_staff)

    assert ids(client.get("/api/tickets/")) == [ticket_a.pk]
    assert client.get(f"/api/tickets/{ticket_a.pk}/").status_code == 200
    assert client.get(f"/api/tickets/{ticket_b.pk}/").status_code == 404
    assert client.get(f"/api/tickets/{no_merchant.pk}/").status_code == 404


def test_merchant_staff_cannot_act_on_another_merchants_ticket(
    merchant_staff: User, ticket_b: Ticket, client_for: Callable[[User], Client]
) -> None:
    client = client_for(grant(merchant_staff, "change_ticket"))

    assert post(client, f"/api/tickets/{ticket_b.pk}/reply/", {"body": "hi"}).status_code == 404
    assert post(client, f"/api/tickets/{ticket_b.pk}/transition/", {"status": "open"}).status_code == 404
    ticket_b.refresh_from_db()
    assert (ticket_b.status, TicketEvent.objects.filter(ticket=ticket_b).count()) == ("new", 1)


def test_merchant_staff_see_only_their_merchants_refunds(
    merchant_staff: User, order_a: Order, order_b: Order, client_for: Callable[[User], Client]
) -> None:
    mine = request_refund(order_a, Decimal("10.00"), "x", key="a")
    theirs = request_refund(order_b, Decimal("10.00"), "x", key="b")
    client = client_for(merchant_staff)

    assert ids(client.get("/api/refunds/")) == [mine.pk]
    assert client.get(f"/api/refunds/{theirs.pk}/").status_code == 404


def test_merchant_staff_cannot_refund_another_merchants_order(
    merchant_staff: User, order_a: Order, order_b: Order, client_for: Callable[[User], Client]
) -> None:
    client = client_for(grant(merchant_staff, "add_refundrequest"))

    response = post(client, "/api/refunds/", refund_body(order_b, "10.00"))

    assert (response.status_code, response.json()["errors"]) == (400, {"order": ["No such order."]})
    order_b.refresh_from_db()
    assert (RefundRequest.objects.count(), order_b.refunded_amount) == (0, Decimal("0.00"))
    assert post(client, "/api/refunds/", refund_body(order_a, "10.00")).status_code == 201


def test_merchant_staff_cannot_open_a_ticket_on_another_merchants_order(
    merchant_staff: User, order_b: Order, dept: Department, client_for: Callable[[User], Client]
) -> None:
    client = client_for(grant(merchant_staff, "add_ticket"))
    body = {"consumer": "C-B", "subject": "x", "department": "refunds", "order": order_b.order_no}

    response = post(client, "/api/tickets/", body)

    # Consumers and departments belong to no merchant, so merchant staff cannot name them either (core/tenancy.py).
    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"consumer": ["No such consumer."], "department": ["No such department."], "order": ["No such order."]},
    )
    assert Ticket.objects.count() == 0


# Tickets ----------------------------------------------------------------------------------------


def test_agent_opens_a_ticket_for_a_consumer(api: Client, order_a: Order, dept: Department) -> None:
    SLAPolicy.objects.create(name="退款", kind="refund", first_response_minutes=120, resolution_minutes=8 * 60)
    body = {"consumer": "C-VIP", "subject": " 耳机坏了 ", "body": "左耳没声音", "kind": "refund", "channel": "phone",
            "priority": 3, "department": "refunds", "order": "A-300"}  # fmt: skip

    response = post(api, "/api/tickets/", body)

    assert response.status_code == 201
    data = response.json()
    ticket = Ticket.objects.get()
    assert data["id"] == ticket.pk
    assert {k: data[k] for k in ("subject", "kind", "channel", "status", "priority", "department", "assignee")} == {
        "subject": "耳机坏了", "kind": "refund", "channel": "phone", "status": "new", "priority": 3,
        "department": "refunds", "assignee": None,
    }  # fmt: skip
    assert {k: data[k] for k in ("consumer", "consumer_name", "tier", "order", "merchant")} == {
        "consumer": "C-VIP", "consumer_name": "王小明", "tier": "测试VIP", "order": "A-300", "merchant": "SHOP-A",
    }  # fmt: skip
    assert timeline(response) == [
        ("created", "agent", "desk-agent", ""),
        ("message", "agent", "desk-agent", "左耳没声音"),
    ]
    assert data["timeline"][0]["data"] == {"kind": "refund", "channel": "phone", "priority": 3}
    assert ticket.first_response_due and ticket.resolution_due
    assert (data["sla_state"], data["first_response_due"], data["resolution_due"]) == (
        "ok",
        timezone.localtime(ticket.first_response_due).isoformat(),
        timezone.localtime(ticket.resolution_due).isoformat(),
    )


def test_ticket_detail_shows_the_timeline_oldest_first(api: Client, ticket_a: Ticket, desk_agent: User) -> None:
    services.add_message(ticket_a, body="请稍等", author_kind="agent", author=desk_agent)
    services.add_message(ticket_a, body="好的", author_kind="consumer")

    response = api.get(f"/api/tickets/{ticket_a.pk}/")

    assert response.status_code == 200
    assert timeline(response) == [
        ("created", "consumer", None, ""),
        ("message", "consumer", None, "左耳没声音"),
        ("message", "agent", "desk-agent", "请稍等"),
        ("status", "system", None, ""),  # the first reply opened it
        ("message", "consumer", None, "好的"),
    ]
    assert response.json()["status"] == "open"


def test_agent_reply_opens_the_ticket_and_stops_the_first_response_clock(api: Client, ticket_a: Ticket) -> None:
    response = post(api, f"/api/tickets/{ticket_a.pk}/reply/", {"body": " 已为您登记 ", "internal": False})

    assert response.status_code == 201
    ticket_a.refresh_from_db()
    assert (response.json()["status"], ticket_a.status) == ("open", "open")
    assert ticket_a.first_response_at is not None
    assert timeline(response)[-2:] == [("message", "agent", "desk-agent", "已为您登记"), ("status", "system", None, "")]


def test_internal_note_leaves_the_ticket_new(api: Client, ticket_a: Ticket) -> None:
    response = post(api, f"/api/tickets/{ticket_a.pk}/reply/", {"body": "先查物流", "internal": True})

    assert response.status_code == 201
    ticket_a.refresh_from_db()
    assert (ticket_a.status, ticket_a.first_response_at) == ("new", None)
    assert timeline(response)[-1] == ("note", "agent", "desk-agent", "先查物流")


def test_transition_moves_the_ticket_and_records_the_note(api: Client, ticket_a: Ticket) -> None:
    response = post(api, f"/api/tickets/{ticket_a.pk}/transition/", {"status": "resolved", "note": "已退款"})

    assert response.status_code == 200
    ticket_a.refresh_from_db()
    assert (response.json()["status"], ticket_a.status) == ("resolved", "resolved")
    # The status change, then the consumer's survey link (tickets.surveys).
    assert timeline(response)[-2] == ("status", "agent", "desk-agent", "已退款")
    assert response.json()["timeline"][-2]["data"] == {"from": "new", "to": "resolved"}
    assert response.json()["timeline"][-1]["data"] == {"survey": True}


def test_illegal_transition_is_refused_with_the_reason(api: Client, ticket_a: Ticket) -> None:
    response = post(api, f"/api/tickets/{ticket_a.pk}/transition/", {"status": "closed"})

    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"status": ["A ticket that is “New” cannot become “Closed”."]},
    )
    ticket_a.refresh_from_db()
    assert (ticket_a.status, TicketEvent.objects.filter(ticket=ticket_a).count()) == ("new", 2)


def test_reply_to_a_closed_ticket_is_refused(api: Client, ticket_a: Ticket) -> None:
    for status in ("resolved", "closed"):
        services.transition_ticket(ticket_a, status)

    response = post(api, f"/api/tickets/{ticket_a.pk}/reply/", {"body": "还在吗"})

    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"body": ["This ticket is closed; open a new one."]},
    )


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"subject": ""}, {"subject": ["This field may not be blank."]}),
        ({"subject": "   "}, {"subject": ["This field may not be blank."]}),
        ({"subject": "x" * 201}, {"subject": ["Ensure this field has no more than 200 characters."]}),
        ({"department": "nope"}, {"department": ["No such department."]}),
        ({"consumer": "nobody"}, {"consumer": ["No such consumer."]}),
        ({"consumer": 42}, {"consumer": ["No such consumer."]}),
        ({"order": "B-80"}, {"order": ["This order belongs to another consumer."]}),
        ({"order": "NO-SUCH"}, {"order": ["No such order."]}),
        ({"kind": "praise"}, {"kind": ['"praise" is not a valid choice.']}),
        ({"priority": "high"}, {"priority": ['"high" is not a valid choice.']}),
        ({"channel": ["web"]}, {"channel": ["\"['web']\" is not a valid choice."]}),
    ],
)
def test_opening_a_ticket_with_bad_input_names_the_field(
    api: Client, order_a: Order, order_b: Order, dept: Department, change: dict[str, Any], errors: dict[str, Any]
) -> None:
    body = {"consumer": "C-VIP", "subject": "耳机坏了", "department": "refunds", "order": "A-300", **change}

    response = post(api, "/api/tickets/", body)

    assert (response.status_code, response.json()["errors"]) == (400, errors)
    assert Ticket.objects.count() == 0


def test_opening_a_ticket_without_fields_names_each_missing_one(api: Client) -> None:
    response = post(api, "/api/tickets/", {})

    required = ["This field is required."]
    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"consumer": required, "subject": required, "department": required},
    )


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"body": ["This field is required."]}),
        ({"body": "  "}, {"body": ["This field may not be blank."]}),
        ({"body": "hi", "internal": "maybe"}, {"internal": ["Must be a valid boolean."]}),
        (["hi"], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
    ],
)
def test_reply_with_bad_input_names_the_field(api: Client, ticket_a: Ticket, body: Any, errors: dict[str, Any]) -> None:
    response = post(api, f"/api/tickets/{ticket_a.pk}/reply/", body)

    assert (response.status_code, response.json()["errors"]) == (400, errors)
    assert TicketEvent.objects.filter(ticket=ticket_a).count() == 2


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"status": ["This field is required."]}),
        ({"status": "archived"}, {"status": ['"archived" is not a valid choice.']}),
        ({"status": "open", "note": 5}, {"note": ["Give text (a JSON string)."]}),
        ("open", {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
    ],
)
def test_transition_with_bad_input_names_the_field(
    api: Client, ticket_a: Ticket, body: Any, errors: dict[str, Any]
) -> None:
    response = post(api, f"/api/tickets/{ticket_a.pk}/transition/", body)

    assert (response.status_code, response.json()["errors"]) == (400, errors)


@pytest.mark.parametrize("url", ["/api/tickets/", "/api/tickets/{pk}/reply/", "/api/tickets/{pk}/transition/",
                                 "/api/refunds/"])  # fmt: skip
def test_a_body_that_is_not_json_is_a_400(api: Client, ticket_a: Ticket, url: str) -> None:
    response = api.post(url.format(pk=ticket_a.pk), "{not json", content_type=JSON, headers=EN)

    assert response.status_code == 400
    assert response.json()["message"].startswith("JSON parse error")
    assert (Ticket.objects.count(), TicketEvent.objects.count(), RefundRequest.objects.count()) == (1, 2, 0)


@pytest.mark.parametrize("url", ["/api/tickets/{pk}/", "/api/tickets/{pk}/reply/", "/api/tickets/{pk}/transition/",
                                 "/api/refunds/{pk}/"])  # fmt: skip
def test_unknown_ids_are_404(api: Client, url: str) -> None:
    for pk in ("999999", "99999999999999999999"):
        path = url.format(pk=pk)
        response = api.get(path) if path.count("/") == 4 else post(api, path, {"body": "x", "status": "open"})
        assert (path, response.status_code) == (path, 404)


WEIRD = [None, True, 0, -1, 10**30, 1.5, "", "x" * 5000, [], ["x"], {}, {"a": 1}, "\u0000"]


def test_no_malformed_value_is_a_server_error(api: Client, ticket_a: Ticket, order_a: Order) -> None:
    forms: dict[str, dict[str, object]] = {
        "/api/tickets/": {"consumer": "C-VIP", "subject": "x", "department": "refunds", "order": "A-300",
                          "kind": "refund", "channel": "web", "priority": 2, "body": "x"},
        f"/api/tickets/{ticket_a.pk}/reply/": {"body": "x", "internal": False},
        f"/api/tickets/{ticket_a.pk}/transition/": {"status": "pending", "note": ""},
        "/api/refunds/": {**refund_body(order_a, "1.00"), "ticket": ticket_a.pk},
    }  # fmt: skip
    seen = set()
    for url, good in forms.items():
        for field in good:
            for value in WEIRD:
                response = post(api, url, {**good, field: value, "idempotency_key": f"{field}-{value!r}"[:64]})
                seen.add(response.status_code)
                assert response.status_code < 500, (url, field, value)
    assert seen <= {200, 201, 400, 409}


# Listing ----------------------------------------------------------------------------------------


@pytest.fixture
def many(dept: Department, desk_agent: User, make_user: Callable[..., User]) -> dict[str, Ticket]:
    SLAPolicy.objects.create(name="全部", first_response_minutes=60, resolution_minutes=24 * 60)
    other_dept = Department.objects.create(code="logistics", name="物流")
    colleague = make_user("colleague")
    gold = CreditTier.objects.get(name="金牌会员")
    shop = f.merchant("SHOP-X")
    rows = {
        "mine": services.open_ticket(f.consumer("C-1", tier=gold), subject="1", department=dept, kind="refund"),
        "theirs": services.open_ticket(f.consumer("C-2"), subject="2", department=other_dept, channel="phone",
                                       priority=4, order=None),
        "queue": services.open_ticket(f.consumer("C-3"), subject="3", department=dept, kind="dispute"),
    }  # fmt: skip
    with_order = f.order(rows["queue"].consumer, shop)
    rows["shop"] = services.open_ticket(rows["queue"].consumer, subject="4", department=dept, order=with_order)
    services.assign_ticket(rows["mine"], desk_agent)
    services.assign_ticket(rows["theirs"], colleague)
    services.transition_ticket(rows["theirs"], "pending")
    return rows


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending", ["theirs"]),
        ("kind=dispute", ["queue"]),
        ("channel=phone", ["theirs"]),
        ("department=logistics", ["theirs"]),
        ("priority=4", ["theirs"]),
        ("assignee=me", ["mine"]),
        ("assignee=none", ["shop", "queue"]),
        ("merchant=SHOP-X", ["shop"]),
        ("consumer=C-1", ["mine"]),
        ("tier=金牌会员", ["mine"]),
        ("department=refunds&kind=refund", ["mine"]),
        ("merchant=NOPE", []),
        ("sla_state=paused", ["theirs"]),
        ("sla_state=ok", ["mine", "shop", "queue"]),
    ],
)
def test_ticket_list_filters(api: Client, many: dict[str, Ticket], query: str, expected: list[str]) -> None:
    response = api.get(f"/api/tickets/?{query}")

    assert response.status_code == 200
    assert ids(response) == [many[key].pk for key in expected]


def test_ticket_list_filters_by_assignee_id(api: Client, many: dict[str, Ticket]) -> None:
    colleague = User.objects.get(username="colleague")

    assert ids(api.get(f"/api/tickets/?assignee={colleague.pk}")) == [many["theirs"].pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "status"),
        ("priority=9", "priority"),
        ("assignee=bob", "assignee"),
        ("sla_state=x", "sla_state"),
    ],
)
def test_ticket_list_rejects_bad_filters(api: Client, many: dict[str, Ticket], query: str, field: str) -> None:
    response = api.get(f"/api/tickets/?{query}")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_ticket_list_is_newest_activity_first_in_cursor_pages(api: Client, many: dict[str, Ticket]) -> None:
    first = api.get("/api/tickets/?page_size=3").json()
    second = api.get(first["next"]).json()

    # "theirs" was assigned and then paused last; "mine" was assigned before it.
    assert [*[r["id"] for r in first["results"]], *[r["id"] for r in second["results"]]] == [
        many[k].pk for k in ("theirs", "mine", "shop", "queue")
    ]
    assert (first["previous"], second["next"]) == (None, None)


def test_ticket_list_costs_the_same_queries_for_3_and_30_tickets(
    api: Client, dept: Department, make_user: Callable[..., User]
) -> None:
    def add(n: int) -> None:
        for i in range(n):
            who = f.consumer(tier=CreditTier.objects.create(name=f"档{i}-{n}", min_score=100 + i + n * 40))
            ticket = services.open_ticket(who, subject="x", department=dept, order=f.order(who, f.merchant()))
            services.assign_ticket(ticket, make_user(f"agent-{n}-{i}"))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/tickets/?page_size=100")
        assert response.status_code == 200
        return len(queries)

    add(3)
    three = count()
    add(27)
    thirty = count()

    assert len(api.get("/api/tickets/?page_size=100").json()["results"]) == 30
    assert (three, thirty) == (6, 6)


def test_ticket_detail_costs_the_same_queries_for_a_short_and_a_long_timeline(
    api: Client, ticket_a: Ticket, make_user: Callable[..., User]
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"/api/tickets/{ticket_a.pk}/")
        assert response.status_code == 200
        return len(queries)

    short = count()
    for i in range(15):
        services.add_message(ticket_a, body=f"回复{i}", author_kind="agent", author=make_user(f"replier-{i}"))
    assert len(api.get(f"/api/tickets/{ticket_a.pk}/").json()["timeline"]) > 15
    assert count() == short


# Refunds ----------------------------------------------------------------------------------------


def test_tier_covered_refund_is_instant_and_recorded_on_the_ticket(
    api: Client, order_a: Order, ticket_a: Ticket
) -> None:
    response = post(api, "/api/refunds/", refund_body(order_a, "120.00", ticket=ticket_a.pk))

    assert response.status_code == 201
    refund = RefundRequest.objects.get()
    assert response.json() == {
        "id": refund.pk,
        "idempotency_key": "key-1",
        "order": "A-300",
        "consumer": "C-VIP",
        "merchant": "SHOP-A",
        "ticket": ticket_a.pk,
        "amount": "120.00",
        "reason": "质量问题",
        "decision": "instant",
        "reasons": [{"code": "within_tier_limit", "params": {"tier": "测试VIP", "limit": "200.00"}}],
        "explanations": ["Tier 测试VIP refunds up to 200.00 yuan instantly."],
        "requested_by": "desk-agent",
        "created_at": timezone.localtime(refund.created_at).isoformat(),
        "decided_at": timezone.localtime(refund.created_at).isoformat(),
        "decided_by": None,
    }
    order_a.refresh_from_db()
    assert order_a.refunded_amount == Decimal("120.00")
    assert TicketEvent.objects.filter(ticket=ticket_a).latest("id").kind == "refund"


def test_refund_over_the_tier_limit_waits_for_review(api: Client, order_a: Order) -> None:
    response = post(api, "/api/refunds/", refund_body(order_a, "250.00"))

    assert response.status_code == 201
    data = response.json()
    assert (data["decision"], data["decided_at"]) == ("manual", None)
    assert data["reasons"] == [{"code": "over_tier_limit", "params": {"tier": "测试VIP", "limit": "200.00"}}]
    assert data["explanations"] == ["Tier 测试VIP refunds only up to 200.00 yuan instantly."]
    order_a.refresh_from_db()
    assert order_a.refunded_amount == Decimal("0.00")


def test_refund_over_the_order_amount_is_rejected(api: Client, order_a: Order) -> None:
    response = post(api, "/api/refunds/", refund_body(order_a, "300.01"))

    assert response.status_code == 201
    data = response.json()
    assert (data["decision"], data["reasons"]) == (
        "rejected",
        [{"code": "exceeds_refundable", "params": {"left": "300.00"}}],
    )
    assert data["explanations"] == ["Only 300.00 yuan of the order is left to refund."]


def test_same_key_twice_answers_the_same_decision_once(api: Client, order_a: Order) -> None:
    first = post(api, "/api/refunds/", refund_body(order_a, "120.00"))
    again = post(api, "/api/refunds/", refund_body(order_a, "120"))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    order_a.refresh_from_db()
    assert (RefundRequest.objects.count(), order_a.refunded_amount) == (1, Decimal("120.00"))


def test_key_reused_for_another_amount_is_a_conflict(api: Client, order_a: Order, order_b: Order) -> None:
    post(api, "/api/refunds/", refund_body(order_a, "120.00"))

    other_amount = post(api, "/api/refunds/", refund_body(order_a, "20.00"))
    other_order = post(api, "/api/refunds/", refund_body(order_b, "20.00"))

    conflict = {"idempotency_key": ["This key was used for another refund request."]}
    assert (other_amount.status_code, other_amount.json()["errors"]) == (409, conflict)
    assert (other_order.status_code, other_order.json()["errors"]) == (409, conflict)
    order_a.refresh_from_db()
    assert (RefundRequest.objects.count(), order_a.refunded_amount) == (1, Decimal("120.00"))


def test_idempotency_key_header_is_used_when_the_body_has_none(api: Client, order_a: Order) -> None:
    body = refund_body(order_a, "50.00")
    del body["idempotency_key"]

    first = post(api, "/api/refunds/", body, **{"Idempotency-Key": "hdr-1"})
    again = post(api, "/api/refunds/", body, **{"Idempotency-Key": "hdr-1"})

    assert (first.status_code, again.status_code, first.json()["idempotency_key"]) == (201, 200, "hdr-1")
    assert again.json() == first.json()
    assert RefundRequest.objects.get().idempotency_key == "hdr-1"


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"amount": "abc"}, {"amount": ["A valid number is required."]}),
        ({"amount": "-1"}, {"amount": ["The amount must be more than 0."]}),
        ({"amount": "0"}, {"amount": ["The amount must be more than 0."]}),
        ({"amount": "1.001"}, {"amount": ["Ensure that there are no more than 2 decimal places."]}),
        ({"amount": "NaN"}, {"amount": ["A valid number is required."]}),
        ({"amount": None}, {"amount": ["This field may not be null."]}),
        ({"order": "NO-SUCH"}, {"order": ["No such order."]}),
        ({"reason": ""}, {"reason": ["This field may not be blank."]}),
        ({"idempotency_key": ""}, {"idempotency_key": ["This field may not be blank."]}),
        ({"idempotency_key": "k" * 65}, {"idempotency_key": ["Ensure this field has no more than 64 characters."]}),
        ({"idempotency_key": None}, {"idempotency_key": ["This field may not be null."]}),
        ({"ticket": "abc"}, {"ticket": ["No such ticket."]}),
        ({"ticket": 999999}, {"ticket": ["No such ticket."]}),
    ],
)
def test_refund_with_bad_input_names_the_field(
    api: Client, order_a: Order, change: dict[str, Any], errors: dict[str, Any]
) -> None:
    response = post(api, "/api/refunds/", {**refund_body(order_a, "10.00"), **change})

    assert (response.status_code, response.json()["errors"]) == (400, errors)
    order_a.refresh_from_db()
    assert (RefundRequest.objects.count(), order_a.refunded_amount) == (0, Decimal("0.00"))


def test_refund_without_a_key_or_fields_names_them(api: Client) -> None:
    response = post(api, "/api/refunds/", {})

    required = ["This field is required."]
    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"order": required, "amount": required, "reason": required},
    )


@pytest.mark.parametrize(
    ("header", "errors"),
    [
        ("k" * 65, ["Ensure this field has no more than 64 characters."]),
        ("a\x00b", ["Null characters are not allowed."]),
    ],
)
def test_a_bad_idempotency_key_header_names_the_field(
    api: Client, order_a: Order, header: str, errors: list[str]
) -> None:
    body = refund_body(order_a, "10.00")
    del body["idempotency_key"]

    response = post(api, "/api/refunds/", body, **{"Idempotency-Key": header})

    assert (response.status_code, response.json()["errors"]) == (400, {"idempotency_key": errors})
    assert RefundRequest.objects.count() == 0


def test_refund_without_any_idempotency_key_is_refused(api: Client, order_a: Order) -> None:
    body = refund_body(order_a, "10.00")
    del body["idempotency_key"]

    response = post(api, "/api/refunds/", body)

    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"idempotency_key": ["An idempotency key of 1 to 64 characters is required."]},
    )


def test_refund_for_a_ticket_of_another_consumer_is_refused(api: Client, order_a: Order, ticket_b: Ticket) -> None:
    response = post(api, "/api/refunds/", refund_body(order_a, "10.00", ticket=ticket_b.pk))

    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"ticket": ["This ticket is about another order."]},
    )
    assert RefundRequest.objects.count() == 0


def test_refund_list_filters_by_decision_newest_first(api: Client, order_a: Order) -> None:
    instant = request_refund(order_a, Decimal("10.00"), "x", key="1")
    manual = request_refund(order_a, Decimal("250.00"), "x", key="2")
    later = request_refund(order_a, Decimal("20.00"), "x", key="3")

    assert ids(api.get("/api/refunds/")) == [later.pk, manual.pk, instant.pk]
    assert ids(api.get("/api/refunds/?decision=instant")) == [later.pk, instant.pk]
    assert ids(api.get("/api/refunds/?decision=manual")) == [manual.pk]
    assert api.get("/api/refunds/?decision=maybe").status_code == 400


def test_refund_detail(api: Client, order_a: Order) -> None:
    refund = request_refund(order_a, Decimal("10.00"), "x", key="1")

    response = api.get(f"/api/refunds/{refund.pk}/", headers=EN)

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["decision"]) == (refund.pk, "instant")
    assert response.json()["explanations"] == ["Tier 测试VIP refunds up to 200.00 yuan instantly."]


def test_the_tickets_api_is_documented(api: Client) -> None:
    schema = api.get("/api/schema/", headers={"accept": "application/vnd.oai.openapi+json", **EN}).json()

    paths = schema["paths"]
    assert {
        "/api/tickets/",
        "/api/tickets/{id}/",
        "/api/tickets/{id}/reply/",
        "/api/tickets/{id}/transition/",
        "/api/refunds/",
        "/api/refunds/{id}/",
    } <= set(paths)
    create_refund = paths["/api/refunds/"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create_refund["parameters"]]
    assert "A consumer is not a user of this API" in create_refund["description"]
    assert set(create_refund["responses"]) == {"200", "201", "400", "403", "409", "413", "415", "503"}


def test_refund_list_costs_the_same_queries_for_2_and_20_refunds(
    api: Client, shop_a: Merchant, make_user: Callable[..., User]
) -> None:
    def add(n: int) -> None:
        for i in range(n):
            who = f.consumer(tier=CreditTier.objects.create(name=f"退{i}-{n}", min_score=300 + i + n * 40))
            order = f.order(who, f.merchant(), "50.00", status="delivered")
            refund = request_refund(
                order, Decimal("10.00"), "x", key=f"list-{n}-{i}", requested_by=make_user(f"r-{n}-{i}")
            )
            assert refund.decision == "manual"
            review_refund(refund, approve=True, by=make_user(f"d-{n}-{i}"))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/refunds/?page_size=100")
        assert response.status_code == 200
        return len(queries)

    add(2)
    two = count()
    add(18)
    assert len(api.get("/api/refunds/?page_size=100").json()["results"]) == 20
    assert count() == two
