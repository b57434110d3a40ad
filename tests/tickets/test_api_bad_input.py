"""The tickets API refuses bad input by naming the field, and no malformed value is a server error."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from crm.models import Order
from tests.tickets.api_support import EN, JSON, post, refund_body
from tickets.models import Department, RefundRequest, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


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
