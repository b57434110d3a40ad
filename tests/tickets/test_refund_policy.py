"""The refund policy, branch by branch: the exact decision and reasons of ``policy()`` on plain values, and the
same cases end to end through ``request_refund`` (decision, stored amount, what the order has refunded).

Every test asserts the decision itself, not only a reason code: a policy that gave an untiered consumer an
instant refund once passed every test that looked at the codes alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from crm.models import CreditTier, Order, RiskFlag
from tests.crm import factories as f
from tickets.models import Department, RefundRequest, Ticket, TicketEvent
from tickets.refunds import (
    REFUND_WINDOW_DAYS,
    KeyReused,
    Tier,
    Verdict,
    explain,
    left_to_refund,
    policy,
    replay,
    request_refund,
    review_refund,
    valid_amount,
)
from tickets.services import open_ticket

D = RefundRequest.Decision
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
VIP = Tier("88VIP", Decimal("5000.00"))
WINDOW = timedelta(days=REFUND_WINDOW_DAYS)


def decide(**facts: Any) -> Verdict:
    """The policy for a 100-yuan request on a delivered order of a VIP with nothing against them, but for ``facts``."""
    values: dict[str, Any] = {
        "amount": Decimal("100.00"), "left": Decimal("300.00"), "order_status": Order.Status.DELIVERED,
        "delivered_at": NOW - timedelta(days=1), "now": NOW, "tier": VIP, "risk_blocked": False,
        "merchant_instant": True, "merchant_cap": None,
    }  # fmt: skip
    return policy(**{**values, **facts})


def within(tier: Tier = VIP) -> dict[str, Any]:
    return {"code": "within_tier_limit", "params": {"tier": tier.name, "limit": str(tier.instant_limit)}}


def over(tier: Tier) -> dict[str, Any]:
    return {"code": "over_tier_limit", "params": {"tier": tier.name, "limit": str(tier.instant_limit)}}


# --- policy(): values in, a decision out ------------------------------------------------------------


def test_policy_grants_an_instant_refund_when_everything_allows_it() -> None:
    assert decide() == Verdict(D.INSTANT, [within()])


def test_policy_sends_an_untiered_consumer_to_manual_review_whatever_the_amount() -> None:
    assert decide(tier=None) == Verdict(D.MANUAL, [{"code": "no_tier"}])
    assert decide(tier=None, amount=Decimal("0.01")) == Verdict(D.MANUAL, [{"code": "no_tier"}])


def test_policy_refunds_instantly_up_to_the_tier_limit_and_not_a_cent_more() -> None:
    silver = Tier("银牌会员", Decimal("300.00"))
    left = Decimal("1000.00")
    assert decide(tier=silver, amount=Decimal("300.00"), left=left) == Verdict(D.INSTANT, [within(silver)])
    assert decide(tier=silver, amount=Decimal("300.01"), left=left) == Verdict(D.MANUAL, [over(silver)])


def test_policy_never_refunds_a_zero_limit_tier_instantly() -> None:
    restricted = Tier("受限", Decimal("0.00"))
    assert decide(tier=restricted, amount=Decimal("0.01")) == Verdict(D.MANUAL, [over(restricted)])


def test_policy_sends_a_confirmed_risk_to_manual_review() -> None:
    assert decide(risk_blocked=True) == Verdict(D.MANUAL, [within(), {"code": "risk_flag"}])


def test_policy_respects_a_merchant_without_instant_refunds() -> None:
    assert decide(merchant_instant=False) == Verdict(D.MANUAL, [within(), {"code": "merchant_no_instant"}])
    # Without instant refunds the cap says nothing more.
    assert decide(merchant_instant=False, merchant_cap=Decimal("1.00")) == Verdict(
        D.MANUAL, [within(), {"code": "merchant_no_instant"}]
    )


def test_policy_respects_the_merchant_cap_up_to_the_cent() -> None:
    assert decide(merchant_cap=Decimal("100.00")) == Verdict(D.INSTANT, [within()])
    assert decide(merchant_cap=Decimal("99.99")) == Verdict(
        D.MANUAL, [within(), {"code": "over_merchant_cap", "params": {"cap": "99.99"}}]
    )


def test_policy_gives_every_reason_for_a_manual_review_in_order() -> None:
    assert decide(tier=None, risk_blocked=True, merchant_cap=Decimal("50.00")) == Verdict(
        D.MANUAL,
        [{"code": "no_tier"}, {"code": "risk_flag"}, {"code": "over_merchant_cap", "params": {"cap": "50.00"}}],
    )


def test_policy_refunds_exactly_what_is_left_and_rejects_a_cent_more() -> None:
    assert decide(amount=Decimal("300.00")) == Verdict(D.INSTANT, [within()])
    assert decide(amount=Decimal("300.01")) == Verdict(
        D.REJECTED, [{"code": "exceeds_refundable", "params": {"left": "300.00"}}]
    )


def test_policy_says_nothing_is_left_rather_than_a_negative_amount() -> None:
    assert decide(left=Decimal("-20.00")) == Verdict(
        D.REJECTED, [{"code": "exceeds_refundable", "params": {"left": "0.00"}}]
    )
    assert decide(left=Decimal("0.00"), amount=Decimal("0.01")) == Verdict(
        D.REJECTED, [{"code": "exceeds_refundable", "params": {"left": "0.00"}}]
    )


def test_policy_rejects_a_cancelled_order_before_looking_at_the_tier() -> None:
    assert decide(order_status=Order.Status.CANCELLED, tier=None, risk_blocked=True) == Verdict(
        D.REJECTED, [{"code": "order_cancelled"}]
    )


def test_policy_rejects_a_completed_order_delivered_more_than_the_window_ago() -> None:
    closed = Verdict(D.REJECTED, [{"code": "window_closed", "params": {"days": 15}}])
    completed = Order.Status.COMPLETED
    assert decide(order_status=completed, delivered_at=NOW - WINDOW - timedelta(seconds=1)) == closed
    assert decide(order_status=completed, delivered_at=NOW - WINDOW) == Verdict(D.INSTANT, [within()])
    assert decide(order_status=completed, delivered_at=None) == Verdict(D.INSTANT, [within()])


def test_policy_keeps_the_window_open_for_orders_not_completed() -> None:
    long_ago = NOW - timedelta(days=90)
    for status in (Order.Status.PAID, Order.Status.SHIPPED, Order.Status.DELIVERED):
        assert decide(order_status=status, delivered_at=long_ago) == Verdict(D.INSTANT, [within()]), status


def test_policy_gives_every_reason_for_a_rejection() -> None:
    assert decide(amount=Decimal("400.00"), order_status=Order.Status.CANCELLED) == Verdict(
        D.REJECTED, [{"code": "exceeds_refundable", "params": {"left": "300.00"}}, {"code": "order_cancelled"}]
    )
    late = decide(amount=Decimal("400.00"), order_status=Order.Status.COMPLETED, delivered_at=NOW - timedelta(days=20))
    assert late == Verdict(
        D.REJECTED,
        [
            {"code": "exceeds_refundable", "params": {"left": "300.00"}},
            {"code": "window_closed", "params": {"days": 15}},
        ],
    )


# --- request_refund(): the same branches stored ----------------------------------------------------


def tier(name: str) -> CreditTier:
    return CreditTier.objects.get(name=name)


def stored(order: Order, amount: str, key: str, **fields: Any) -> tuple[str, list[str], Decimal, Decimal, str, bool]:
    """(decision, reason codes, amount stored, order refunded so far, order status, decided now)."""
    refund = request_refund(order, Decimal(amount), "x", key=key, now=NOW, **fields)
    order.refresh_from_db()
    row = RefundRequest.objects.get(pk=refund.pk)
    codes = [r["code"] for r in row.reasons]
    return row.decision, codes, row.amount, order.refunded_amount, order.status, row.decided_at == NOW


@pytest.mark.django_db
def test_an_untiered_consumer_is_not_refunded_until_reviewed() -> None:
    order = f.order(f.consumer(), f.merchant(), "30.00", status="delivered")
    assert stored(order, "5.00", "n") == (D.MANUAL, ["no_tier"], Decimal("5.00"), Decimal("0.00"), "delivered", False)


@pytest.mark.django_db
def test_a_vip_is_refunded_instantly_and_the_order_shows_it() -> None:
    order = f.order(f.consumer(tier=tier("88VIP")), f.merchant(), "300.00", status="delivered")
    assert stored(order, "120.00", "a") == (
        D.INSTANT, ["within_tier_limit"], Decimal("120.00"), Decimal("120.00"), "delivered", True
    )  # fmt: skip
    assert stored(order, "180.00", "b") == (
        D.INSTANT, ["within_tier_limit"], Decimal("180.00"), Decimal("300.00"), "refunded", True
    )  # fmt: skip


@pytest.mark.django_db
def test_the_tier_limit_is_inclusive_end_to_end() -> None:
    order = f.order(f.consumer(tier=tier("普通会员")), f.merchant(), "300.00", status="delivered")  # limit 50
    assert stored(order, "50.00", "at") == (
        D.INSTANT, ["within_tier_limit"], Decimal("50.00"), Decimal("50.00"), "delivered", True
    )  # fmt: skip
    assert stored(order, "50.01", "over") == (
        D.MANUAL, ["over_tier_limit"], Decimal("50.01"), Decimal("50.00"), "delivered", False
    )  # fmt: skip


@pytest.mark.django_db
def test_a_confirmed_risk_flag_holds_the_refund_but_an_open_one_does_not() -> None:
    who = f.consumer(tier=tier("88VIP"))
    order = f.order(who, f.merchant(), "300.00", status="delivered")
    flag = RiskFlag.objects.create(consumer=who, kind="extortion", status="open", detected_at=NOW)
    assert stored(order, "10.00", "open")[:4] == (D.INSTANT, ["within_tier_limit"], Decimal("10.00"), Decimal("10.00"))
    RiskFlag.objects.filter(pk=flag.pk).update(status="confirmed")
    assert stored(order, "10.00", "confirmed")[:4] == (
        D.MANUAL, ["within_tier_limit", "risk_flag"], Decimal("10.00"), Decimal("10.00")
    )  # fmt: skip


@pytest.mark.django_db
def test_the_merchant_s_policy_holds_the_refund_end_to_end() -> None:
    who = f.consumer(tier=tier("88VIP"))
    capped = f.order(who, f.merchant(instant_refund_cap=Decimal("50.00")), "300.00", status="delivered")
    assert stored(capped, "50.00", "cap-at")[:4] == (
        D.INSTANT,
        ["within_tier_limit"],
        Decimal("50.00"),
        Decimal("50.00"),
    )
    assert stored(capped, "50.01", "cap-over")[:4] == (
        D.MANUAL, ["within_tier_limit", "over_merchant_cap"], Decimal("50.01"), Decimal("50.00")
    )  # fmt: skip
    off = f.order(who, f.merchant(instant_refunds=False), "300.00", status="delivered")
    assert stored(off, "1.00", "off")[:4] == (
        D.MANUAL, ["within_tier_limit", "merchant_no_instant"], Decimal("1.00"), Decimal("0.00")
    )  # fmt: skip


@pytest.mark.django_db
def test_rejections_refund_nothing_and_are_decided_at_once() -> None:
    who = f.consumer(tier=tier("88VIP"))
    order = f.order(who, f.merchant(), "100.00", status="delivered")
    assert stored(order, "100.01", "more") == (
        D.REJECTED, ["exceeds_refundable"], Decimal("100.01"), Decimal("0.00"), "delivered", True
    )  # fmt: skip
    cancelled = f.order(who, f.merchant(), "100.00", status="cancelled")
    assert stored(cancelled, "1.00", "cancelled")[:4] == (
        D.REJECTED,
        ["order_cancelled"],
        Decimal("1.00"),
        Decimal("0"),
    )
    late = f.order(who, f.merchant(), "100.00", status="completed", delivered_at=NOW - WINDOW - timedelta(seconds=1))
    assert stored(late, "1.00", "late")[:4] == (D.REJECTED, ["window_closed"], Decimal("1.00"), Decimal("0"))
    in_time = f.order(who, f.merchant(), "100.00", status="completed", delivered_at=NOW - WINDOW)
    assert stored(in_time, "1.00", "in-time")[:4] == (
        D.INSTANT,
        ["within_tier_limit"],
        Decimal("1.00"),
        Decimal("1.00"),
    )


@pytest.mark.django_db
def test_what_is_left_counts_refunds_made_and_reviews_pending() -> None:
    who = f.consumer(tier=tier("普通会员"))  # instant up to 50
    order = f.order(who, f.merchant(), "100.00", status="delivered")
    assert stored(order, "30.00", "instant")[:4] == (
        D.INSTANT,
        ["within_tier_limit"],
        Decimal("30.00"),
        Decimal("30.00"),
    )
    assert stored(order, "60.00", "review")[:4] == (D.MANUAL, ["over_tier_limit"], Decimal("60.00"), Decimal("30.00"))
    # 100 - 30 refunded - 60 reserved = 10 left
    assert stored(order, "10.01", "too-much")[:4] == (
        D.REJECTED, ["exceeds_refundable"], Decimal("10.01"), Decimal("30.00")
    )  # fmt: skip
    assert RefundRequest.objects.get(idempotency_key="too-much").reasons[0]["params"] == {"left": "10.00"}
    assert stored(order, "10.00", "the-rest")[:4] == (
        D.INSTANT,
        ["within_tier_limit"],
        Decimal("10.00"),
        Decimal("40.00"),
    )


# --- replay(): the one rule for a used key ------------------------------------------------------------


@pytest.mark.django_db
def test_replay_answers_a_retry_with_the_first_request_and_a_new_key_with_none() -> None:
    order = f.order(f.consumer(tier=tier("88VIP")), f.merchant(), "100.00", status="delivered")
    assert replay("fresh", order, "10.00", requested_by=None) is None
    first = request_refund(order, Decimal("10.00"), "x", key="k")
    assert replay("k", order, "10.00", requested_by=None) == first
    assert replay("k", order, Decimal("10"), requested_by=None) == first  # the same amount written another way


@pytest.mark.django_db
def test_replay_refuses_a_key_used_for_another_order_or_amount() -> None:
    who = f.consumer(tier=tier("88VIP"))
    order, other = f.order(who, f.merchant(), "100.00"), f.order(who, f.merchant(), "100.00")
    request_refund(order, Decimal("10.00"), "x", key="k")
    with pytest.raises(KeyReused):
        replay("k", order, "10.01", requested_by=None)
    with pytest.raises(KeyReused):
        replay("k", other, "10.00", requested_by=None)
    with pytest.raises(KeyReused):
        request_refund(other, Decimal("10.00"), "x", key="k")
    other.refresh_from_db()
    assert (other.refunded_amount, RefundRequest.objects.count()) == (Decimal("0.00"), 1)


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "amount", "field"), [("", "1", "idempotency_key"), ("k" * 65, "1", "idempotency_key"),
                                                      ("k" * 64, "0", "amount"), ("k", "1.001", "amount")])  # fmt: skip
def test_replay_refuses_a_bad_key_or_amount(key: str, amount: str, field: str) -> None:
    order = f.order(f.consumer(tier=tier("88VIP")), f.merchant(), "100.00")
    with pytest.raises(ValidationError) as error:
        replay(key, order, amount, requested_by=None)
    assert list(error.value.message_dict) == [field]
    assert not isinstance(error.value, KeyReused)


# --- what the stored decision says: reasons in words, the timeline, the review ------------------------


def test_reasons_read_in_words_with_and_without_parameters() -> None:
    with translation.override("en"):
        assert explain(
            [{"code": "no_tier"}, {"code": "over_merchant_cap", "params": {"cap": "9.00"}}, {"code": "?"}]
        ) == [
            "The consumer has no credit tier yet.",
            "The merchant caps instant refunds at 9.00 yuan.",
        ]


@pytest.mark.django_db
def test_a_reused_key_is_refused_with_its_own_message() -> None:
    order = f.order(f.consumer(tier=tier("88VIP")), f.merchant(), "100.00")
    request_refund(order, Decimal("10.00"), "x", key="k")
    with translation.override("en"), pytest.raises(KeyReused) as error:
        replay("k", order, "20.00", requested_by=None)
    assert error.value.message_dict == {"idempotency_key": ["This key was used for another refund request."]}


@pytest.mark.django_db
def test_a_refund_on_a_ticket_is_written_on_its_timeline(agent: Any) -> None:
    who = f.consumer(tier=tier("88VIP"))
    order = f.order(who, f.merchant(), "100.00", status="delivered")
    ticket = open_ticket(who, subject="退款", department=Department.objects.create(code="r", name="退款"), order=order)
    refund = request_refund(order, Decimal("10.00"), "破损", key="t", requested_by=agent, ticket=ticket, now=NOW)
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.REFUND)
    assert (event.author_kind, event.author, event.created_at) == (TicketEvent.Author.AGENT, agent, NOW)
    assert event.data == {"refund": refund.pk, "amount": "10.00", "decision": D.INSTANT, "reasons": refund.reasons}
    assert event.body == "已即时退款"  # the decision's label, in the language of the request
    assert Ticket.objects.get(pk=ticket.pk).updated_at == NOW
    request_refund(order, Decimal("5.00"), "x", key="system", ticket=ticket, now=NOW)
    assert (
        TicketEvent.objects.filter(ticket=ticket, kind="refund").latest("pk").author_kind == TicketEvent.Author.SYSTEM
    )


@pytest.mark.django_db
def test_a_review_decides_once_and_only_an_approval_refunds(supervisor: Any) -> None:
    order = f.order(f.consumer(), f.merchant(), "100.00", status="delivered")
    approved = review_refund(request_refund(order, Decimal("30.00"), "x", key="a", now=NOW), approve=True,
                             by=supervisor, now=NOW + timedelta(hours=1))  # fmt: skip
    row = RefundRequest.objects.get(pk=approved.pk)
    assert (row.decision, row.decided_at, row.decided_by) == (D.APPROVED, NOW + timedelta(hours=1), supervisor)
    assert row.reasons == [{"code": "no_tier"}, {"code": "reviewed", "params": {"by": "supervisor1"}}]
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("30.00")
    waiting = request_refund(order, Decimal("20.00"), "x", key="r", now=NOW)
    with translation.override("en"), pytest.raises(ValidationError) as error:
        review_refund(waiting, approve=False, by=supervisor, note="  \n ", now=NOW)  # a rejection says why
    assert error.value.message_dict == {"note": ["Say why the refund is rejected."]}
    assert RefundRequest.objects.get(pk=waiting.pk).decision == D.MANUAL
    rejected = review_refund(waiting, approve=False, by=supervisor, note=" 照片显示 已使用 ", now=NOW)
    row = RefundRequest.objects.get(pk=rejected.pk)
    assert (row.decision, row.decided_by, row.reasons[1:]) == (D.REJECTED, supervisor, [
        {"code": "reviewed", "params": {"by": "supervisor1"}},
        {"code": "rejected_on_review", "params": {"note": "照片显示 已使用"}},
    ])  # fmt: skip
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("30.00")
    for decided in (approved, rejected):
        with translation.override("en"), pytest.raises(ValidationError) as error:
            review_refund(decided, approve=True, by=supervisor)
        assert error.value.message_dict == {"decision": ["This refund request is already decided."]}
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("30.00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "amount", "message"),
    [
        ("", "1", {"idempotency_key": ["An idempotency key of 1 to 64 characters is required."]}),
        ("k", "abc", {"amount": ["Enter an amount in yuan, such as 99.00."]}),
        ("k", "1.001", {"amount": ["Enter an amount of yuan above 0 with at most two decimals, such as 99.00."]}),
    ],
)
def test_a_bad_key_or_amount_is_refused_in_so_many_words(key: str, amount: str, message: dict[str, list[str]]) -> None:
    order = f.order(f.consumer(tier=tier("88VIP")), f.merchant(), "100.00")
    with translation.override("en"), pytest.raises(ValidationError) as error:
        request_refund(order, amount, "x", key=key)  # type: ignore[arg-type]
    assert error.value.message_dict == message
    assert not RefundRequest.objects.exists()


def test_amounts_up_to_ten_digits_of_yuan_are_taken_and_no_more() -> None:
    assert valid_amount("9999999999.99") == Decimal("9999999999.99")
    assert valid_amount(" 0.01 ") == Decimal("0.01")
    for refused in ("10000000000", "10000000000.00", "0", "0.001"):
        with pytest.raises(ValidationError):
            valid_amount(refused)


@pytest.mark.parametrize(
    ("amount", "refunded", "left"),
    [("300.00", "100.00", "200.00"), ("300.00", "300.00", "0.00"), ("300.00", "350.00", "0.00")],
)
def test_what_is_left_to_refund_is_the_amount_less_the_refunds_and_never_below_nothing(
    db: None, amount: str, refunded: str, left: str
) -> None:
    order = Order(amount=Decimal(amount), refunded_amount=Decimal(refunded))
    assert left_to_refund(order) == Decimal(left)
