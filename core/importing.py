"""What every file import shares (the marketplace's consumers, merchants, orders, reviews and memberships, qa's
transcripts): value converters, reading one field of a record, reading JSON and JSONL, counting a file's lines
for the progress bar, and the one set-based path of tabular imports (`import_file`, `stage`; see below).

A converter takes a value as read from the file (CSV text, or any JSON value) and returns it typed, or raises
InvalidValue with a message for the user; `read_field` turns that into a problem under the field's name.
"""

from __future__ import annotations

import csv
import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from tqdm import tqdm

T = TypeVar("T")

_SHOWN_CHARS = 40  # a value quoted in a message is cut to this many characters


class ImportFileError(Exception):
    """A file as a whole cannot be imported (unreadable, not UTF-8, a bad header); nothing of it was loaded."""


class InvalidValue(Exception):
    """A field's value cannot be converted; the message says why, for the user."""


class MalformedJson(InvalidValue):
    """Text that is not valid JSON; `line` is the line of the text at fault, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def show_value(value: object) -> str:
    """A value as JSON for a message, cut to 40 characters."""
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= _SHOWN_CHARS else shown[: _SHOWN_CHARS - 3] + "..."


def read_field(
    values: Mapping[str, object],
    name: str,
    convert: Callable[[object], T],
    default: T,
    *,
    required: bool,
    reject: Callable[[str, str], None],
) -> T:
    """values[name] converted; if it is missing (None, blank) or invalid, reject(name, why) and return default."""
    value = values.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            reject(name, _("This field is required."))
        return default
    try:
        return convert(value)
    except InvalidValue as error:
        reject(name, str(error))
        return default


def text_value(max_length: int | None = None) -> Callable[[object], str]:
    """A converter of text, stripped, without NUL characters and at most max_length characters long."""

    def convert(value: object) -> str:
        if not isinstance(value, str):
            raise InvalidValue(_("Expected text, got %(value)s.") % {"value": show_value(value)})
        value = value.strip()
        if "\x00" in value:  # PostgreSQL cannot store it: refuse the row rather than fail its whole batch
            raise InvalidValue(_("The text contains a NUL character."))
        if max_length is not None and len(value) > max_length:
            raise InvalidValue(
                ngettext(
                    "At most %(max)d character, this has %(length)d.",
                    "At most %(max)d characters, this has %(length)d.",
                    max_length,
                )
                % {"max": max_length, "length": len(value)}
            )
        return value

    return convert


def moment_value(*, offset_example: bool = False, zone: tzinfo | None = None) -> Callable[[object], datetime]:
    """A converter of ISO 8601 date-times, naive ones in `zone` (default: the current time zone, looked up each
    time); offset_example: +08:00 in the example."""

    def convert(value: object) -> datetime:
        if not isinstance(value, str):
            raise InvalidValue(
                _("Expected an ISO 8601 date and time as text, got %(value)s.") % {"value": show_value(value)}
            )
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            if offset_example:
                message = _("%(value)s is not an ISO 8601 date and time like 2026-03-01T10:15:00+08:00.")
            else:
                message = _("%(value)s is not an ISO 8601 date and time like 2026-03-01T10:15:00.")
            raise InvalidValue(message % {"value": show_value(value)}) from None
        if moment.tzinfo is not None:
            return moment
        return moment.replace(tzinfo=zone) if zone is not None else timezone.make_aware(moment)

    return convert


def choice_value(choices: Sequence[str], *, ignore_case: bool = False) -> Callable[[object], str]:
    """A converter of text that must be one of choices (stripped; lower-cased first with ignore_case)."""

    def convert(value: object) -> str:
        choice = value.strip() if isinstance(value, str) else None
        if choice is not None and ignore_case:
            choice = choice.lower()
        if choice is None or choice not in choices:
            # "" (no value) is chosen by leaving the field empty, so it is not listed
            listed = ", ".join(choice for choice in choices if choice)
            raise InvalidValue(
                _("%(value)s is not one of %(choices)s.") % {"value": show_value(value), "choices": listed}
            )
        return choice

    return convert


def no_json_constant(name: str) -> object:
    """json.loads's parse_constant: NaN, Infinity and -Infinity are not JSON, so refuse them."""
    raise ValueError(name)


