"""极速退货, the instant return: approved at once for trusted tiers, refunded on the carrier's first scan.

Policy, in order (every decision stores its reasons, as codes with parameters, like the refund's):

1. **Rejected** when the order has a return under way already, was never delivered (ask for a refund
   instead), was cancelled, has nothing left to refund, or was delivered more than 15 days ago.
2. **Instant** when all hold: the consumer's tier allows instant returns (``CreditTier.instant_returns``),
   no confirmed risk flag, the merchant allows instant refunds and has a return address. The return is
   approved with the merchant's address and a deadline to send the goods (7 days). Its refund is
   released at once when the tier refunds returns on approval (``return_refund_at_once``, the top
   tier) and the amount is within the tier's instant refund limit and the merchant's cap; otherwise on
   the carrier's first scan (``record_return_scan``).
3. **Manual review** otherwise; a supervisor approves (refund on the first scan) or rejects it.

An approved return whose goods were not scanned by its deadline (``ship_by``) **expires**
(``expire_unsent_returns``, the hourly beat job): nothing more is refunded for it, a scan is refused, and the
order may have a new return. One the top tier was refunded for at once keeps its refund, with a reason that
says the goods never came back, for a supervisor to follow up.

``return_policy()`` decides on plain values and stores nothing; ``request_return`` gathers the facts under
the order's row lock, asks it, and stores the decision; ``review_return`` and ``record_return_scan`` lock
the return's row. The refund a return releases is a ``RefundRequest`` (key ``return-<id>``) recorded
in crm like any other, so the order's refunds, the refund timeliness of the merchant's score and the
credit rating see it.

Exactly once: the same key returns the same return (another order under a used key is an error);
concurrent requests for one order are serialised on the order row, so one return is under way at a
time (a partial unique constraint is the last line of defence); the first scan releases the refund
once, however many scans the carrier reports.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.users import Actor
from crm.models import Order
from crm.selectors import instant_refund_blocked
from crm.services import record_refund, record_return
from tickets.models import RefundRequest, ReturnRequest, Ticket, TicketEvent
from tickets.refunds import REASONS as REFUND_REASONS
from tickets.refunds import KeyReused

RETURN_WINDOW_DAYS = 15  # from delivery, as the refund's window
SHIP_DAYS = 7  # to send the goods back once a return is approved
D = ReturnRequest.Decision
HOLDS = frozenset({"no_tier", "tier_no_instant_return", "risk_flag", "merchant_no_instant", "no_return_address"})
TRACKING_NO = re.compile(r"^[A-Za-z0-9-]{4,40}$")

REASONS = {
    **REFUND_REASONS,
    "return_open": gettext_lazy("This order already has a return under way."),
    "not_delivered": gettext_lazy("The order has not been delivered; ask for a refund instead."),
    "nothing_left": gettext_lazy("Nothing is left to refund on this order."),
    "tier_instant_return": gettext_lazy("Tier %(tier)s returns instantly."),
    "tier_no_instant_return": gettext_lazy("Tier %(tier)s has no instant returns."),
    "no_return_address": gettext_lazy("The merchant has no return address."),
    "refund_at_once": gettext_lazy("Tier %(tier)s is refunded at once, before the goods are sent."),
    "refund_on_scan": gettext_lazy("The refund is released on the carrier's first scan."),
    "expired": gettext_lazy("The goods were not sent back by %(ship_by)s: the return expired."),
    "expired_refunded": gettext_lazy(
        "The goods were not sent back by %(ship_by)s, but the refund was released on approval: follow it up."
    ),
}


def explain(reasons: list[dict[str, Any]]) -> list[str]:
    return [str(REASONS[r["code"]]) % r.get("params", {}) for r in reasons if r.get("code") in REASONS]


class ReturnTier(NamedTuple):
    """A credit tier as the return policy sees it."""

    name: str
    instant_returns: bool
    refund_at_once: bool
    instant_limit: Decimal


class ReturnVerdict(NamedTuple):
    """What the policy decided, whether the refund is released on approval, and the reasons."""

    decision: str
    refund_at_once: bool
    reasons: list[dict[str, Any]]


def return_policy(
    *,
    left: Decimal,
    order_status: str,
    delivered_at: datetime | None,
    now: datetime,
    open_return: bool,
    tier: ReturnTier | None,
    risk_blocked: bool,
    merchant_instant: bool,
    merchant_cap: Decimal | None,
    return_address: str,
) -> ReturnVerdict:
    """The return policy on plain values (the module docstring): no query, no write.

    ``left`` is what the return would refund: the order's amount less what is refunded and what manual
    refund reviews reserve. Every reason that applies is given, in a fixed order.
    """
    reasons: list[dict[str, Any]] = []
    if open_return:
        reasons.append({"code": "return_open"})
    if order_status == Order.Status.CANCELLED:
        reasons.append({"code": "order_cancelled"})
    elif order_status in (Order.Status.PAID, Order.Status.SHIPPED) or delivered_at is None:
        reasons.append({"code": "not_delivered"})
    elif delivered_at < now - timedelta(days=RETURN_WINDOW_DAYS):
        reasons.append({"code": "window_closed", "params": {"days": RETURN_WINDOW_DAYS}})
    if left <= 0:
        reasons.append({"code": "nothing_left"})
    if reasons:
        return ReturnVerdict(D.REJECTED, False, reasons)
    if tier is None:
        reasons.append({"code": "no_tier"})
    else:
        code = "tier_instant_return" if tier.instant_returns else "tier_no_instant_return"
        reasons.append({"code": code, "params": {"tier": tier.name}})
    if risk_blocked:
        reasons.append({"code": "risk_flag"})
    if not merchant_instant:
        reasons.append({"code": "merchant_no_instant"})
    if not return_address.strip():
        reasons.append({"code": "no_return_address"})
    if any(reason["code"] in HOLDS for reason in reasons):
        return ReturnVerdict(D.MANUAL, False, reasons)
    assert tier is not None  # no_tier holds
    at_once = tier.refund_at_once and left <= tier.instant_limit and (merchant_cap is None or left <= merchant_cap)
    reasons.append({"code": "refund_at_once", "params": {"tier": tier.name}} if at_once else {"code": "refund_on_scan"})
    return ReturnVerdict(D.INSTANT, at_once, reasons)


def request_return(
    order: Order,
    reason: str,
    *,
    key: str,
    requested_by: Actor | None = None,
    ticket: Ticket | None = None,
    now: datetime | None = None,
) -> ReturnRequest:
    """Decide a return request now and store it. Safe to retry with the same key; safe to race."""
    if not key or len(key) > 64:
        raise ValidationError({"idempotency_key": _("An idempotency key of 1 to 64 characters is required.")})
    existing = ReturnRequest.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return _same_request(existing, order)
    try:
        return _decide(order, reason, key=key, requested_by=requested_by, ticket=ticket, now=now or timezone.now())
    except IntegrityError:
        # Another request with this key won the race; answer with its decision.
        return _same_request(ReturnRequest.objects.get(idempotency_key=key), order)


def _same_request(existing: ReturnRequest, order: Order) -> ReturnRequest:
    if existing.order_id != order.pk:
        raise KeyReused({"idempotency_key": _("This key was used for another return request.")})
    return existing


@transaction.atomic
def _decide(order: Order, reason: str, *, key: str, requested_by: Actor | None, ticket: Ticket | None,
            now: datetime) -> ReturnRequest:  # fmt: skip
    order = Order.objects.select_for_update(of=("self",)).select_related("consumer__tier", "merchant").get(pk=order.pk)
    reserved = RefundRequest.objects.filter(order=order, decision=RefundRequest.Decision.MANUAL).aggregate(
        s=Sum("amount")
    )["s"] or Decimal("0.00")
    left = order.amount - order.refunded_amount - reserved
    tier, merchant = order.consumer.tier, order.merchant
    verdict = return_policy(
        left=left, order_status=order.status, delivered_at=order.delivered_at, now=now,
        open_return=ReturnRequest.objects.filter(order=order).exclude(decision__in=(D.REJECTED, D.EXPIRED)).exists(),
        tier=None if tier is None else ReturnTier(
            tier.name, tier.instant_returns, tier.return_refund_at_once, tier.instant_refund_limit
        ),
        risk_blocked=instant_refund_blocked(order.consumer), merchant_instant=merchant.instant_refunds,
        merchant_cap=merchant.instant_refund_cap, return_address=merchant.return_address,
    )  # fmt: skip
    instant = verdict.decision == D.INSTANT
    request = ReturnRequest.objects.create(
        idempotency_key=key, order=order, consumer_id=order.consumer_id, merchant_id=order.merchant_id,
        ticket=ticket, amount=max(left, Decimal("0.00")), reason=reason[:200], decision=verdict.decision,
        reasons=verdict.reasons, refund_at_once=verdict.refund_at_once, requested_by=requested_by, created_at=now,
        decided_at=now if verdict.decision != D.MANUAL else None,
        return_address=merchant.return_address if instant else "",
        ship_by=now + timedelta(days=SHIP_DAYS) if instant else None,
    )  # fmt: skip
    if verdict.refund_at_once:
        _release(request, order, now)
    _timeline(request, requested_by, now)
    return request


@transaction.atomic
def review_return(request: ReturnRequest, *, approve: bool, by: Actor, now: datetime | None = None) -> ReturnRequest:
    """A supervisor's verdict on a return waiting for review; an approved one is refunded on the first scan."""
    now = now or timezone.now()
    request = ReturnRequest.objects.select_for_update().select_related("merchant").get(pk=request.pk)
    if request.decision != D.MANUAL:
        raise ValidationError({"decision": _("This return request is already decided.")})
    if approve and not request.merchant.return_address.strip():
        raise ValidationError({"return_address": _("The merchant has no return address to send the goods to.")})
    request.decision = D.APPROVED if approve else D.REJECTED
    request.decided_at, request.decided_by = now, by
    request.reasons = [*request.reasons, {"code": "reviewed", "params": {"by": by.get_username()}}]
    fields = ["decision", "decided_at", "decided_by", "reasons"]
    if approve:
        request.reasons.append({"code": "refund_on_scan"})
        request.return_address = request.merchant.return_address
        request.ship_by = now + timedelta(days=SHIP_DAYS)
        fields += ["return_address", "ship_by"]
    request.save(update_fields=fields)
    _timeline(request, by, now)
    return request


