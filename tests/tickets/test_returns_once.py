"""极速退货 exactly once: one key, racing requests and scans on PostgreSQL, the sweep of returns never sent back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from tests.tickets.test_refunds import _race
from tests.tickets.test_returns import D, codes, delivered
from tickets.models import Department, RefundRequest, ReturnRequest, Ticket, TicketEvent
from tickets.refunds import KeyReused
from tickets.returns import (
    SHIP_DAYS,
    expire_unsent_returns,
    explain,
    record_return_scan,
    request_return,
)

# --- exactly once -----------------------------------------------------------------------------------------


def test_the_same_key_returns_the_same_return(db: None) -> None:
    order = delivered("88VIP")
    first = request_return(order, "x", key="same")
    again = request_return(order, "x", key="same")
    order.refresh_from_db()
    assert (again.pk, ReturnRequest.objects.count(), order.refunded_amount) == (first.pk, 1, Decimal("300.00"))
    with translation.override("en"), pytest.raises(KeyReused) as error:
        request_return(delivered("88VIP"), "x", key="same")
    assert error.value.message_dict == {"idempotency_key": ["This key was used for another return request."]}


@pytest.mark.parametrize("key", ["", "k" * 65])
def test_a_missing_or_long_key_is_refused_before_any_decision(db: None, key: str) -> None:
    with translation.override("en"), pytest.raises(ValidationError) as error:
        request_return(delivered("88VIP"), "x", key=key)
    assert error.value.message_dict == {"idempotency_key": ["An idempotency key of 1 to 64 characters is required."]}
    assert not ReturnRequest.objects.exists()


def test_a_key_of_64_characters_is_taken(db: None) -> None:
    assert request_return(delivered("88VIP"), "x", key="k" * 64).idempotency_key == "k" * 64


@pytest.mark.parametrize("number", ["", "SF1", "SF 123456", "SF123\x00456", "顺丰123456", "S" * 41])
def test_bad_tracking_numbers_are_refused(db: None, number: str) -> None:
    r = request_return(delivered("金牌会员"), "x", key=f"bad-{len(number)}-{number[:3]}")
    with pytest.raises(ValidationError) as error:
        record_return_scan(r, tracking_no=number)
    assert "tracking_no" in error.value.message_dict
    r.refresh_from_db()
    assert (r.scanned_at, r.refunded_at) == (None, None)


def test_concurrent_returns_of_one_order_approve_one(transactional_db: None) -> None:
    order = delivered("88VIP", "100.00")
    results = _race([lambda k=k: request_return(order, "x", key=k) for k in ("a", "b", "c", "d")])
    order.refresh_from_db()
    assert sorted(r.decision for r in results) == [D.INSTANT, D.REJECTED, D.REJECTED, D.REJECTED]
    assert (order.refunded_amount, RefundRequest.objects.count()) == (Decimal("100.00"), 1)


def test_concurrent_retries_with_one_key_make_one_return(transactional_db: None) -> None:
    order = delivered("88VIP", "100.00")
    results = _race([lambda: request_return(order, "x", key="retry")] * 4)
    order.refresh_from_db()
    assert {r.pk for r in results} == {ReturnRequest.objects.get().pk}
    assert order.refunded_amount == Decimal("100.00")


def test_concurrent_scans_release_the_refund_once(transactional_db: None) -> None:
    order = delivered("金牌会员", "100.00")
    r = request_return(order, "x", key="scans")
    results = _race([lambda: record_return_scan(r, tracking_no="SF1234567890")] * 4)
    order.refresh_from_db()
    assert all(isinstance(x, ReturnRequest) for x in results), results
    assert (order.refunded_amount, RefundRequest.objects.count()) == (Decimal("100.00"), 1)


# --- expiry of returns never sent back ---------------------------------------------------------------------


def test_an_approved_return_not_sent_by_its_deadline_expires_and_frees_the_order(db: None) -> None:
    order = delivered("金牌会员")
    now = timezone.now()
    r = request_return(order, "不想要了", key="late", now=now)
    deadline = now + timedelta(days=SHIP_DAYS)

    assert expire_unsent_returns(now=deadline - timedelta(seconds=1)) == 0
    assert expire_unsent_returns(now=deadline + timedelta(seconds=1)) == 1
    assert expire_unsent_returns(now=deadline + timedelta(days=1)) == 0  # once

    r.refresh_from_db()
    order.refresh_from_db()
    assert (r.decision, codes(r)[-1], r.refund, order.refunded_amount) == (D.EXPIRED, "expired", None, 0)
    with pytest.raises(ValidationError) as error:
        record_return_scan(r, tracking_no="SF1234567890")
    assert "decision" in error.value.message_dict
    again = request_return(order, "再申请一次", key="late-again", now=deadline + timedelta(seconds=2))
    assert again.decision == D.INSTANT  # the expired one no longer counts as a return under way
    with translation.override("en"):
        shown = timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")
        assert explain(r.reasons)[-1] == f"The goods were not sent back by {shown}: the return expired."


def test_the_expiry_sweep_counts_every_return_it_expires_and_says_until_when(db: None) -> None:
    now = timezone.now()
    late = [request_return(delivered("金牌会员"), "x", key=f"late-{n}", now=now) for n in range(3)]

    assert expire_unsent_returns(now=now + timedelta(days=SHIP_DAYS, minutes=1)) == 3

    shown = timezone.localtime(now + timedelta(days=SHIP_DAYS)).strftime("%Y-%m-%d %H:%M")
    for r in late:
        r.refresh_from_db()
        assert (r.decision, r.reasons[-1]) == (D.EXPIRED, {"code": "expired", "params": {"ship_by": shown}})


def test_a_scanned_or_waiting_return_never_expires(db: None) -> None:
    now = timezone.now()
    sent = request_return(delivered("金牌会员"), "x", key="sent", now=now)
    record_return_scan(sent, tracking_no="SF1234567890", now=now + timedelta(days=1))
    waiting = request_return(delivered("普通会员"), "x", key="waiting", now=now)

    assert expire_unsent_returns(now=now + timedelta(days=SHIP_DAYS + 30)) == 0
    sent.refresh_from_db()
    waiting.refresh_from_db()
    assert (sent.decision, waiting.decision) == (D.INSTANT, D.MANUAL)


def test_a_return_refunded_at_once_and_never_sent_expires_keeping_its_refund_for_follow_up(db: None) -> None:
    order = delivered("88VIP")
    now = timezone.now()
    ticket = Ticket.objects.create(
        subject="退货", kind="return", department=Department.objects.create(code="as", name="售后"),
        consumer=order.consumer, order=order, merchant=order.merchant, created_at=now, updated_at=now,
    )  # fmt: skip
    r = request_return(order, "x", key="vip-late", ticket=ticket, now=now)

    assert expire_unsent_returns(now=now + timedelta(days=SHIP_DAYS, minutes=1)) == 1

    r.refresh_from_db()
    order.refresh_from_db()
    assert (r.decision, codes(r)[-1], order.refunded_amount) == (D.EXPIRED, "expired_refunded", Decimal("300.00"))
    assert RefundRequest.objects.count() == 1
    last = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.RETURN).latest("created_at")
    assert (last.data["decision"], last.author_kind) == ("expired", TicketEvent.Author.SYSTEM)


def test_a_return_being_scanned_is_skipped_by_the_expiry_sweep(transactional_db: None) -> None:
    r = request_return(delivered("金牌会员"), "x", key="racing")
    late = timezone.now() + timedelta(days=SHIP_DAYS + 1)
    results = _race(
        [lambda: record_return_scan(r, tracking_no="SF1234567890"), lambda: expire_unsent_returns(now=late)]
    )
    r.refresh_from_db()
    # Either the scan won (the sweep skipped the locked row or found it scanned) or the sweep won (the scan is
    # refused): never both, never a refund for an expired return.
    if r.decision == D.EXPIRED:
        assert r.scanned_at is None and RefundRequest.objects.count() == 0
        assert any(isinstance(x, ValidationError) for x in results), results
    else:
        assert r.scanned_at is not None and RefundRequest.objects.count() == 1