def decode_json(text: str, *, exact_decimals: bool = False) -> object:
    """JSON text decoded (numbers with a fraction as Decimal with exact_decimals); MalformedJson if it is not JSON."""
    try:
        return json.loads(text, parse_float=Decimal if exact_decimals else None, parse_constant=no_json_constant)
    except json.JSONDecodeError as error:
        raise MalformedJson(
            _("Malformed JSON at column %(column)d: %(error)s.") % {"column": error.colno, "error": error.msg},
            error.lineno,
        ) from None
    except (ValueError, RecursionError) as error:  # NaN or Infinity; nesting too deep
        raise MalformedJson(_("Malformed JSON: %(error)s.") % {"error": error}) from None


def jsonl_lines(file: IO[bytes]) -> Iterator[tuple[int, str]]:
    """The number (from 1) and stripped text of each non-blank line of a UTF-8 JSONL file opened in binary mode."""
    # Bytes, split at "\n" only, so that line numbers match what an editor shows.
    for number, raw in enumerate(file, 1):
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        if text:
            yield number, text


def count_lines(path: Path, *, skip_blank: bool = False, name_file: bool = False) -> int:
    """A file's lines (non-blank ones with skip_blank), for a progress bar; ImportFileError if unreadable or not UTF-8.

    The check comes before anything is loaded; name_file puts the file's path in the not-UTF-8 message.
    """
    count = 0
    try:
        with path.open("rb") as file:
            for number, raw in enumerate(file, 1):
                try:
                    text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    if name_file:
                        message = _("%(path)s: line %(line)d is not UTF-8 text; save the file as UTF-8 and try again.")
                    else:
                        message = _("Line %(line)d is not UTF-8 text; save the file as UTF-8 and try again.")
                    raise ImportFileError(message % {"path": path, "line": number}) from None
                count += 1 if not skip_blank or text.strip() else 0
    except OSError as error:
        raise ImportFileError(
            _("Cannot read %(path)s: %(error)s.") % {"path": path, "error": error.strerror or error}
        ) from error
    return count


# Tabular files (CSV, JSONL) loaded set-based: the one path of every marketplace import ----------------------
#
# A *kind* (crm's consumers, orders, reviews; merchants' merchants and memberships) says which columns are
# required, how one record becomes a staged tuple (or rejections), and how a batch of staged tuples is loaded.
# `import_file` reads the file and parses it batch by batch in a second thread, which also writes each batch's
# staged tuples as COPY text (`copy_text`); in one transaction per batch it COPYs that text into the temporary
# table `import_stage` (the kind's columns) and calls the kind's load, which resolves references there and
# upserts with one `INSERT ... ON CONFLICT ... DO UPDATE`. Loading is a few statements per batch, whatever its
# size, and the database's work per batch does not grow with the tables it looks references up in.

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
ROW = "row"  # the "field" of a problem with the whole row: malformed JSON, a wrong number of CSV values
DEFAULT_BATCH_SIZE = 5000
STAGE = "import_stage"  # the temporary table a batch is staged in
R = TypeVar("R", bound=Sequence[Any])


@dataclass(frozen=True)
class Rejection:
    """One problem with one row: its line number, the field at fault (or ROW) and what is wrong."""

    line: int
    field: str
    message: str


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


def format_of(path: Path) -> str | None:
    """The format a file's extension names (csv, jsonl), or None."""
    return _EXTENSIONS.get(path.suffix.lower())


class Record:
    """One row of a file as read: its line number and its values by column."""

    __slots__ = ("line", "values")

    def __init__(self, line: int, values: Mapping[str, object]) -> None:
        self.line = line
        self.values = values


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
        _records(path, fmt, kind.required) as records,
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


def stage(rows: Iterable[Sequence[object]], columns: Sequence[tuple[str, str]], *, table: str = STAGE) -> str:
    """COPY rows into a new temporary table (name, SQL type pairs) dropped at the commit; returns its name.

    Call it inside the transaction. The table is analyzed, for queries that join it without import_file's
    settings.
    """
    quote = connection.ops.quote_name
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(_new_stage(cursor, columns, table)) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"ANALYZE {quote(table)}")
    return table


