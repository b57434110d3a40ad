"""Import consumers, orders and reviews (docs/import-formats.md); merchants/importing.py adds merchants and staff.

Every kind goes through core.importing.import_file: rows are read and checked in Python (each problem named by
line and field), then each batch is COPYed into a temporary table and upserted by its external id with one
``INSERT ... ON CONFLICT ... DO UPDATE`` (rows that would not change are filtered out first, so a rerun neither
rewrites nor locks them), all in one transaction.
References (an order's consumer and merchant, a review's order) are resolved in the database: a row whose
reference is unknown is rejected under that field. Importing the same file again changes nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from core.importing import DEFAULT_BATCH_SIZE, ImportReport, Kind, RowReader, import_file, rejected_lines
from core.staging import changed_only, upsert_counts
from core.tabular import Rejection
from core.values import InvalidValue, choice_value, moment_value, show_value, text_value
from crm.models import Order
from crm.services import NEGATIVE_STARS

_MAX_AMOUNT = Decimal(10) ** 10  # DecimalField(max_digits=12, decimal_places=2)
_CENTS = Decimal("0.01")
_PLAIN_YUAN = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
# A mainland mobile (optionally +86) or a landline with its area code.
_PHONE = re.compile(r"(\+?86[ -]?)?1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}")
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]|[0-9]{15}")
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
STAND_IN = datetime(2000, 1, 1, tzinfo=UTC)  # read in place of a bad moment, never stored
_FUTURE_SLACK = timedelta(days=1)  # clocks differ; a moment more than a day ahead is a mistake

# Naive times are in TIME_ZONE (docs/import-formats.md), fixed once rather than looked up per value.
MOMENT = moment_value(zone=ZoneInfo(settings.TIME_ZONE))
_id32 = text_value(32)
_text = text_value()
_status = choice_value(Order.Status.values)
_dispute = choice_value(Order.Dispute.values)
_title = text_value(200)
_name64 = text_value(64)


# Converters of this app's values ----------------------------------------------------------------------------


def yuan(value: object) -> Decimal:
    """A non-negative amount of yuan with at most 2 decimal places."""
    if isinstance(value, str) and _PLAIN_YUAN.fullmatch(value):  # the usual "199.00", without the checks below
        return Decimal(value).quantize(_CENTS)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = Decimal(value.strip())
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        number = Decimal(value)
    else:
        raise InvalidValue(_("%(value)s is not an amount of yuan like 199.00.") % {"value": show_value(value)})
    if not number.is_finite() or abs(number) >= _MAX_AMOUNT:
        raise InvalidValue(_("%(value)s is out of range.") % {"value": show_value(value)})
    if number.quantize(_CENTS) != number:
        raise InvalidValue(_("%(value)s has more than 2 decimal places.") % {"value": show_value(value)})
    if number < 0:
        raise InvalidValue(_("The amount cannot be negative."))
    return number.quantize(_CENTS)


def _price(value: object) -> Decimal:
    number = yuan(value)
    if number <= 0:
        raise InvalidValue(_("The amount must be greater than 0."))
    return number


def flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | str) and str(value).strip().lower() in _FLAGS:
        return _FLAGS[str(value).strip().lower()]
    raise InvalidValue(_("%(value)s is not one of true, false, 1, 0, yes, no.") % {"value": show_value(value)})


def _stars(value: object) -> int:
    number = (
        int(value.strip()) if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() else value
    )
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 5:
        raise InvalidValue(_("Stars must be whole numbers from 1 to 5; got %(value)s.") % {"value": show_value(value)})
    return number


def _phone(value: object) -> str:
    phone = text_value(20)(value)
    if not _PHONE.fullmatch(phone):
        raise InvalidValue(_("%(value)s is not a phone number.") % {"value": show_value(value)})
    return phone


def _id_number(value: object) -> str:
    number = text_value(18)(value)
    if not _ID_NUMBER.fullmatch(number):
        raise InvalidValue(_("%(value)s is not an ID number of 18 (or 15) digits.") % {"value": show_value(value)})
    return number.upper()


def not_in_future(row: RowReader, name: str, moment: datetime | None) -> None:
    if moment is not None and moment > row.now + _FUTURE_SLACK and row.ok(name):
        row.reject(name, _("%(moment)s is in the future.") % {"moment": _shown(moment)})


def not_before(row: RowReader, name: str, moment: datetime | None, earlier: str, start: datetime | None) -> None:
    """Reject `name` if its moment comes before the `earlier` field's."""
    if moment is not None and start is not None and row.ok(name, earlier) and moment < start:
        row.reject(
            name,
            _("%(moment)s is before %(field)s (%(start)s).")
            % {"moment": _shown(moment), "field": earlier, "start": _shown(start)},
        )


