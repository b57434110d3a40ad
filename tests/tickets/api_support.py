"""What the tickets API's tests share besides fixtures (tests/tickets/conftest.py): grants, posts, request bodies."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import Permission, User
from django.test import Client

from crm.models import Order

EN = {"accept-language": "en"}
JSON = "application/json"


def grant(user: User, *codenames: str) -> User:
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames, content_type__app_label="tickets"))
    return user


def ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def post(client: Client, url: str, data: Any, **headers: str) -> Any:
    return client.post(url, json.dumps(data), content_type=JSON, headers={**EN, **headers})


def numbered(order: Order, order_no: str) -> Order:
    order.order_no = order_no
    order.save(update_fields=["order_no"])
    return order


def refund_body(order: Order, amount: str, key: str = "key-1", **extra: Any) -> dict[str, Any]:
    return {"order": order.order_no, "amount": amount, "reason": "质量问题", "idempotency_key": key, **extra}


# Permissions ------------------------------------------------------------------------------------
