"""Every state change of crm's models goes through a function here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.privacy import sees_pii
from core.users import Actor
from crm.models import Consumer, Order, PiiReveal, Review, RiskFlag, RiskPattern, RiskPatternVersion
from crm.patterns import check
from crm.selectors import has_confirmed_risk_flag

NEGATIVE_STARS = 2  # a review with any dimension at or below this is negative


def is_negative(item_stars: int, service_stars: int, logistics_stars: int) -> bool:
    return min(item_stars, service_stars, logistics_stars) <= NEGATIVE_STARS


@transaction.atomic
def record_review(
    order: Order,
    *,
    item_stars: int,
    service_stars: int,
    logistics_stars: int,
    text: str = "",
    created_at: datetime | None = None,
) -> Review:
    """Record a consumer's review of an order. A confirmed malicious reviewer's negative review is held."""
    errors = {
        name: _("Stars must be whole numbers from 1 to 5.")
        for name, value in (
            ("item_stars", item_stars),
            ("service_stars", service_stars),
            ("logistics_stars", logistics_stars),
        )
        if not isinstance(value, int) or not 1 <= value <= 5
    }
    if errors:
        raise ValidationError(errors)
    negative = is_negative(item_stars, service_stars, logistics_stars)
    held = negative and has_confirmed_risk_flag(order.consumer)
    try:
        # The one-review-per-order constraint decides, so two submissions at once cannot both land.
        with transaction.atomic():
            return _create_review(order, item_stars, service_stars, logistics_stars, text, negative, held, created_at)
    except IntegrityError:
        raise ValidationError({"order": _("This order already has a review.")}) from None


def _create_review(order: Order, item_stars: int, service_stars: int, logistics_stars: int, text: str,
                   negative: bool, held: bool, created_at: datetime | None) -> Review:  # fmt: skip
    return Review.objects.create(
        order=order,
        consumer_id=order.consumer_id,
        merchant_id=order.merchant_id,
        item_stars=item_stars,
        service_stars=service_stars,
        logistics_stars=logistics_stars,
        text=text,
        is_negative=negative,
        moderation=Review.Moderation.HELD if held else Review.Moderation.PUBLISHED,
        created_at=created_at or timezone.now(),
    )


@transaction.atomic
def record_dispute_outcome(order: Order, outcome: str, *, at: datetime | None = None) -> Order:
    """Write down how a dispute (维权) ended; the tickets app calls this when it resolves one."""
    if outcome not in {Order.Dispute.OPEN, Order.Dispute.CONSUMER_WON, Order.Dispute.MERCHANT_WON}:
        raise ValidationError({"dispute": _("Unknown dispute outcome: %(outcome)s") % {"outcome": outcome}})
    order = Order.objects.select_for_update().get(pk=order.pk)
    order.dispute = outcome
    order.dispute_closed_at = None if outcome == Order.Dispute.OPEN else (at or timezone.now())
    order.save(update_fields=["dispute", "dispute_closed_at"])
    return order


# Which reviews may move a flag where.
_FLAG_TRANSITIONS = {
    RiskFlag.Status.OPEN: {RiskFlag.Status.CONFIRMED, RiskFlag.Status.CLEARED},
    RiskFlag.Status.CONFIRMED: {RiskFlag.Status.CLEARED},
    RiskFlag.Status.CLEARED: set(),
}


@transaction.atomic
def review_risk_flag(flag: RiskFlag, *, status: str, reviewer: Actor | None, note: str = "") -> RiskFlag:
    """A supervisor confirms or clears a flag. Two supervisors at once: the second sees the first's verdict."""
    if status not in RiskFlag.Status.values:
        raise ValidationError({"status": _("Unknown flag status: %(status)s") % {"status": status}})
    flag = RiskFlag.objects.select_for_update().get(pk=flag.pk)
    if status not in _FLAG_TRANSITIONS[RiskFlag.Status(flag.status)]:
        raise ValidationError(
            {
                "status": _("A flag that is %(current)s cannot become %(new)s.")
                % {"current": flag.get_status_display(), "new": RiskFlag.Status(status).label}
            }
        )
    flag.status = status
    flag.reviewed_by = reviewer
    flag.reviewed_at = timezone.now()
    flag.note = note or flag.note  # a note typed on the flag's page survives the verdict
    flag.save(update_fields=["status", "reviewed_by", "reviewed_at", "note"])
    return flag


