"""Import orders and reviews from CSV or JSONL files; `manage.py import_orders` is the entry point.

Files
    CSV: UTF-8 (a byte-order mark is fine), comma-separated, the first line names the columns.
    JSONL: UTF-8, one JSON object per line; blank lines are ignored.
    Columns (or keys) not listed below are ignored. An empty value, or JSON null, means "not given".
    Line numbers: in CSV the header is line 1 (a quoted value spanning lines numbers its row by its first
    line); in JSONL the first line is line 1.

Orders (--kind orders)
    order_no            required; at most 32 characters; unique
    consumer            required; external id of an existing consumer
    merchant            required; code of an existing merchant
    item_title          required; at most 200 characters
    amount              required; yuan, greater than 0, at most 2 decimal places ("199.00")
    status              required; paid, shipped, delivered, completed, cancelled or refunded
    placed_at           required; ISO 8601 ("2026-03-01T10:15:00", "...+08:00", "...Z"); without an offset
                        it is in the current time zone (Asia/Shanghai)
    delivered_at, refund_requested_at, refunded_at, dispute_closed_at
                        optional; as placed_at
    refunded_amount     optional, default 0; yuan, from 0 to amount
    returned            optional, default false; true/false, 1/0 or yes/no
    dispute             optional, default none; open, consumer_won, merchant_won or empty

Reviews (--kind reviews), created through crm.services.record_review
    order_no            required; number of an existing order
    item_stars, service_stars, logistics_stars
                        required; whole numbers from 1 to 5
    created_at          required; as placed_at
    text                optional

What happens to a row
    Loaded, or skipped when its order (or the order's review) is already in the database, so running the
    same file again is safe; or rejected, with its line number and the field at fault. A repeated
    order_no inside one file is rejected on every line after the first.

Whole-file problems (unreadable, not UTF-8, a CSV header without a required column) raise ImportFileError
before anything is loaded. Rows are loaded in batches, each in its own transaction: if the database refuses
a batch, nothing of it is written, the batches before it stay, ImportAborted is raised, and a rerun of the
same file skips what is in and continues.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from tqdm import tqdm

from core.importing import (
    ImportFileError,
    InvalidValue,
    choice_value,
    count_lines,
    decode_json,
    jsonl_lines,
    moment_value,
    read_field,
    show_value,
    text_value,
)
from crm.models import Consumer, Order, Review
from crm.services import record_review

if TYPE_CHECKING:
    from _csv import Reader

DEFAULT_BATCH_SIZE = 1000
FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
ROW = "row"  # the "field" of a problem with the whole row: malformed JSON, a wrong number of CSV values

ORDER_REQUIRED = ("order_no", "consumer", "merchant", "item_title", "amount", "status", "placed_at")
REVIEW_REQUIRED = ("order_no", "item_stars", "service_stars", "logistics_stars", "created_at")

_INSERT_ROWS = 1000  # rows per INSERT: PostgreSQL takes at most 65,535 parameters in one statement
_MAX_AMOUNT = Decimal(10) ** 10  # DecimalField(max_digits=12, decimal_places=2)
_CENTS = Decimal("0.01")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_PLACEHOLDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Rejection:
    """One problem with one row: its line number, the field at fault (or ROW) and what is wrong."""

    line: int
    field: str
    message: str


@dataclass
class ImportReport:
    """What an import did: rows loaded, rows skipped as already present, and the problems of rejected rows."""

    loaded: int = 0
    skipped: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Rejected rows; a row can have several problems."""
        return len({rejection.line for rejection in self.rejections})

    def add(self, other: ImportReport) -> None:
        self.loaded += other.loaded
        self.skipped += other.skipped
        self.rejections.extend(other.rejections)


class ImportAborted(Exception):
    """The database refused a batch: nothing of it was written, the batches before it were. Rerun to continue."""

    def __init__(self, report: ImportReport, first_line: int, last_line: int, error: Exception) -> None:
        self.report = report
        self.first_line = first_line
        self.last_line = last_line
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        super().__init__(
            _(
                "The database refused the rows on lines %(first)d to %(last)d (%(error)s); none of them was "
                "written. The rows before them are loaded: fix the cause and import the same file again to continue."
            )
            % {"first": first_line, "last": last_line, "error": reason}
        )