def stage_text(text: bytes, columns: Sequence[tuple[str, str]], *, table: str = STAGE) -> str:
    """COPY text (`copy_text`'s) into a new temporary table like `stage`'s, not analyzed; returns its name.

    import_file's batches need no statistics: its transaction looks every reference up by index.
    """
    # Through the psycopg cursor under Django's, its errors raised as Django's (DataError ...).
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(_new_stage(cursor, columns, table)) as copy,
    ):
        copy.write(text)
    return table


def _new_stage(cursor: Any, columns: Sequence[tuple[str, str]], table: str) -> str:
    """Create the temporary table; returns the COPY statement that fills it."""
    quote = connection.ops.quote_name
    definition = ", ".join(f"{quote(name)} {sql_type}" for name, sql_type in columns)
    names = ", ".join(quote(name) for name, _type in columns)
    # One round trip; no parameters, so psycopg sends both statements at once.
    cursor.execute(
        f"DROP TABLE IF EXISTS {quote(table)}; CREATE TEMPORARY TABLE {quote(table)} ({definition}) ON COMMIT DROP"
    )
    return f"COPY {quote(table)} ({names}) FROM STDIN"


# COPY's text format, written here rather than value by value by the driver: one join a row, in the reading
# thread, so the thread that talks to the database only sends bytes. None is \N; text escapes its backslashes,
# tabs and line ends (NUL is refused by text_value).
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_str(value: str | None) -> str:
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


def _copy_moment(value: datetime | None) -> str:
    return "\\N" if value is None else value.isoformat()


def _copy_flag(value: bool | None) -> str:
    return "\\N" if value is None else "t" if value else "f"


def _copy_number(value: int | Decimal | None) -> str:
    return "\\N" if value is None else str(value)


_COPY_OF_TYPE: dict[str, Callable[[Any], str]] = {
    "text": _copy_str,
    "timestamptz": _copy_moment,
    "boolean": _copy_flag,
    "int": _copy_number,
    "smallint": _copy_number,
    "bigint": _copy_number,
    "numeric": _copy_number,
}


def copy_text(rows: Iterable[Sequence[Any]], columns: Sequence[tuple[str, str]]) -> bytes:
    """Rows as COPY text for a table of these columns (name, SQL type: text, timestamptz, boolean, int, numeric)."""
    writers = [_COPY_OF_TYPE[sql_type] for _name, sql_type in columns]
    return "".join(
        ["\t".join([write(value) for write, value in zip(writers, row, strict=True)]) + "\n" for row in rows]
    ).encode()


def upsert_counts(sql: str, params: Sequence[Any] = ()) -> tuple[int, int]:
    """Run an INSERT ... ON CONFLICT ... RETURNING (xmax = 0); (created, updated)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH done AS ({sql}) SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)"
            " FROM done",
            params,
        )
        created, updated = cursor.fetchone()
    return int(created), int(updated)


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


@contextmanager
def _records(path: Path, fmt: str, required: Sequence[str]) -> Iterator[Iterator[Record | Rejection]]:
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as text:
            yield _csv_records(text, required)
    else:
        with path.open("rb") as raw:
            yield _jsonl_records(raw)


def _csv_records(file: IO[str], required: Sequence[str]) -> Iterator[Record | Rejection]:
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


def _csv_rows(reader: Any, columns: list[str]) -> Iterator[Record | Rejection]:
    end = reader.line_num  # the last line read so far; a row starts on the line after
    width = len(columns)
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
        if len(values) != width:
            yield Rejection(
                line,
                ROW,
                _("Expected %(expected)d values, one for each column of the header, found %(found)d.")
                % {"expected": width, "found": len(values)},
            )
            continue
        yield Record(line, dict(zip(columns, values, strict=True)))


def _jsonl_records(file: IO[bytes]) -> Iterator[Record | Rejection]:
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
        yield Record(line, values)
