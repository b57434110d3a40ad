"""Every big admin list costs the same number of queries for 2 rows as for 25 (no query per row)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import CreditRating, CreditTier, RiskFlag
from merchants.models import MerchantScore
from tests.crm import factories as f
from tickets.models import RefundRequest

pytestmark = pytest.mark.django_db


def make_row(kind: str, n: int) -> None:
    who = f.consumer(tier=CreditTier.objects.first())
    shop = f.merchant()
    order = f.order(who, shop)
    if kind == "review":
        f.review(order, (5, 4, 2), "还行 13912345678")
    elif kind == "flag":
        RiskFlag.objects.create(consumer=who, kind="extortion", detected_at=timezone.now(), evidence={"reviews": 1})
    elif kind == "rating":
        CreditRating.objects.create(consumer=who, score=500, tier=who.tier, computed_at=timezone.now())
    elif kind == "score":
        MerchantScore.objects.create(merchant=shop, day=timezone.localdate() - timedelta(days=n), reviews=1,
                                     dsr_item=5, dsr_service=5, dsr_logistics=5, orders=1, dispute_rate=0,
                                     service_score=90, traffic_weight=1.4)  # fmt: skip
    elif kind == "refund":
        RefundRequest.objects.create(
            idempotency_key=f"k{n}-{order.pk}", order=order, consumer=who, merchant=shop, amount=Decimal("1.00"),
            reason="x", decision="manual", created_at=timezone.now(),
        )  # fmt: skip


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("/admin/crm/consumer/", "consumer"),
        ("/admin/crm/order/", "order"),
        ("/admin/crm/review/", "review"),
        ("/admin/crm/riskflag/", "flag"),
        ("/admin/crm/creditrating/", "rating"),
        ("/admin/merchants/merchant/", "merchant"),
        ("/admin/merchants/merchantscore/", "score"),
        ("/admin/tickets/refundrequest/", "refund"),
    ],
)
def test_admin_list_query_count_does_not_grow_with_rows(
    supervisor: User, client_for: Callable[[User], Client], url: str, kind: str
) -> None:
    client = client_for(supervisor)
    for n in range(2):
        make_row(kind, n)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(2, 25):
        make_row(kind, n)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(few) == len(many), [q["sql"][:120] for q in many.captured_queries]