def format_of(path: Path) -> str | None:
    """The format a file's extension names (csv, jsonl), or None."""
    return _EXTENSIONS.get(path.suffix.lower())


def import_orders(
    path: Path, *, fmt: str, batch_size: int = DEFAULT_BATCH_SIZE, progress: IO[str] | None = None
) -> ImportReport:
    """Load the orders in a file; `progress` is where a progress bar goes (None: no bar)."""
    return _run(path, fmt, ORDER_REQUIRED, _parse_order, _load_orders, batch_size=batch_size, progress=progress)


def import_reviews(
    path: Path, *, fmt: str, batch_size: int = DEFAULT_BATCH_SIZE, progress: IO[str] | None = None
) -> ImportReport:
    """Load the reviews in a file, each through record_review; `progress` as for import_orders."""
    return _run(path, fmt, REVIEW_REQUIRED, _parse_review, _load_reviews, batch_size=batch_size, progress=progress)


def write_rejections(report: ImportReport, path: Path) -> None:
    """Write the rejections as CSV: line, field, message."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["line", "field", "message"])
        writer.writerows([rejection.line, rejection.field, rejection.message] for rejection in report.rejections)


# The run --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    line: int
    values: Mapping[str, object]


def _run(
    path: Path,
    fmt: str,
    required: Sequence[str],
    parse: Callable[[_Record, dict[str, int]], R | list[Rejection]],
    load: Callable[[list[R]], ImportReport],
    *,
    batch_size: int,
    progress: IO[str] | None,
) -> ImportReport:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    lines = count_lines(path)
    report = ImportReport()
    seen: dict[str, int] = {}  # order_no -> the line it first appeared on, to reject repeats within the file
    with (
        _records(path, fmt, required) as records,
        tqdm(total=lines, unit="lines", file=progress, disable=progress is None, mininterval=0.5) as bar,
    ):
        for batch in _batches(records, batch_size):
            outcome = ImportReport()
            rows: list[R] = []
            for item in batch:
                parsed = [item] if isinstance(item, Rejection) else parse(item, seen)
                if isinstance(parsed, list):
                    outcome.rejections.extend(parsed)
                else:
                    rows.append(parsed)
            try:
                with transaction.atomic():
                    outcome.add(load(rows))
            except DatabaseError as error:
                raise ImportAborted(report, batch[0].line, batch[-1].line, error) from error
            outcome.rejections.sort(
                key=lambda rejection: rejection.line
            )  # stable: one row's problems stay in column order
            report.add(outcome)
            bar.update(max(0, batch[-1].line - bar.n))
        bar.update(max(0, lines - bar.n))
    return report


def _batches(items: Iterator[T], size: int) -> Iterator[list[T]]:
    while batch := list(islice(items, size)):
        yield batch


@contextmanager
def _records(path: Path, fmt: str, required: Sequence[str]) -> Iterator[Iterator[_Record | Rejection]]:
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as text:
            yield _csv_records(text, required)
    else:
        # Bytes, split at "\n" only, so that line numbers match what an editor shows.
        with path.open("rb") as raw:
            yield _jsonl_records(raw)


def _csv_records(file: IO[str], required: Sequence[str]) -> Iterator[_Record | Rejection]:
    """Check the header now, before anything is loaded; then yield the rows."""
    reader = csv.reader(file)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ImportFileError(_("The header line is not valid CSV: %(error)s.") % {"error": error}) from error
    if header is None:
        raise ImportFileError(_("The file is empty; its first line must name the columns."))
    columns = [name.strip() for name in header]
    missing = [name for name in required if name not in columns]
    if missing:
        raise ImportFileError(
            ngettext(
                "The header lacks the required column %(columns)s; nothing was loaded.",
                "The header lacks the required columns %(columns)s; nothing was loaded.",
                len(missing),
            )
            % {"columns": ", ".join(missing)}
        )
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        raise ImportFileError(
            _("The header names a column more than once: %(columns)s; nothing was loaded.")
            % {"columns": ", ".join(repeated)}
        )
    return _csv_rows(reader, columns)


def _csv_rows(reader: Reader, columns: list[str]) -> Iterator[_Record | Rejection]:
    end = reader.line_num  # the last line read so far; a row starts on the line after
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Rejection(end + 1, ROW, _("Not valid CSV: %(error)s.") % {"error": error})
            end = reader.line_num
            continue
        line, end = end + 1, reader.line_num
        if not values:  # a blank line
            continue
        if len(values) != len(columns):
            yield Rejection(
                line,
                ROW,
                _("Expected %(expected)d values, one for each column of the header, found %(found)d.")
                % {"expected": len(columns), "found": len(values)},
            )
            continue
        yield _Record(line, dict(zip(columns, values, strict=True)))


def _jsonl_records(file: IO[bytes]) -> Iterator[_Record | Rejection]:
    for line, text in jsonl_lines(file):
        try:
            # Decimal, not float, so that amounts keep their exact digits.
            values = decode_json(text, exact_decimals=True)
        except InvalidValue as error:
            yield Rejection(line, ROW, str(error))
            continue
        if not isinstance(values, dict):
            yield Rejection(line, ROW, _('Each line must be one JSON object, like {"order_no": "..."}.'))
            continue
        yield _Record(line, values)


# Reading one row ------------------------------------------------------------------------------------------


class _Row:
    """One record's values, read field by field.

    A bad field is noted under its name and read as a harmless stand-in, so that every problem of a row is
    reported at once; a row with any problem is never built.
    """

    def __init__(self, record: _Record) -> None:
        self.line = record.line
        self.values = record.values
        self.rejections: list[Rejection] = []

    def required(self, name: str, convert: Callable[[object], T], stand_in: T) -> T:
        return self._read(name, convert, stand_in, required=True)

    def optional(self, name: str, convert: Callable[[object], T], default: T) -> T:
        return self._read(name, convert, default, required=False)

    def reject(self, name: str, message: str) -> None:
        self.rejections.append(Rejection(self.line, name, message))

    def ok(self, *names: str) -> bool:
        return not any(rejection.field in names for rejection in self.rejections)

    def _read(self, name: str, convert: Callable[[object], T], default: T, *, required: bool) -> T:
        return read_field(self.values, name, convert, default, required=required, reject=self.reject)


def _yuan(value: object) -> Decimal:
    """A non-negative amount of yuan with at most 2 decimal places."""
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
    number = _yuan(value)
    if number <= 0:
        raise InvalidValue(_("The amount must be greater than 0."))
    return number


def _flag(value: object) -> bool:
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


def _order_no(row: _Row, seen: dict[str, int]) -> str:
    order_no = row.required("order_no", text_value(32), "")
    if order_no in seen:
        row.reject(
            "order_no",
            _("Order number %(order_no)s already appears on line %(line)d.")
            % {"order_no": show_value(order_no), "line": seen[order_no]},
        )
    elif order_no:
        seen[order_no] = row.line
    return order_no


# Orders ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OrderRow:
    line: int
    consumer: str  # external id
    merchant: str  # code
    order: Order  # unsaved, without its consumer and merchant until the batch resolves them


def _parse_order(record: _Record, seen: dict[str, int]) -> _OrderRow | list[Rejection]:
    row = _Row(record)
    order_no = _order_no(row, seen)
    consumer = row.required("consumer", text_value(32), "")
    merchant = row.required("merchant", text_value(32), "")
    item_title = row.required("item_title", text_value(200), "")
    amount = row.required("amount", _price, Decimal(1))
    status = row.required("status", choice_value(Order.Status.values), "")
    placed_at = row.required("placed_at", moment_value(), _PLACEHOLDER_TIME)
    delivered_at = row.optional("delivered_at", moment_value(), None)
    refund_requested_at = row.optional("refund_requested_at", moment_value(), None)
    refunded_at = row.optional("refunded_at", moment_value(), None)
    refunded_amount = row.optional("refunded_amount", _yuan, Decimal("0.00"))
    returned = row.optional("returned", _flag, False)
    dispute = row.optional("dispute", choice_value(Order.Dispute.values), "")
    dispute_closed_at = row.optional("dispute_closed_at", moment_value(), None)
    if row.ok("amount", "refunded_amount") and refunded_amount > amount:
        row.reject(
            "refunded_amount",
            _("The refunded amount %(refunded)s is more than the amount %(amount)s.")
            % {"refunded": refunded_amount, "amount": amount},
        )
    if row.rejections:
        return row.rejections
    order = Order(
        order_no=order_no,
        item_title=item_title,
        amount=amount,
        status=status,
        placed_at=placed_at,
        delivered_at=delivered_at,
        refund_requested_at=refund_requested_at,
        refunded_at=refunded_at,
        refunded_amount=refunded_amount,
        returned=returned,
        dispute=dispute,
        dispute_closed_at=dispute_closed_at,
    )
    return _OrderRow(record.line, consumer, merchant, order)


def _merchant_model() -> type[models.Model]:
    # By name: crm sits below merchants in the layering and must not import it (pyproject's import-linter).
    return apps.get_model("merchants", "Merchant")


def _load_orders(rows: list[_OrderRow]) -> ImportReport:
    """One query per model for the whole batch, and one INSERT per thousand new orders."""
    outcome = ImportReport()
    present = set(
        Order.objects.filter(order_no__in=[row.order.order_no for row in rows]).values_list("order_no", flat=True)
    )
    fresh = [row for row in rows if row.order.order_no not in present]
    outcome.skipped = len(rows) - len(fresh)
    consumers = dict(
        Consumer.objects.filter(external_id__in={row.consumer for row in fresh}).values_list("external_id", "pk")
    )
    merchants = dict(
        _merchant_model()._default_manager.filter(code__in={row.merchant for row in fresh}).values_list("code", "pk")
    )
    new: list[Order] = []
    for row in fresh:
        consumer_id, merchant_id = consumers.get(row.consumer), merchants.get(row.merchant)
        if consumer_id is None:
            outcome.rejections.append(
                Rejection(
                    row.line,
                    "consumer",
                    _("No consumer has the external id %(value)s.") % {"value": show_value(row.consumer)},
                )
            )
        if merchant_id is None:
            outcome.rejections.append(
                Rejection(
                    row.line, "merchant", _("No merchant has the code %(value)s.") % {"value": show_value(row.merchant)}
                )
            )
        if consumer_id is not None and merchant_id is not None:
            row.order.consumer_id = consumer_id
            row.order.merchant_id = merchant_id
            new.append(row.order)
    # ON CONFLICT DO NOTHING: an order another import committed since the check above is not an error.
    # (It is then counted as loaded here; the database holds it once either way.)
    Order.objects.bulk_create(new, batch_size=_INSERT_ROWS, ignore_conflicts=True)
    outcome.loaded = len(new)
    return outcome


# Reviews --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ReviewRow:
    line: int
    order_no: str
    item_stars: int
    service_stars: int
    logistics_stars: int
    text: str
    created_at: datetime


def _parse_review(record: _Record, seen: dict[str, int]) -> _ReviewRow | list[Rejection]:
    row = _Row(record)
    review = _ReviewRow(
        line=record.line,
        order_no=_order_no(row, seen),
        item_stars=row.required("item_stars", _stars, 5),
        service_stars=row.required("service_stars", _stars, 5),
        logistics_stars=row.required("logistics_stars", _stars, 5),
        created_at=row.required("created_at", moment_value(), _PLACEHOLDER_TIME),
        text=row.optional("text", text_value(), ""),
    )
    return row.rejections or review


# record_review's field names, as columns of the file
_REVIEW_COLUMNS = {"order": "order_no", "__all__": ROW}


def _load_reviews(rows: list[_ReviewRow]) -> ImportReport:
    """The batch's orders and their existing reviews in one query each; then record_review per new review."""
    outcome = ImportReport()
    orders = Order.objects.select_related("consumer").in_bulk([row.order_no for row in rows], field_name="order_no")
    reviewed = set(Review.objects.filter(order__in=list(orders.values())).values_list("order_id", flat=True))
    for row in rows:
        order = orders.get(row.order_no)
        if order is None:
            outcome.rejections.append(
                Rejection(
                    row.line, "order_no", _("No order has the number %(value)s.") % {"value": show_value(row.order_no)}
                )
            )
            continue
        if order.pk in reviewed:
            outcome.skipped += 1
            continue
        try:
            record_review(
                order,
                item_stars=row.item_stars,
                service_stars=row.service_stars,
                logistics_stars=row.logistics_stars,
                text=row.text,
                created_at=row.created_at,
            )
        except ValidationError as error:
            problems = error.message_dict if hasattr(error, "error_dict") else {ROW: error.messages}
            outcome.rejections.extend(
                Rejection(row.line, _REVIEW_COLUMNS.get(name, name), " ".join(messages))
                for name, messages in problems.items()
            )
        else:
            outcome.loaded += 1
            reviewed.add(order.pk)
    return outcome
