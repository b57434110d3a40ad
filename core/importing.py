"""The one set-based path of tabular imports (the marketplace's consumers, merchants, orders, reviews and
memberships): `import_file` reads a CSV or JSONL file, parses it batch by batch in a second thread and loads each
batch in its own transaction (see below). The file is read into records by core.tabular; values are read with
core.values; batches are staged with core.staging.
"""

from __future__ import annotations

import csv
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from tqdm import tqdm

from core.staging import copy_text, stage_text
from core.tabular import FORMATS, Record, Rejection, read_records
from core.values import InvalidValue, count_lines, show_value

T = TypeVar("T")

# Tabular files (CSV, JSONL) loaded set-based: the one path of every marketplace import ----------------------
#
# A *kind* (crm's consumers, orders, reviews; merchants' merchants and memberships) says which columns are
# required, how one record becomes a staged tuple (or rejections), and how a batch of staged tuples is loaded.
# `import_file` reads the file and parses it batch by batch in a second thread, which also writes each batch's
# staged tuples as COPY text (`copy_text`); in one transaction per batch it COPYs that text into the temporary
# table `import_stage` (the kind's columns) and calls the kind's load, which resolves references there and
# upserts with one `INSERT ... ON CONFLICT ... DO UPDATE`. Loading is a few statements per batch, whatever its
# size, and the database's work per batch does not grow with the tables it looks references up in.

DEFAULT_BATCH_SIZE = 5000
R = TypeVar("R", bound=Sequence[Any])


@dataclass
class ImportReport:
    """What an import did: rows created, updated, unchanged (already so), and the problems of rejected rows."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return self.created + self.updated

    @property
    def rejected(self) -> int:
        """Rejected rows; a row can have several problems."""
        return len({rejection.line for rejection in self.rejections})

    def add(self, other: ImportReport) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejections.extend(other.rejections)

    def as_dict(self) -> dict[str, object]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "rejections": [{"line": r.line, "field": r.field, "message": r.message} for r in self.rejections],
        }


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


class RowReader:
    """One record's values, read field by field.

    A bad field is noted under its name and read as a harmless stand-in, so that every problem of a row is
    reported at once; a row with any problem is never staged.
    """

    __slots__ = ("line", "now", "rejections", "seen", "values")

    def __init__(self, record: Record, seen: dict[str, int], now: datetime | None = None) -> None:
        self.line = record.line
        self.values = record.values
        self.seen = seen
        self.now = now or timezone.now()  # one clock reading per batch, for checks of moments in the future
        self.rejections: list[Rejection] = []

    # read_field's rules, written out: these two run for every field of a million rows.
    def required(self, name: str, convert: Callable[[object], T], stand_in: T) -> T:
        value = self.values.get(name)
        if value is None or value == "" or (isinstance(value, str) and not value.strip()):
            self.reject(name, _("This field is required."))
            return stand_in
        try:
            return convert(value)
        except InvalidValue as error:
            self.reject(name, str(error))
            return stand_in

    def optional(self, name: str, convert: Callable[[object], T], default: T) -> T:
        value = self.values.get(name)
        if value is None or value == "" or (isinstance(value, str) and not value.strip()):
            return default
        try:
            return convert(value)
        except InvalidValue as error:
            self.reject(name, str(error))
            return default

    def key(self, name: str, convert: Callable[[object], str]) -> str:
        """The row's external id (required); a value an earlier line of the file had is rejected here."""
        value = self.required(name, convert, "")
        if value in self.seen:
            self.reject(
                name,
                _("%(value)s already appears on line %(line)d.")
                % {"value": show_value(value), "line": self.seen[value]},
            )
        elif value:
            self.seen[value] = self.line
        return value

    def reject(self, name: str, message: str) -> None:
        self.rejections.append(Rejection(self.line, name, message))

    def ok(self, *names: str) -> bool:
        if not self.rejections:
            return True
        return not any(rejection.field in names for rejection in self.rejections)


@dataclass(frozen=True)
class Kind(Generic[R]):
    """What can be imported: its name, required columns, how a row is read and staged, how a batch is loaded."""

    name: str
    required: Sequence[str]
    staged: Sequence[tuple[str, str]]  # the columns (name, SQL type) of what parse returns, as import_stage has them
    parse: Callable[[RowReader], R | None]  # None: rejected (the reader holds why)
    load: Callable[[list[R]], ImportReport]  # runs inside the batch's transaction, the batch staged in STAGE


