"""Small builders for crm and merchants rows in tests (plain functions, real database)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from django.utils import timezone

from crm.models import Consumer, Order, Review
from merchants.models import Merchant

_seq = count(1)


def merchant(code: str | None = None, **fields: Any) -> Merchant:
    n = next(_seq)
    defaults = {"name": f"测试店铺{n}", "category": "数码", "opened_at": timezone.now() - timedelta(days=400)}
    return Merchant.objects.create(code=code or f"TM{n:06d}", **{**defaults, **fields})


def consumer(external_id: str | None = None, **fields: Any) -> Consumer:
    n = next(_seq)
    defaults = {"display_name": f"顾客{n}", "registered_at": timezone.now() - timedelta(days=365)}
    return Consumer.objects.create(external_id=external_id or f"TC{n:08d}", **{**defaults, **fields})


def order(who: Consumer, shop: Merchant, amount: str = "100.00", **fields: Any) -> Order:
    n = next(_seq)
    defaults: dict[str, Any] = {"item_title": "无线蓝牙耳机", "placed_at": timezone.now() - timedelta(days=3)}
    return Order.objects.create(
        order_no=f"T{n:012d}", consumer=who, merchant=shop, amount=Decimal(amount), **{**defaults, **fields}
    )


def review(of: Order, stars: tuple[int, int, int], text: str = "", created_at: datetime | None = None,
           **fields: Any) -> Review:  # fmt: skip
    return Review.objects.create(
        order=of,
        consumer_id=of.consumer_id,
        merchant_id=of.merchant_id,
        item_stars=stars[0],
        service_stars=stars[1],
        logistics_stars=stars[2],
        text=text,
        is_negative=min(stars) <= 2,
        created_at=created_at or timezone.now(),
        **fields,
    )
