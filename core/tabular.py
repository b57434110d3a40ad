"""Reading a tabular file (CSV or JSONL) into records for core.importing: each row as its line number and values
by column, a row of the wrong shape (malformed JSON, a wrong number of CSV values) as a rejection of the whole
row. A file unusable as a whole (an empty file, a header without a required column) raises ImportFileError
before anything is loaded."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.values import ImportFileError, InvalidValue, decode_json, jsonl_lines

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
ROW = "row"  # the "field" of a problem with the whole row: malformed JSON, a wrong number of CSV values


@dataclass(frozen=True)
class Rejection:
    """One problem with one row: its line number, the field at fault (or ROW) and what is wrong."""

    line: int
    field: str
    message: str


def format_of(path: Path) -> str | None:
    """The format a file's extension names (csv, jsonl), or None."""
    return _EXTENSIONS.get(path.suffix.lower())


class Record:
    """One row of a file as read: its line number and its values by column."""

    __slots__ = ("line", "values")

    def __init__(self, line: int, values: Mapping[str, object]) -> None:
        self.line = line
        self.values = values


@contextmanager
def read_records(path: Path, fmt: str, required: Sequence[str]) -> Iterator[Iterator[Record | Rejection]]:
    """The file's records, open while the block runs (``fmt``: one of FORMATS; CSV's header is checked now)."""
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