def import_file(
    kind: Kind[R], path: Path, *, fmt: str, batch_size: int = DEFAULT_BATCH_SIZE, progress: IO[str] | None = None
) -> ImportReport:
    """Load a file of one kind, one transaction per batch; `progress` is where a progress bar goes (None: none).

    ImportFileError before anything is loaded if the file as a whole is unusable; ImportAborted if the database
    refuses a batch (the batches before it stay).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    lines = count_lines(path)
    report = ImportReport()
    with (
        read_records(path, fmt, kind.required) as records,
        tqdm(total=lines, unit="lines", file=progress, disable=progress is None, mininterval=0.5) as bar,
    ):
        for first, last, outcome, rows, text in _parsed_batches(kind, records, batch_size):
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(_BATCH_SETTINGS)
                    stage_text(text, kind.staged)
                    outcome.add(kind.load(rows))
            except DatabaseError as error:
                raise ImportAborted(report, first, last, error) from error
            outcome.rejections.sort(key=lambda rejection: rejection.line)  # stable: a row's problems keep their order
            report.add(outcome)
            bar.update(max(0, last - bar.n))
        bar.update(max(0, lines - bar.n))
    return report


# first line, last line, the rejections so far, the staged rows and the same as COPY text
_Parsed = tuple[int, int, ImportReport, list[Any], bytes]

# SET LOCAL, for the batch's transaction, in one statement:
# - A crash may lose the last batches committed, never half of one; a rerun loads them again.
# - A batch is a few thousand rows whose references are looked up in tables of millions: by index, one look-up
#   a row. Left to itself the planner hashes (or merge-joins from the start of the index) the whole referenced
#   table for every batch, so that a batch's cost grew with the table (reviews of 1 M orders: ≈ 0.2 s a batch).
_BATCH_SETTINGS = (
    "SELECT set_config('synchronous_commit', 'off', true), set_config('enable_hashjoin', 'off', true),"
    " set_config('enable_mergejoin', 'off', true)"
)


def _parse_batch(kind: Kind[Any], batch: list[Record | Rejection], seen: dict[str, int]) -> _Parsed:
    outcome = ImportReport()
    rows: list[Any] = []
    now = timezone.now()
    for item in batch:
        if isinstance(item, Rejection):
            outcome.rejections.append(item)
            continue
        reader = RowReader(item, seen, now)
        parsed = kind.parse(reader)
        if reader.rejections or parsed is None:
            outcome.rejections.extend(reader.rejections)
        else:
            rows.append(parsed)
    return batch[0].line, batch[-1].line, outcome, rows, copy_text(rows, kind.staged)


def _parsed_batches(kind: Kind[Any], records: Iterator[Record | Rejection], size: int) -> Iterator[_Parsed]:
    """The file's batches, read and checked by a second thread one batch ahead of the database's work.

    Parsing is Python and loading is PostgreSQL, so on two cores they overlap (the thread gives up the GIL
    while it waits for the server). The thread sees the caller's language and time zone for its messages.
    """
    seen: dict[str, int] = {}  # external id -> the line it first appeared on, to reject repeats within the file
    ready: queue.Queue[_Parsed | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()
    language, zone = translation.get_language(), timezone.get_current_timezone()

    def put(item: _Parsed | BaseException | None) -> None:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            with translation.override(language), timezone.override(zone):
                for batch in _batches(records, size):
                    put(_parse_batch(kind, batch, seen))
            put(None)
        except BaseException as error:  # handed to the caller, who raises it
            put(error)

    worker = threading.Thread(target=produce, name=f"import-{kind.name}", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def rejected_lines(sql: str, field_name: str, message: Callable[[object], str]) -> list[Rejection]:
    """Rejections for the lines a query over the stage table returns as (line, value)."""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [Rejection(line, field_name, message(value)) for line, value in cursor.fetchall()]


def summary_line(report: ImportReport) -> str:
    """The one-line summary the commands print."""
    return _("%(created)d created, %(updated)d updated, %(unchanged)d unchanged, %(rejected)d rejected") % {
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
    }


def rejection_line(rejection: Rejection) -> str:
    return _("line %(line)d: %(field)s: %(message)s") % {
        "line": rejection.line,
        "field": rejection.field,
        "message": rejection.message,
    }


def write_rejections(report: ImportReport, path: Path) -> None:
    """Write the rejections as CSV: line, field, message."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["line", "field", "message"])
        writer.writerows([rejection.line, rejection.field, rejection.message] for rejection in report.rejections)


def _batches(items: Iterator[T], size: int) -> Iterator[list[T]]:
    while batch := list(islice(items, size)):
        yield batch
