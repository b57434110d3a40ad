"""The 0-second refund: every policy branch, idempotency, and real concurrency on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone, translation

from crm.models import CreditTier, Order, RiskFlag
from tests.crm import factories as f
from tickets.models import RefundRequest
from tickets.refunds import KeyReused, explain, request_refund, review_refund

D = RefundRequest.Decision


def tier(name: str) -> CreditTier:
    return CreditTier.objects.get(name=name)


@pytest.fixture
def vip_order(db: None) -> Order:
    who = f.consumer(tier=tier("88VIP"))
    return f.order(who, f.merchant(), "300.00", status="delivered", delivered_at=timezone.now())


def codes(refund: RefundRequest) -> list[str]:
    return [r["code"] for r in refund.reasons]


def test_top_tier_consumer_is_refunded_instantly(vip_order: Order) -> None:
    refund = request_refund(vip_order, Decimal("120.00"), "破损", key="k1")
    vip_order.refresh_from_db()
    assert (refund.decision, codes(refund)) == (D.INSTANT, ["within_tier_limit"])
    assert (vip_order.refunded_amount, vip_order.status) == (Decimal("120.00"), "delivered")
    with translation.override("en"):
        assert explain(refund.reasons) == ["Tier 88VIP refunds up to 5000.00 yuan instantly."]
    with translation.override("zh-hans"):
        assert explain(refund.reasons) == ["信用等级 88VIP 可即时退款 5000.00 元以内。"]


def test_full_refund_marks_the_order_refunded(vip_order: Order) -> None:
    request_refund(vip_order, Decimal("300.00"), "不想要了", key="full")
    vip_order.refresh_from_db()
    assert (vip_order.refunded_amount, vip_order.status) == (Decimal("300.00"), "refunded")


def test_restricted_consumer_goes_to_manual_review(db: None) -> None:
    order = f.order(f.consumer(tier=tier("受限")), f.merchant(), "30.00")
    refund = request_refund(order, Decimal("10.00"), "质量问题", key="r1")
    order.refresh_from_db()
    assert (refund.decision, codes(refund)) == (D.MANUAL, ["over_tier_limit"])
    assert order.refunded_amount == 0


def test_amount_over_the_tier_limit_goes_to_manual_review(db: None) -> None:
    order = f.order(f.consumer(tier=tier("普通会员")), f.merchant(), "300.00")
    assert request_refund(order, Decimal("60.00"), "x", key="m1").decision == D.MANUAL


def test_unrated_consumer_goes_to_manual_review(db: None) -> None:
    order = f.order(f.consumer(), f.merchant(), "30.00")
    assert codes(request_refund(order, Decimal("5.00"), "x", key="n1")) == ["no_tier"]


def test_confirmed_risk_flag_blocks_the_instant_refund(vip_order: Order) -> None:
    RiskFlag.objects.create(
        consumer=vip_order.consumer, kind="extortion", status="confirmed", detected_at=timezone.now()
    )
    refund = request_refund(vip_order, Decimal("10.00"), "x", key="flag")
    assert (refund.decision, codes(refund)) == (D.MANUAL, ["within_tier_limit", "risk_flag"])


def test_merchant_policy_is_respected(vip_order: Order) -> None:
    merchant = vip_order.merchant
    merchant.instant_refund_cap = Decimal("50.00")
    merchant.save()
    assert codes(request_refund(vip_order, Decimal("80.00"), "x", key="cap")) == [
        "within_tier_limit",
        "over_merchant_cap",
    ]
    merchant.instant_refunds = False
    merchant.save()
    assert codes(request_refund(vip_order, Decimal("5.00"), "x", key="off"))[-1] == "merchant_no_instant"


@pytest.mark.parametrize(
    ("amount", "status", "code"),
    [
        ("300.01", "delivered", "exceeds_refundable"),
        ("10", "cancelled", "order_cancelled"),
    ],
)
def test_rejections_say_why(vip_order: Order, amount: str, status: str, code: str) -> None:
    Order.objects.filter(pk=vip_order.pk).update(status=status)
    refund = request_refund(vip_order, Decimal(amount), "x", key=f"rej-{code}")
    assert refund.decision == D.REJECTED and code in codes(refund)
    vip_order.refresh_from_db()
    assert vip_order.refunded_amount == 0


def test_completed_order_past_the_window_is_rejected(db: None) -> None:
    order = f.order(f.consumer(tier=tier("88VIP")), f.merchant(), "50.00", status="completed",
                    delivered_at=timezone.now() - timedelta(days=16))  # fmt: skip
    assert codes(request_refund(order, Decimal("5.00"), "x", key="late")) == ["window_closed"]


def test_the_same_key_returns_the_same_decision_and_refunds_once(vip_order: Order) -> None:
    first = request_refund(vip_order, Decimal("100.00"), "x", key="same")
    again = request_refund(vip_order, Decimal("100.00"), "x", key="same")
    vip_order.refresh_from_db()
    assert again.pk == first.pk and again.decision == D.INSTANT
    assert vip_order.refunded_amount == Decimal("100.00") and RefundRequest.objects.count() == 1


def test_a_key_reused_for_another_amount_is_an_error(vip_order: Order) -> None:
    request_refund(vip_order, Decimal("100.00"), "x", key="reuse")
    with pytest.raises(KeyReused):
        request_refund(vip_order, Decimal("99.00"), "x", key="reuse")
    with pytest.raises(ValidationError):
        request_refund(vip_order, Decimal("1.00"), "x", key="")


def test_manual_reviews_reserve_their_amount_and_approval_refunds(vip_order: Order, supervisor: Any) -> None:
    tier_ = vip_order.consumer.tier
    assert tier_ is not None
    tier_.instant_refund_limit = Decimal("100.00")
    tier_.save()
    manual = request_refund(vip_order, Decimal("250.00"), "x", key="big")
    assert manual.decision == D.MANUAL
    # 50 left once the 250 under review is reserved
    assert codes(request_refund(vip_order, Decimal("60.00"), "x", key="more")) == ["exceeds_refundable"]
    approved = review_refund(manual, approve=True, by=supervisor)
    vip_order.refresh_from_db()
    assert approved.decision == D.APPROVED and vip_order.refunded_amount == Decimal("250.00")
    with pytest.raises(ValidationError):
        review_refund(approved, approve=False, by=supervisor, note="晚了")


def _race(calls: list[Any]) -> list[Any]:
    """Run the calls at the same moment on separate threads, each with its own database connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = calls[i]()
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_requests_never_refund_more_than_the_order(transactional_db: None) -> None:
    order = f.order(f.consumer(tier=tier("88VIP")), f.merchant(), "100.00", status="delivered")
    results = _race([lambda k=k: request_refund(order, Decimal("60.00"), "x", key=k) for k in ("a", "b", "c", "d")])
    decisions = sorted(r.decision for r in results)
    order.refresh_from_db()
    assert decisions == [D.INSTANT, D.REJECTED, D.REJECTED, D.REJECTED]
    assert order.refunded_amount == Decimal("60.00")


def test_concurrent_retries_with_one_key_make_one_request(transactional_db: None) -> None:
    order = f.order(f.consumer(tier=tier("88VIP")), f.merchant(), "100.00", status="delivered")
    results = _race([lambda: request_refund(order, Decimal("40.00"), "x", key="retry")] * 4)
    order.refresh_from_db()
    assert {r.pk for r in results} == {RefundRequest.objects.get().pk}
    assert order.refunded_amount == Decimal("40.00")


@pytest.mark.parametrize("amount", ["0", "-1", "0.005", "NaN", "Infinity", "1e20", "abc"])
def test_bad_amounts_are_refused_before_any_decision(vip_order: Order, amount: str) -> None:
    with pytest.raises(ValidationError) as error:
        request_refund(vip_order, amount, "x", key=f"bad-{amount}")  # type: ignore[arg-type]
    assert "amount" in error.value.message_dict
    assert not RefundRequest.objects.exists()