def _fetch(sql: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _shown(moment: datetime) -> str:
    return timezone.localtime(moment).isoformat()


def merchant_table() -> str:
    # By name: crm sits below merchants in the layering and must not import it (pyproject's import-linter).
    return str(apps.get_model("merchants", "Merchant")._meta.db_table)


# Consumers ------------------------------------------------------------------------------------------------

_CONSUMER_COLUMNS = [("line", "int"), ("external_id", "text"), ("display_name", "text"), ("phone", "text"),
                     ("id_number", "text"), ("registered_at", "timestamptz")]  # fmt: skip
_CONSUMER_FIELDS = ("display_name", "phone", "id_number", "registered_at")


def _parse_consumer(row: RowReader) -> tuple[object, ...]:
    external_id = row.key("external_id", _id32)
    display_name = row.required("display_name", _name64, "")
    phone = row.optional("phone", _phone, "")
    id_number = row.optional("id_number", _id_number, "")
    registered_at = row.required("registered_at", MOMENT, STAND_IN)
    not_in_future(row, "registered_at", registered_at)
    return (row.line, external_id, display_name, phone, id_number, registered_at)


def _load_consumers(rows: list[tuple[object, ...]]) -> ImportReport:
    incoming = changed_only(
        f"SELECT external_id, {', '.join(_CONSUMER_FIELDS)} FROM import_stage",
        table="crm_consumer", key="external_id", columns=("external_id", *_CONSUMER_FIELDS), compared=_CONSUMER_FIELDS,
    )  # fmt: skip
    created, updated = upsert_counts(f"""
        INSERT INTO crm_consumer (external_id, {", ".join(_CONSUMER_FIELDS)}) {incoming}
        ON CONFLICT (external_id) DO UPDATE SET {assign_all(_CONSUMER_FIELDS)}
        WHERE {differs("crm_consumer", _CONSUMER_FIELDS)}
        RETURNING (xmax = 0) AS inserted""")
    return ImportReport(created=created, updated=updated, unchanged=len(rows) - created - updated)


CONSUMERS: Kind[tuple[object, ...]] = Kind(
    "consumers", ("external_id", "display_name", "registered_at"), _CONSUMER_COLUMNS, _parse_consumer, _load_consumers
)


# Orders ---------------------------------------------------------------------------------------------------

_ORDER_COLUMNS = [
    ("line", "int"), ("order_no", "text"), ("consumer", "text"), ("merchant", "text"), ("item_title", "text"),
    ("amount", "numeric"), ("status", "text"), ("placed_at", "timestamptz"), ("delivered_at", "timestamptz"),
    ("refund_requested_at", "timestamptz"), ("refunded_at", "timestamptz"), ("refunded_amount", "numeric"),
    ("returned", "boolean"), ("dispute", "text"), ("dispute_closed_at", "timestamptz"),
]  # fmt: skip
_ORDER_FIELDS = ("consumer_id", "merchant_id", *(name for name, _type in _ORDER_COLUMNS[4:]))
_DELIVERED = {Order.Status.DELIVERED, Order.Status.COMPLETED}
_NOT_DELIVERED = {Order.Status.PAID, Order.Status.SHIPPED}
_CLOSED_DISPUTES = {Order.Dispute.CONSUMER_WON, Order.Dispute.MERCHANT_WON}


def _parse_order(row: RowReader) -> tuple[object, ...]:
    order_no = row.key("order_no", _id32)
    consumer = row.required("consumer", _id32, "")
    merchant = row.required("merchant", _id32, "")
    item_title = row.required("item_title", _title, "")
    amount = row.required("amount", _price, Decimal(1))
    status = row.required("status", _status, "")
    placed_at = row.required("placed_at", MOMENT, STAND_IN)
    delivered_at = row.optional("delivered_at", MOMENT, None)
    refund_requested_at = row.optional("refund_requested_at", MOMENT, None)
    refunded_at = row.optional("refunded_at", MOMENT, None)
    refunded_amount = row.optional("refunded_amount", yuan, Decimal("0.00"))
    returned = row.optional("returned", flag, False)
    dispute = row.optional("dispute", _dispute, "")
    dispute_closed_at = row.optional("dispute_closed_at", MOMENT, None)
    _check_order(row, amount, status, refunded_amount, dispute, dispute_closed_at)
    not_in_future(row, "placed_at", placed_at)
    for name, moment in (("delivered_at", delivered_at), ("refund_requested_at", refund_requested_at),
                         ("dispute_closed_at", dispute_closed_at)):  # fmt: skip
        not_before(row, name, moment, "placed_at", placed_at)
    not_before(row, "refunded_at", refunded_at, "refund_requested_at", refund_requested_at)
    not_before(row, "refunded_at", refunded_at, "placed_at", placed_at)
    if row.ok("status", "delivered_at"):
        if status in _DELIVERED and delivered_at is None:
            row.reject("delivered_at", _("A %(status)s order needs the time it was delivered.") % {"status": status})
        if status in _NOT_DELIVERED and delivered_at is not None:
            row.reject("delivered_at", _("A %(status)s order has not been delivered yet.") % {"status": status})
    if row.ok("refunded_amount", "refunded_at") and refunded_amount > 0 and refunded_at is None:
        row.reject("refunded_at", _("A refunded amount needs the time it was refunded."))
    return (row.line, order_no, consumer, merchant, item_title, amount, status, placed_at, delivered_at,
            refund_requested_at, refunded_at, refunded_amount, returned, dispute, dispute_closed_at)  # fmt: skip


def _check_order(
    row: RowReader, amount: Decimal, status: str, refunded: Decimal, dispute: str, closed_at: datetime | None
) -> None:
    """The amounts, status and dispute of one order must agree with each other."""
    if not row.ok("amount", "refunded_amount", "status"):
        return
    if refunded > amount:
        row.reject(
            "refunded_amount",
            _("The refunded amount %(refunded)s is more than the amount %(amount)s.")
            % {"refunded": refunded, "amount": amount},
        )
    elif status == Order.Status.REFUNDED and refunded == 0:
        row.reject("refunded_amount", _("A refunded order needs the amount refunded, more than 0."))
    elif refunded == amount and status not in {Order.Status.REFUNDED, Order.Status.CANCELLED}:
        row.reject("status", _("The whole amount was refunded, so the status must be refunded or cancelled."))
    if row.ok("dispute", "dispute_closed_at") and closed_at is not None and dispute not in _CLOSED_DISPUTES:
        row.reject("dispute_closed_at", _("Only a dispute won by one side has a closing time."))


def _load_orders(rows: list[tuple[object, ...]]) -> ImportReport:
    """Reject unknown consumers and merchants, upsert the rest: three statements a batch."""
    merchants = merchant_table()
    rejections = rejected_lines(
        "SELECT s.line, s.consumer FROM import_stage s LEFT JOIN crm_consumer c ON c.external_id = s.consumer"
        " WHERE c.id IS NULL",
        "consumer",
        lambda value: _("No consumer has the external id %(value)s.") % {"value": show_value(value)},
    ) + rejected_lines(
        f"SELECT s.line, s.merchant FROM import_stage s LEFT JOIN {merchants} m ON m.code = s.merchant"
        " WHERE m.id IS NULL",
        "merchant",
        lambda value: _("No merchant has the code %(value)s.") % {"value": show_value(value)},
    )
    staged = ", ".join(f"s.{name}" for name, _type in _ORDER_COLUMNS[4:])
    incoming = changed_only(
        f"SELECT s.order_no, c.id, m.id, {staged} FROM import_stage s"
        f" JOIN crm_consumer c ON c.external_id = s.consumer JOIN {merchants} m ON m.code = s.merchant",
        table="crm_order",
        key="order_no",
        columns=("order_no", *_ORDER_FIELDS),
        compared=_ORDER_FIELDS,
    )
    created, updated = upsert_counts(f"""
        INSERT INTO crm_order (order_no, {", ".join(_ORDER_FIELDS)}) {incoming}
        ON CONFLICT (order_no) DO UPDATE SET {assign_all(_ORDER_FIELDS)}
        WHERE {differs("crm_order", _ORDER_FIELDS)}
        RETURNING (xmax = 0) AS inserted""")
    return batch_report(rows, created, updated, rejections)


ORDERS: Kind[tuple[object, ...]] = Kind(
    "orders",
    ("order_no", "consumer", "merchant", "item_title", "amount", "status", "placed_at"),
    _ORDER_COLUMNS,
    _parse_order,
    _load_orders,
)


# Reviews --------------------------------------------------------------------------------------------------

_REVIEW_COLUMNS = [("line", "int"), ("order_no", "text"), ("item_stars", "smallint"), ("service_stars", "smallint"),
                   ("logistics_stars", "smallint"), ("text", "text"), ("created_at", "timestamptz")]  # fmt: skip
_REVIEW_FIELDS = ("item_stars", "service_stars", "logistics_stars", "text", "is_negative", "created_at")


def _parse_review(row: RowReader) -> tuple[object, ...]:
    order_no = row.key("order_no", _id32)
    stars = [row.required(name, _stars, 5) for name in ("item_stars", "service_stars", "logistics_stars")]
    created_at = row.required("created_at", MOMENT, STAND_IN)
    not_in_future(row, "created_at", created_at)
    text = row.optional("text", _text, "")
    return (row.line, order_no, *stars, text, created_at)


def _load_reviews(rows: list[tuple[object, ...]]) -> ImportReport:
    """Reviews of orders in the database, written after the order was placed, upserted by order.

    A new negative review of a consumer with a confirmed risk flag is held for moderation, as record_review
    does; a review imported again keeps its moderation.
    """
    # One lookup of the orders for both checks: unknown order, or a review older than its order.
    rejections = [
        Rejection(line, "order_no", _("No order has the number %(value)s.") % {"value": show_value(order_no)})
        if placed is None
        else Rejection(
            line,
            "created_at",
            _("The review is dated before its order was placed (%(placed)s).") % {"placed": _shown(placed)},
        )
        for line, order_no, placed in _fetch(
            "SELECT s.line, s.order_no, o.placed_at FROM import_stage s"
            " LEFT JOIN crm_order o ON o.order_no = s.order_no"
            " WHERE o.id IS NULL OR s.created_at < o.placed_at ORDER BY s.line"
        )
    ]
    columns = ("order_id", "consumer_id", "merchant_id", *_REVIEW_FIELDS, "moderation")
    incoming = changed_only(f"""
        SELECT o.id, o.consumer_id, o.merchant_id, s.item_stars, s.service_stars, s.logistics_stars, s.text,
               least(s.item_stars, s.service_stars, s.logistics_stars) <= {NEGATIVE_STARS}, s.created_at,
               CASE WHEN least(s.item_stars, s.service_stars, s.logistics_stars) <= {NEGATIVE_STARS}
                     AND EXISTS (SELECT 1 FROM crm_riskflag f WHERE f.consumer_id = o.consumer_id
                                 AND f.status = 'confirmed') THEN 'held' ELSE 'published' END
        FROM import_stage s JOIN crm_order o ON o.order_no = s.order_no
        WHERE s.created_at >= o.placed_at""", table="crm_review", key="order_id", columns=columns,
        compared=_REVIEW_FIELDS,
    )  # fmt: skip
    created, updated = upsert_counts(f"""
        INSERT INTO crm_review ({", ".join(columns)}) {incoming}
        ON CONFLICT (order_id) DO UPDATE SET {assign_all(_REVIEW_FIELDS)}
        WHERE {differs("crm_review", _REVIEW_FIELDS)}
        RETURNING (xmax = 0) AS inserted""")
    return batch_report(rows, created, updated, rejections)


REVIEWS: Kind[tuple[object, ...]] = Kind(
    "reviews", ("order_no", "item_stars", "service_stars", "logistics_stars", "created_at"), _REVIEW_COLUMNS,
    _parse_review, _load_reviews,
)  # fmt: skip

KINDS: dict[str, Kind[tuple[object, ...]]] = {kind.name: kind for kind in (CONSUMERS, ORDERS, REVIEWS)}


# Shared by the kinds --------------------------------------------------------------------------------------


def assign_all(fields: tuple[str, ...]) -> str:
    return ", ".join(f"{name} = EXCLUDED.{name}" for name in fields)


def differs(table: str, fields: tuple[str, ...]) -> str:
    """An upsert rewrites a row only when a value differs, so a rerun writes nothing."""
    return (
        f"({', '.join(f'{table}.{n}' for n in fields)}) IS DISTINCT FROM ({', '.join(f'EXCLUDED.{n}' for n in fields)})"
    )


def batch_report(
    rows: list[tuple[object, ...]], created: int, updated: int, rejections: list[Rejection]
) -> ImportReport:
    rejected = len({rejection.line for rejection in rejections})
    return ImportReport(created, updated, len(rows) - created - updated - rejected, rejections)


def import_consumers(path: Path, *, fmt: str, batch_size: int = DEFAULT_BATCH_SIZE,
                     progress: IO[str] | None = None) -> ImportReport:  # fmt: skip
    """Load the consumers in a file, upserted by external_id."""
    return import_file(CONSUMERS, path, fmt=fmt, batch_size=batch_size, progress=progress)


def import_orders(path: Path, *, fmt: str, batch_size: int = DEFAULT_BATCH_SIZE,
                  progress: IO[str] | None = None) -> ImportReport:  # fmt: skip
    """Load the orders in a file, upserted by order_no; their consumers and merchants must be in."""
    return import_file(ORDERS, path, fmt=fmt, batch_size=batch_size, progress=progress)


def import_reviews(path: Path, *, fmt: str, batch_size: int = DEFAULT_BATCH_SIZE,
                   progress: IO[str] | None = None) -> ImportReport:  # fmt: skip
    """Load the reviews in a file, upserted by order_no (one review per order); their orders must be in."""
    return import_file(REVIEWS, path, fmt=fmt, batch_size=batch_size, progress=progress)
