"""极速退货: every policy branch, the tiers, the carrier's first scan (exactly once, expiry: test_returns_once.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from crm.models import CreditTier, Order, RiskFlag
from merchants.models import Merchant
from tests.crm import factories as f
from tickets.models import Department, RefundRequest, ReturnRequest, Ticket, TicketEvent
from tickets.refunds import request_refund
from tickets.returns import (
    SHIP_DAYS,
    ReturnTier,
    explain,
    record_return_scan,
    request_return,
    return_policy,
    review_return,
)

D = ReturnRequest.Decision
ADDRESS = "浙江省杭州市余杭区文一西路 969 号 退货仓"


def tier(name: str) -> CreditTier:
    return CreditTier.objects.get(name=name)


def shop(**fields: Any) -> Merchant:
    return f.merchant(return_address=ADDRESS, **fields)


def delivered(tier_name: str | None, amount: str = "300.00", *, merchant: Merchant | None = None,
              **fields: Any) -> Order:  # fmt: skip
    who = f.consumer(tier=tier(tier_name) if tier_name else None)
    values = {"status": "delivered", "delivered_at": timezone.now() - timedelta(days=2), **fields}
    return f.order(who, merchant or shop(), amount, **values)


def codes(request: ReturnRequest) -> list[str]:
    return [r["code"] for r in request.reasons]


# --- the pure policy -------------------------------------------------------------------------------------

NOW = timezone.now()
GOLD = ReturnTier("金牌会员", True, False, Decimal("1000.00"))
VIP = ReturnTier("88VIP", True, True, Decimal("5000.00"))
FACTS: dict[str, Any] = {
    "left": Decimal("300.00"), "order_status": "delivered", "delivered_at": NOW - timedelta(days=1), "now": NOW,
    "open_return": False, "tier": GOLD, "risk_blocked": False, "merchant_instant": True, "merchant_cap": None,
    "return_address": ADDRESS,
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "decision", "at_once", "reason_codes"),
    [
        ({}, D.INSTANT, False, ["tier_instant_return", "refund_on_scan"]),
        ({"tier": VIP}, D.INSTANT, True, ["tier_instant_return", "refund_at_once"]),
        ({"tier": VIP, "left": Decimal("5000.01")}, D.INSTANT, False, ["tier_instant_return", "refund_on_scan"]),
        ({"tier": VIP, "merchant_cap": Decimal("299.99")}, D.INSTANT, False, ["tier_instant_return", "refund_on_scan"]),
        ({"tier": VIP, "left": Decimal("5000.00")}, D.INSTANT, True, ["tier_instant_return", "refund_at_once"]),
        ({"tier": VIP, "merchant_cap": Decimal("300.00")}, D.INSTANT, True, ["tier_instant_return", "refund_at_once"]),
        ({"left": Decimal("0.01")}, D.INSTANT, False, ["tier_instant_return", "refund_on_scan"]),
        ({"tier": VIP, "order_status": "completed"}, D.INSTANT, True, ["tier_instant_return", "refund_at_once"]),
        ({"tier": ReturnTier("普通会员", False, False, Decimal(50))}, D.MANUAL, False, ["tier_no_instant_return"]),
        ({"tier": None}, D.MANUAL, False, ["no_tier"]),
        ({"risk_blocked": True}, D.MANUAL, False, ["tier_instant_return", "risk_flag"]),
        ({"merchant_instant": False}, D.MANUAL, False, ["tier_instant_return", "merchant_no_instant"]),
        ({"return_address": "  "}, D.MANUAL, False, ["tier_instant_return", "no_return_address"]),
        ({"open_return": True}, D.REJECTED, False, ["return_open"]),
        ({"order_status": "shipped", "delivered_at": None}, D.REJECTED, False, ["not_delivered"]),
        ({"order_status": "paid"}, D.REJECTED, False, ["not_delivered"]),
        ({"order_status": "cancelled"}, D.REJECTED, False, ["order_cancelled"]),
        ({"delivered_at": NOW - timedelta(days=15, seconds=1)}, D.REJECTED, False, ["window_closed"]),
        ({"delivered_at": NOW - timedelta(days=15)}, D.INSTANT, False, ["tier_instant_return", "refund_on_scan"]),
        ({"left": Decimal("0.00"), "order_status": "refunded"}, D.REJECTED, False, ["nothing_left"]),
    ],
)
def test_the_return_policy_decides_on_plain_values(
    change: dict[str, Any], decision: str, at_once: bool, reason_codes: list[str]
) -> None:
    verdict = return_policy(**{**FACTS, **change})
    assert (verdict.decision, verdict.refund_at_once, [r["code"] for r in verdict.reasons]) == (
        decision, at_once, reason_codes,
    )  # fmt: skip


def test_a_closed_window_names_its_days() -> None:
    verdict = return_policy(**{**FACTS, "delivered_at": NOW - timedelta(days=16)})
    assert verdict.reasons == [{"code": "window_closed", "params": {"days": 15}}]


# --- storing: the tiers ------------------------------------------------------------------------------------


def test_a_top_tier_return_is_approved_and_refunded_at_once(db: None) -> None:
    order = delivered("88VIP")
    now = timezone.now()

    r = request_return(order, "尺码不合适", key="vip", now=now)

    order.refresh_from_db()
    assert (r.decision, r.refund_at_once, codes(r)) == (D.INSTANT, True, ["tier_instant_return", "refund_at_once"])
    assert (r.return_address, r.ship_by, r.amount, r.refunded_at) == (
        ADDRESS, now + timedelta(days=SHIP_DAYS), Decimal("300.00"), now,
    )  # fmt: skip
    assert (order.refunded_amount, order.status, order.returned) == (Decimal("300.00"), "refunded", False)
    refund = RefundRequest.objects.get()
    assert (refund.idempotency_key, refund.decision, refund.amount) == (f"return-{r.pk}", "instant", Decimal("300.00"))
    assert r.refund == refund
    with translation.override("en"):
        assert explain(r.reasons) == [
            "Tier 88VIP returns instantly.", "Tier 88VIP is refunded at once, before the goods are sent.",
        ]  # fmt: skip
    with translation.override("zh-hans"):
        assert explain(r.reasons) == ["信用等级 88VIP 享受极速退货。", "信用等级 88VIP 退货即时退款，无需等待寄回。"]


def test_a_gold_tier_return_is_approved_at_once_and_refunded_on_the_carriers_first_scan(db: None) -> None:
    order = delivered("金牌会员")
    r = request_return(order, "不想要了", key="gold")
    order.refresh_from_db()
    assert (r.decision, r.refund_at_once, order.refunded_amount, r.refunded_at) == (D.INSTANT, False, 0, None)

    scanned = record_return_scan(r, tracking_no="SF1234567890")

    order.refresh_from_db()
    assert (scanned.tracking_no, scanned.refund.amount) == ("SF1234567890", Decimal("300.00"))  # type: ignore[union-attr]
    assert (order.refunded_amount, order.status, order.returned) == (Decimal("300.00"), "refunded", True)


def test_the_scans_refund_is_filed_on_the_ticket_for_what_is_left_of_the_order(db: None, agent: Any) -> None:
    order = delivered("金牌会员", "300.00")
    department = Department.objects.create(code="as", name="售后")
    ticket = Ticket.objects.create(subject="退货", kind="return", department=department, consumer=order.consumer,
                                   order=order, merchant=order.merchant, created_at=timezone.now(),
                                   updated_at=timezone.now())  # fmt: skip
    r = request_return(order, "不想要了", key="left", requested_by=agent, ticket=ticket)
    # The marketplace's order file can carry a refund made outside the desk while the goods travel back.
    Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("250.00"))
    now = timezone.now()

    scanned = record_return_scan(r, tracking_no="SF1234567890", now=now)

    refund = RefundRequest.objects.get()
    assert scanned.refund == refund and scanned.refunded_at == now
    assert (refund.idempotency_key, refund.order, refund.consumer_id, refund.merchant_id, refund.ticket) == (
        f"return-{r.pk}", order, order.consumer_id, order.merchant_id, ticket,
    )  # fmt: skip
    assert (refund.amount, refund.reason, refund.decision, refund.requested_by) == (
        Decimal("50.00"), "不想要了", "instant", agent,
    )  # fmt: skip
    assert (refund.reasons, refund.created_at, refund.decided_at) == (
        [{"code": "return_refund", "params": {"id": r.pk}}], now, now,
    )  # fmt: skip
    order.refresh_from_db()
    assert (order.refunded_amount, order.status, order.refunded_at) == (Decimal("300.00"), "refunded", now)
    r.refresh_from_db()
    assert (r.refund, r.refunded_at) == (refund, now)


def test_a_scan_with_nothing_left_on_the_order_refunds_nothing(db: None) -> None:
    order = delivered("金牌会员", "300.00")
    r = request_return(order, "x", key="none-left")
    Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("299.50"))
    record_return_scan(r, tracking_no="SF1234567890")
    assert RefundRequest.objects.get().amount == Decimal("0.50")  # half a yuan is still refunded

    spent = delivered("金牌会员", "300.00")
    nothing = request_return(spent, "x", key="nothing-left")
    Order.objects.filter(pk=spent.pk).update(refunded_amount=Decimal("300.00"))
    scanned = record_return_scan(nothing, tracking_no="SF1234567891")
    assert (scanned.refund, scanned.refunded_at is not None) == (None, True)
    assert RefundRequest.objects.filter(order=spent).count() == 0


def test_the_carriers_later_scans_change_nothing(db: None) -> None:
    r = request_return(delivered("金牌会员"), "x", key="scan-twice")
    first = record_return_scan(r, tracking_no="SF1234567890")

    again = record_return_scan(r, tracking_no="SF1234567890")

    assert (again.scanned_at, RefundRequest.objects.count()) == (first.scanned_at, 1)
    with pytest.raises(ValidationError) as error:
        record_return_scan(r, tracking_no="YT0000000001")
    assert "tracking_no" in error.value.message_dict


def test_a_top_tier_return_scanned_later_is_not_refunded_twice(db: None) -> None:
    order = delivered("88VIP")
    r = request_return(order, "x", key="vip-scan")

    record_return_scan(r, tracking_no="SF1234567890")

    order.refresh_from_db()
    assert (order.refunded_amount, order.returned, RefundRequest.objects.count()) == (Decimal("300.00"), True, 1)


def test_a_tier_without_instant_returns_waits_for_a_supervisor(db: None, supervisor: Any) -> None:
    order = delivered("普通会员")
    r = request_return(order, "x", key="plain")
    assert (r.decision, codes(r), r.return_address, r.ship_by) == (D.MANUAL, ["tier_no_instant_return"], "", None)
    with pytest.raises(ValidationError):
        record_return_scan(r, tracking_no="SF1234567890")  # not approved yet

    approved = review_return(r, approve=True, by=supervisor)

    assert (approved.decision, approved.return_address, codes(approved)[-2:]) == (
        D.APPROVED, ADDRESS, ["reviewed", "refund_on_scan"],
    )  # fmt: skip
    record_return_scan(approved, tracking_no="SF1234567890")
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("300.00")
    with pytest.raises(ValidationError):
        review_return(approved, approve=False, by=supervisor)


def test_a_rejected_return_cannot_be_scanned_and_frees_the_order(db: None, supervisor: Any) -> None:
    order = delivered("普通会员")
    r = review_return(request_return(order, "x", key="no"), approve=False, by=supervisor)
    with pytest.raises(ValidationError):
        record_return_scan(r, tracking_no="SF1234567890")
    # a rejected return is no longer under way: a new one may be asked for
    assert request_return(order, "x", key="again").decision == D.MANUAL


def _confirmed_flag(o: Order) -> None:
    RiskFlag.objects.create(consumer=o.consumer, kind="extortion", status="confirmed", detected_at=timezone.now())


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (_confirmed_flag, "risk_flag"),
        (lambda o: Merchant.objects.filter(pk=o.merchant_id).update(return_address=""), "no_return_address"),
        (lambda o: Merchant.objects.filter(pk=o.merchant_id).update(instant_refunds=False), "merchant_no_instant"),
    ],
)
def test_holds_send_a_trusted_consumers_return_to_review(db: None, setup: Any, code: str) -> None:
    order = delivered("88VIP")
    setup(order)
    r = request_return(order, "x", key=f"hold-{code}")
    order.refresh_from_db()
    assert (r.decision, codes(r)[-1], order.refunded_amount) == (D.MANUAL, code, 0)


def test_a_supervisor_cannot_approve_a_return_with_nowhere_to_send_it(db: None, supervisor: Any) -> None:
    order = delivered("普通会员", merchant=f.merchant())
    with pytest.raises(ValidationError) as error:
        review_return(request_return(order, "x", key="nowhere"), approve=True, by=supervisor)
    assert "return_address" in error.value.message_dict


def test_an_undelivered_or_finished_order_is_rejected_with_the_reason(db: None) -> None:
    shipped = delivered("88VIP", status="shipped", delivered_at=None)
    late = delivered("88VIP", delivered_at=timezone.now() - timedelta(days=16))
    assert codes(request_return(shipped, "x", key="shipped")) == ["not_delivered"]
    assert codes(request_return(late, "x", key="late")) == ["window_closed"]
    assert not RefundRequest.objects.exists()


def test_a_second_return_of_an_order_is_rejected_while_one_is_under_way(db: None) -> None:
    order = delivered("金牌会员")
    request_return(order, "x", key="one")
    assert codes(request_return(order, "x", key="two")) == ["return_open"]


def test_a_return_under_way_reserves_its_amount_from_refunds(db: None) -> None:
    order = delivered("金牌会员", "300.00")
    request_refund(order, Decimal("100.00"), "x", key="part")  # instant: 200 left
    r = request_return(order, "x", key="rest")
    assert r.amount == Decimal("200.00")

    assert request_refund(order, Decimal("1.00"), "x", key="more").decision == "rejected"

    record_return_scan(r, tracking_no="SF1234567890")
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (Decimal("300.00"), "refunded")


def test_a_tiers_privileges_edited_in_the_admin_take_effect(db: None, supervisor: Any, client_for: Any) -> None:
    plain = tier("普通会员")
    page = client_for(supervisor).post(
        f"/admin/crm/credittier/{plain.pk}/change/",
        {"name": plain.name, "min_score": plain.min_score, "instant_refund_limit": "50.00", "instant_returns": "on",
         "instant_disputes": "on", "description": ""},
    )  # fmt: skip
    assert page.status_code == 302
    plain.refresh_from_db()
    assert (plain.instant_returns, plain.return_refund_at_once, plain.instant_disputes) == (True, False, True)

    assert request_return(delivered("普通会员"), "x", key="edited").decision == D.INSTANT


def test_the_seeded_tiers_carry_their_privileges(db: None) -> None:
    rows = CreditTier.objects.order_by("-min_score").values_list(
        "name", "instant_returns", "return_refund_at_once", "instant_disputes"
    )
    assert list(rows) == [
        ("88VIP", True, True, True), ("金牌会员", True, False, True), ("银牌会员", True, False, False),
        ("普通会员", False, False, False), ("受限", False, False, False),
    ]  # fmt: skip


def test_the_ticket_timeline_records_the_return(db: None) -> None:
    order = delivered("金牌会员")
    department = Department.objects.create(code="as", name="售后")
    ticket = Ticket.objects.create(subject="退货", kind="return", department=department, consumer=order.consumer,
                                   order=order, merchant=order.merchant, created_at=timezone.now(),
                                   updated_at=timezone.now())  # fmt: skip
    r = request_return(order, "x", key="tl", ticket=ticket)
    record_return_scan(r, tracking_no="SF1234567890")

    events = TicketEvent.objects.filter(ticket=ticket, kind="return").values_list("data__scanned", "data__refunded")
    assert list(events) == [(False, False), (True, True)]


def test_a_return_on_the_timeline_names_the_return_its_decision_reasons_and_who(db: None, supervisor: Any) -> None:
    order = delivered("普通会员")  # no instant return: a supervisor decides
    department = Department.objects.create(code="as", name="售后")
    then = timezone.now() - timedelta(hours=1)
    ticket = Ticket.objects.create(subject="退货", kind="return", department=department, consumer=order.consumer,
                                   order=order, merchant=order.merchant, created_at=then, updated_at=then)  # fmt: skip
    r = request_return(order, "x", key="who", ticket=ticket)
    now = timezone.now()

    approved = review_return(r, approve=True, by=supervisor, now=now)

    event = TicketEvent.objects.filter(ticket=ticket, kind="return").latest("created_at")
    assert (event.author_kind, event.author, event.created_at) == (TicketEvent.Author.AGENT, supervisor, now)
    with translation.override("zh-hans"):
        assert event.body == str(D(approved.decision).label)
    assert event.data == {"return": r.pk, "decision": "approved", "reasons": approved.reasons, "scanned": False,
                          "refunded": False}  # fmt: skip
    assert Ticket.objects.get(pk=ticket.pk).updated_at == now
