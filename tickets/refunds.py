"""The "0-second refund": the policy decides at once, exactly once per idempotency key.

Policy, in order (every decision stores the reasons that led to it, as codes with parameters):

1. **Rejected** when the amount is not positive, more than what is left to refund on the order, or
   the order is not refundable (cancelled, or completed more than 15 days after delivery).
2. **Instant** when all hold: the consumer's tier covers the amount (``instant_refund_limit``), no
   confirmed risk flag (crm), the merchant allows instant refunds and its cap (if any) covers the
   amount. The refund is recorded on the order at once (crm.services.record_refund).
3. **Manual review** otherwise; a supervisor approves or rejects it later.

``policy()`` decides on plain values and stores nothing; ``request_refund`` gathers the facts under the
order's row lock, asks it, and stores the decision. ``replay()`` is the one answer to "was this key used?".

Exactly once: the same key returns the same request and decision (a different order or amount
under a used key is an error); concurrent requests for one order are serialised on the order row,
so together they never refund more than the order's amount. The unique key is the last line of
defence against two requests with one key racing each other.

Keys belong to their requester: each user's keys are their own (unique per requester), so another user
sending someone's key makes a request of their own — a new decision under the policy — and never reads
theirs. Requests without a requester (the chat bot's, keyed by chat and order) share one space of keys.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.users import Actor
from crm.models import Order
from crm.selectors import instant_refund_blocked
from crm.services import record_refund
from tickets.models import RefundRequest, ReturnRequest, Ticket, TicketEvent

REFUND_WINDOW_DAYS = 15
D = RefundRequest.Decision
# Reasons that hold a refundable request for a supervisor: any one of them means manual review.
HOLDS = frozenset({"no_tier", "over_tier_limit", "risk_flag", "merchant_no_instant", "over_merchant_cap"})

# Reason codes -> text shown to agents (in their language) with the stored parameters.
REASONS = {
    "exceeds_refundable": gettext_lazy("Only %(left)s yuan of the order is left to refund."),
    "order_cancelled": gettext_lazy("The order was cancelled."),
    "window_closed": gettext_lazy("The order was delivered more than %(days)s days ago."),
    "within_tier_limit": gettext_lazy("Tier %(tier)s refunds up to %(limit)s yuan instantly."),
    "over_tier_limit": gettext_lazy("Tier %(tier)s refunds only up to %(limit)s yuan instantly."),
    "no_tier": gettext_lazy("The consumer has no credit tier yet."),
    "risk_flag": gettext_lazy("The consumer has a confirmed risk flag."),
    "merchant_no_instant": gettext_lazy("The merchant does not allow instant refunds."),
    "over_merchant_cap": gettext_lazy("The merchant caps instant refunds at %(cap)s yuan."),
    "reviewed": gettext_lazy("Reviewed by %(by)s."),
    "return_refund": gettext_lazy("The refund of return #%(id)s."),
    "rejected_on_review": gettext_lazy("Rejected on review: %(note)s"),
}
NOTE_MAX = 200  # a reviewer's reason for a rejection, as long as a request's own reason


def explain(reasons: list[dict[str, Any]]) -> list[str]:
    return [str(REASONS[r["code"]]) % r.get("params", {}) for r in reasons if r.get("code") in REASONS]


def left_to_refund(order: Order) -> Decimal:
    """What may still be asked for on the order (before manual reviews' reservations): 0 when fully refunded."""
    return max(order.amount - order.refunded_amount, Decimal("0.00"))


def person(user: Actor) -> str:
    """A user as the desk names them: full name, else the username."""
    return str(user.get_full_name() or user.get_username())


class KeyReused(ValidationError):
    pass


class Tier(NamedTuple):
    """A credit tier as the policy sees it: its name (for the reasons) and its instant refund limit."""

    name: str
    instant_limit: Decimal


class Verdict(NamedTuple):
    """What the policy decided: instant, manual or rejected, and the reasons (codes with parameters)."""

    decision: str
    reasons: list[dict[str, Any]]


def policy(
    *,
    amount: Decimal,
    left: Decimal,
    order_status: str,
    delivered_at: datetime | None,
    now: datetime,
    tier: Tier | None,
    risk_blocked: bool,
    merchant_instant: bool,
    merchant_cap: Decimal | None,
) -> Verdict:
    """The refund policy on plain values (the module docstring): no query, no write.

    ``left`` is what may still be refunded on the order: its amount less what is refunded already and
    what manual reviews reserve. Every reason that applies is given, in a fixed order.
    """
    reasons: list[dict[str, Any]] = []
    if amount > left:
        reasons.append({"code": "exceeds_refundable", "params": {"left": str(max(left, Decimal("0.00")))}})
    if order_status == Order.Status.CANCELLED:
        reasons.append({"code": "order_cancelled"})
    elif (
        order_status == Order.Status.COMPLETED
        and delivered_at is not None
        and delivered_at < now - timedelta(days=REFUND_WINDOW_DAYS)
    ):
        reasons.append({"code": "window_closed", "params": {"days": REFUND_WINDOW_DAYS}})
    if reasons:
        return Verdict(D.REJECTED, reasons)
    if tier is None:
        reasons.append({"code": "no_tier"})
    else:
        code = "within_tier_limit" if amount <= tier.instant_limit else "over_tier_limit"
        reasons.append({"code": code, "params": {"tier": tier.name, "limit": str(tier.instant_limit)}})
    if risk_blocked:
        reasons.append({"code": "risk_flag"})
    if not merchant_instant:
        reasons.append({"code": "merchant_no_instant"})
    elif merchant_cap is not None and amount > merchant_cap:
        reasons.append({"code": "over_merchant_cap", "params": {"cap": str(merchant_cap)}})
    held = any(reason["code"] in HOLDS for reason in reasons)
    return Verdict(D.MANUAL if held else D.INSTANT, reasons)


def used_key(key: str, *, requested_by: Actor | None) -> RefundRequest | None:
    """The request ``requested_by`` made under ``key`` (None: the bot's and the system's), if there is one."""
    return RefundRequest.objects.filter(idempotency_key=key, requested_by_id=getattr(requested_by, "pk", None)).first()


def replay(key: str, order: Order, amount: object, *, requested_by: Actor | None) -> RefundRequest | None:
    """The request ``requested_by`` already made under ``key`` (a retry: answered with its first decision), or None.

    The one place that decides what a used key means, for every caller (the API, the admin, the chat).
    Refuses a key that is not 1 to 64 characters and an amount that is not one (ValidationError), and a
    key the requester already used for another order or amount (KeyReused). Another requester's use of the
    same key is no use of it: keys are per requester.
    """
    if not key or len(key) > 64:
        raise ValidationError({"idempotency_key": _("An idempotency key of 1 to 64 characters is required.")})
    value = valid_amount(amount)
    existing = used_key(key, requested_by=requested_by)
    return None if existing is None else _same_request(existing, order, value)


def request_refund(
    order: Order,
    amount: Decimal,
    reason: str,
    *,
    key: str,
    requested_by: Actor | None = None,
    ticket: Ticket | None = None,
    now: datetime | None = None,
) -> RefundRequest:
    """Decide a refund request now and store it. Safe to retry with the same key; safe to race."""
    existing = replay(key, order, amount, requested_by=requested_by)
    if existing is not None:
        return existing
    value = valid_amount(amount)
    try:
        return _decide(order, value, reason, key=key, requested_by=requested_by, ticket=ticket, now=now)
    except IntegrityError:
        # Another request of this requester with this key won the race; answer with its decision.
        raced = used_key(key, requested_by=requested_by)
        if raced is None:
            raise
        return _same_request(raced, order, value)


def valid_amount(amount: object) -> Decimal:
    """A finite amount of yuan with at most two decimals and at most 10 digits before the point."""
    try:
        value = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({"amount": _("Enter an amount in yuan, such as 99.00.")}) from None
    if not value.is_finite() or value.as_tuple().exponent < -2 or not 0 < value < Decimal("1e10"):  # type: ignore[operator]
        raise ValidationError(
            {"amount": _("Enter an amount of yuan above 0 with at most two decimals, such as 99.00.")}
        )
    return value


def _same_request(existing: RefundRequest, order: Order, amount: Decimal) -> RefundRequest:
    if existing.order_id != order.pk or existing.amount != amount:
        raise KeyReused({"idempotency_key": _("This key was used for another refund request.")})
    return existing


@transaction.atomic
def _decide(order: Order, amount: Decimal, reason: str, *, key: str, requested_by: Actor | None, ticket: Ticket | None,
            now: datetime | None) -> RefundRequest:  # fmt: skip
    """Gather the policy's facts under the order's row lock, decide, store, and refund at once if instant."""
    now = now or timezone.now()
    order = Order.objects.select_for_update(of=("self",)).select_related("consumer__tier", "merchant").get(pk=order.pk)
    # Pending manual requests reserve their amount, so approvals later cannot exceed the order either; so does a
    # return under way that has not been refunded yet (tickets.returns).
    reserved = RefundRequest.objects.filter(order=order, decision=D.MANUAL).aggregate(s=Sum("amount"))["s"] or 0
    reserved += (
        ReturnRequest.objects.filter(order=order, refunded_at__isnull=True)
        .exclude(decision=ReturnRequest.Decision.REJECTED)
        .aggregate(s=Sum("amount"))["s"]
        or 0
    )
    tier = order.consumer.tier
    verdict = policy(
        amount=amount, left=order.amount - order.refunded_amount - reserved, order_status=order.status,
        delivered_at=order.delivered_at, now=now,
        tier=None if tier is None else Tier(tier.name, tier.instant_refund_limit),
        risk_blocked=instant_refund_blocked(order.consumer), merchant_instant=order.merchant.instant_refunds,
        merchant_cap=order.merchant.instant_refund_cap,
    )  # fmt: skip
    request = RefundRequest.objects.create(
        idempotency_key=key, order=order, consumer_id=order.consumer_id, merchant_id=order.merchant_id, ticket=ticket,
        amount=amount, reason=reason[:200], decision=verdict.decision, reasons=verdict.reasons,
        requested_by=requested_by, created_at=now, decided_at=now if verdict.decision != D.MANUAL else None,
    )  # fmt: skip
    if verdict.decision == D.INSTANT:
        record_refund(order, amount, at=now)
    _timeline(request, requested_by, now)
    return request


@transaction.atomic
def review_refund(
    request: RefundRequest, *, approve: bool, by: Actor, note: str = "", now: datetime | None = None
) -> RefundRequest:
    """A supervisor's verdict on a refund waiting for manual review; a rejection needs its reason (``note``),
    which is stored among the reasons, so that the timeline, the API and the consumer's chat can say it."""
    now = now or timezone.now()
    note = " ".join(note.split())[:NOTE_MAX]
    if not approve and not note:
        raise ValidationError({"note": _("Say why the refund is rejected.")})
    request = RefundRequest.objects.select_for_update().get(pk=request.pk)
    if request.decision != D.MANUAL:
        raise ValidationError({"decision": _("This refund request is already decided.")})
    request.decision = D.APPROVED if approve else D.REJECTED
    request.decided_at = now
    request.decided_by = by
    verdict = [{"code": "reviewed", "params": {"by": person(by)}}]
    if not approve:
        verdict.append({"code": "rejected_on_review", "params": {"note": note}})
    request.reasons = [*request.reasons, *verdict]
    request.save(update_fields=["decision", "decided_at", "decided_by", "reasons"])
    if approve:
        record_refund(request.order, request.amount, at=now)
    _timeline(request, by, now)
    return request


def _timeline(request: RefundRequest, by: Actor | None, now: datetime) -> None:
    if request.ticket_id is None:
        return
    TicketEvent.objects.create(
        ticket_id=request.ticket_id, kind=TicketEvent.Kind.REFUND,
        author_kind=TicketEvent.Author.AGENT if by else TicketEvent.Author.SYSTEM, author=by,
        body=str(RefundRequest.Decision(request.decision).label),
        data={"refund": request.pk, "amount": str(request.amount), "decision": request.decision,
              "reasons": request.reasons},
        created_at=now,
    )  # fmt: skip
    Ticket.objects.filter(pk=request.ticket_id).update(updated_at=now)