def review_risk_flags(flags: Iterable[RiskFlag], *, status: str, reviewer: Actor | None, note: str = "") -> int:
    """review_risk_flag for many flags in one conditional UPDATE (a loaded history's verdicts, e.g. the demo's);
    returns how many changed. A flag whose status cannot become ``status`` is left as it is, not refused."""
    if status not in RiskFlag.Status.values:
        raise ValidationError({"status": _("Unknown flag status: %(status)s") % {"status": status}})
    allowed = [current for current, after in _FLAG_TRANSITIONS.items() if status in after]
    verdict: dict[str, Any] = {"status": status, "reviewed_by": reviewer, "reviewed_at": timezone.now()}
    if note:  # without one, a note typed on the flag's page survives, as in review_risk_flag
        verdict["note"] = note
    return RiskFlag.objects.filter(pk__in=[flag.pk for flag in flags], status__in=allowed).update(**verdict)


def moderate_reviews(reviews: QuerySet[Review], moderation: str) -> int:
    """Publish, hold or remove reviews in one conditional UPDATE. Returns how many changed state.

    Reviews already in that state are left alone (and not counted), so a repeated request changes nothing.
    """
    if moderation not in Review.Moderation.values:
        raise ValidationError({"moderation": _("Unknown moderation state: %(state)s") % {"state": moderation}})
    # By id, so that any queryset (sorted, sliced or distinct, as an admin changelist may hand over) can be updated.
    return (
        Review.objects.filter(pk__in=reviews.values("pk")).exclude(moderation=moderation).update(moderation=moderation)
    )


@transaction.atomic
def record_refund(order: Order, amount: Decimal, *, at: datetime | None = None) -> Order:
    """Refund ``amount`` of an order (the tickets app calls this when it grants a refund).

    The order row is locked, so concurrent refunds add up and never exceed the order's amount.
    """
    order = Order.objects.select_for_update().get(pk=order.pk)
    if amount <= 0 or order.refunded_amount + amount > order.amount:
        raise ValidationError(
            {
                "amount": _("At most %(left)s yuan of this order can still be refunded.")
                % {"left": order.amount - order.refunded_amount}
            }
        )
    at = at or timezone.now()
    order.refunded_amount += amount
    order.refund_requested_at = order.refund_requested_at or at
    order.refunded_at = at
    fields = ["refunded_amount", "refund_requested_at", "refunded_at"]
    if order.refunded_amount == order.amount:
        order.status = Order.Status.REFUNDED
        fields.append("status")
    order.save(update_fields=fields)
    return order


@transaction.atomic
def record_return(order: Order) -> Order:
    """The goods of an order are on their way back (the tickets app calls this on the carrier's first scan)."""
    Order.objects.filter(pk=order.pk, returned=False).update(returned=True)
    order.returned = True
    return order


_DEFINITION = ("match", "flag", "terms", "near_terms", "then_terms", "except_terms", "ordered", "distance", "weight")


def _check_pattern(pattern: RiskPattern) -> None:
    problems = check(pattern.match, pattern.terms, pattern.near_terms)
    if problems:
        raise ValidationError(problems)


@transaction.atomic
def save_risk_pattern(pattern: RiskPattern, *, by: Actor | None = None) -> RiskPattern:
    """Create or edit a risk pattern; a change of its definition is a new version, frozen as RiskPatternVersion.

    Name, description and the active flag change without a new version (they do not change what matches).
    """
    _check_pattern(pattern)
    if pattern.pk is None:
        pattern.version = 1
        pattern.save()
        _freeze(pattern, by)
        return pattern
    current = RiskPattern.objects.select_for_update().get(pk=pattern.pk)
    changed = any(getattr(current, name) != getattr(pattern, name) for name in _DEFINITION)
    pattern.version = current.version + 1 if changed else current.version
    pattern.save()
    if changed:
        _freeze(pattern, by)
    return pattern


def _freeze(pattern: RiskPattern, by: Actor | None) -> RiskPatternVersion:
    return RiskPatternVersion.objects.create(
        pattern=pattern,
        number=pattern.version,
        created_by=by if getattr(by, "pk", None) else None,
        **{name: getattr(pattern, name) for name in _DEFINITION},
    )


def reveal_consumer_pii(consumer: Consumer, field: str, user: Actor) -> str:
    """The whole phone or ID number for someone allowed to see it, and a log line saying who looked, when."""
    if not sees_pii(user):
        raise PermissionDenied
    if field not in PiiReveal.Field.values:
        raise ValidationError({"field": _("Unknown field: %(field)s") % {"field": field}})
    PiiReveal.objects.create(consumer=consumer, field=field, revealed_by=user)
    return str(getattr(consumer, field))