@transaction.atomic
def record_return_scan(
    request: ReturnRequest, *, tracking_no: str, by: Actor | None = None, now: datetime | None = None
) -> ReturnRequest:
    """The carrier's scan of the returned parcel: the first one marks the goods returned and releases the
    refund (unless it was released on approval); later scans of the same parcel change nothing."""
    now = now or timezone.now()
    tracking_no = str(tracking_no).strip()
    if not TRACKING_NO.match(tracking_no):
        raise ValidationError({"tracking_no": _("Enter the carrier's tracking number: 4 to 40 letters, digits or -.")})
    request = ReturnRequest.objects.select_for_update().get(pk=request.pk)
    if not request.approved:
        raise ValidationError({"decision": _("Only an approved return can be scanned.")})
    if request.scanned_at is not None:
        if request.tracking_no != tracking_no:
            raise ValidationError({"tracking_no": _("This return was scanned under another tracking number.")})
        return request
    request.scanned_at, request.tracking_no = now, tracking_no
    request.save(update_fields=["scanned_at", "tracking_no"])
    order = Order.objects.select_for_update().get(pk=request.order_id)
    record_return(order)
    if request.refunded_at is None:
        _release(request, order, now)
    _timeline(request, by, now)
    return request


def unsent_returns(now: datetime) -> QuerySet[ReturnRequest]:
    """Approved returns whose goods the carrier has not scanned by their deadline."""
    return ReturnRequest.objects.filter(decision__in=(D.INSTANT, D.APPROVED), scanned_at__isnull=True, ship_by__lt=now)


