"""Reading values from imported files (the marketplace's kinds and qa's transcripts): converters, reading one
field of a record, JSON and JSONL, and counting a file's lines for a progress bar.

A converter takes a value as read from the file (CSV text, or any JSON value) and returns it typed, or raises
InvalidValue with a message for the user; `read_field` turns that into a problem under the field's name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import IO, TypeVar

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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