def expire_unsent_returns(now: datetime | None = None) -> int:
    """Expire every approved return not sent back by its deadline, each in its own transaction (a return being
    scanned right now is skipped, and the next run sees it scanned). Returns how many expired."""
    now = now or timezone.now()
    expired = 0
    for pk in list(unsent_returns(now).order_by("ship_by").values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            request = unsent_returns(now).select_for_update(skip_locked=True).filter(pk=pk).first()
            if request is None:
                continue
            code = "expired_refunded" if request.refunded_at is not None else "expired"
            ship_by = timezone.localtime(request.ship_by).strftime("%Y-%m-%d %H:%M") if request.ship_by else ""
            request.decision = D.EXPIRED
            request.reasons = [*request.reasons, {"code": code, "params": {"ship_by": ship_by}}]
            request.save(update_fields=["decision", "reasons"])
            _timeline(request, None, now)
            expired += 1
    return expired


def _release(request: ReturnRequest, order: Order, now: datetime) -> None:
    """Refund the return: what is left of its amount on the order now (another refund may have come first)."""
    amount = min(request.amount, order.amount - order.refunded_amount)
    if amount > 0:
        request.refund = RefundRequest.objects.create(
            idempotency_key=f"return-{request.pk}", order=order, consumer_id=request.consumer_id,
            merchant_id=request.merchant_id, ticket_id=request.ticket_id, amount=amount, reason=request.reason,
            decision=RefundRequest.Decision.INSTANT, reasons=[{"code": "return_refund", "params": {"id": request.pk}}],
            requested_by=request.requested_by, created_at=now, decided_at=now,
        )  # fmt: skip
        record_refund(order, amount, at=now)
    request.refunded_at = now
    request.save(update_fields=["refund", "refunded_at"])


def _timeline(request: ReturnRequest, by: Actor | None, now: datetime) -> None:
    if request.ticket_id is None:
        return
    TicketEvent.objects.create(
        ticket_id=request.ticket_id, kind=TicketEvent.Kind.RETURN,
        author_kind=TicketEvent.Author.AGENT if by else TicketEvent.Author.SYSTEM, author=by,
        body=str(ReturnRequest.Decision(request.decision).label),
        data={"return": request.pk, "decision": request.decision, "reasons": request.reasons,
              "scanned": request.scanned_at is not None, "refunded": request.refunded_at is not None},
        created_at=now,
    )  # fmt: skip
    Ticket.objects.filter(pk=request.ticket_id).update(updated_at=now)
