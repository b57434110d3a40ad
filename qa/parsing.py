"""Reading transcripts produced elsewhere: JSON, JSONL and plain text (docs/transcript-format.md). No database.

A problem names the field at fault, and the line of the file (JSONL, text) and/or the segment's number
(JSON, counted from 1). A bad *segment* is left out and reported; a transcript with bad *metadata*, or with
no good segment at all, carries its errors (``Parsed.errors``) and ``qa.importing`` refuses it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.values import (
    ImportFileError,
    InvalidValue,
    MalformedJson,
    choice_value,
    decode_json,
    jsonl_lines,
    moment_value,
    read_field,
    show_value,
    text_value,
)
from qa.models import Speaker
from qa.segments import SegmentIn

FORMATS = ("json", "jsonl", "text")
_EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "text", ".text": "text"}

DOCUMENT = "document"  # the "field" of a problem with the whole document: malformed JSON, not an object
LANGUAGES = ("zh", "en")
MAX_SEGMENTS = 20_000
MAX_SEGMENT_CHARS = 20_000
MAX_SECONDS = 24 * 3600  # a segment's time is within a day of the call's start

# Speaker labels of the text format, lower-cased: English codes and the usual Chinese names.
TEXT_SPEAKERS = {
    "agent": Speaker.AGENT,
    "客服": Speaker.AGENT,
    "坐席": Speaker.AGENT,
    "consumer": Speaker.CONSUMER,
    "customer": Speaker.CONSUMER,
    "顾客": Speaker.CONSUMER,
    "客户": Speaker.CONSUMER,
    "用户": Speaker.CONSUMER,
    "买家": Speaker.CONSUMER,
    "bot": Speaker.BOT,
    "机器人": Speaker.BOT,
    "unknown": Speaker.UNKNOWN,
}
# "[00:01.5-00:04] agent: text" — the time range is optional; ASCII or full-width colon after the speaker.
_TEXT_LINE = re.compile(
    r"^(?:\[\s*(?P<start>[0-9:.]+)\s*[-–~]\s*(?P<end>[0-9:.]+)\s*\]\s*)?(?P<speaker>[^:：\[\]]{1,20}?)\s*[:：]\s*(?P<text>.*)$"
)
_CLOCK = re.compile(r"^(?:(?:(?P<h>\d+):)?(?P<m>\d+):)?(?P<s>\d+(?:\.\d+)?)$")

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an import: the field at fault, and where (line of the file, segment number from 1)."""

    field: str
    message: str
    line: int | None = None
    segment: int | None = None
    file: str = ""  # in a bulk import: the file the line is in

    def where(self) -> str:
        parts = [self.file] if self.file else []
        if self.line is not None:
            parts.append(_("line %(line)d") % {"line": self.line})
        if self.segment is not None:
            parts.append(_("segment %(segment)d") % {"segment": self.segment})
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.field}: {self.message}" if where else f"{self.field}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "segment": self.segment, "field": self.field, "message": self.message}

    def in_file(self, name: str) -> Problem:
        return Problem(self.field, self.message, self.line, self.segment, name)


def format_of(path: Path) -> str | None:
    """The format a file's extension names (json, jsonl, text), or None."""
    return _EXTENSIONS.get(path.suffix.lower())


def _id(value: object) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**63:
        raise InvalidValue(_("Expected a whole number id, got %(value)s.") % {"value": show_value(value)})
    return value


def _seconds(value: object) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InvalidValue(
                _("Expected a number of seconds, got %(value)s.") % {"value": show_value(value)}
            ) from None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidValue(_("Expected a number of seconds, got %(value)s.") % {"value": show_value(value)})
    if not 0 <= value <= MAX_SECONDS:
        raise InvalidValue(
            _("%(value)s is outside 0 to %(max)d seconds.") % {"value": show_value(value), "max": MAX_SECONDS}
        )
    return float(value)


class _Fields:
    """Reads fields one by one, noting each problem under its name so that all are reported at once."""

    def __init__(self, values: Mapping[str, object], *, line: int | None, segment: int | None = None) -> None:
        self.values = values
        self.line = line
        self.segment = segment
        self.problems: list[Problem] = []

    def get(self, name: str, convert: Callable[[object], T], default: T, *, required: bool = False) -> T:
        return read_field(self.values, name, convert, default, required=required, reject=self.reject)

    def reject(self, name: str, message: str) -> None:
        self.problems.append(Problem(name, message, line=self.line, segment=self.segment))


@dataclass
class Parsed:
    """A transcript read from its source, before its agent, consumer, ticket and recording are looked up."""

    external_id: str
    agent: str  # username; "" when the recording's agent is meant
    consumer: str  # external id; "" for none (or the ticket's / recording's consumer)
    ticket: int | None
    recording: int | None
    started_at: datetime | None
    language: str | None
    duration: float | None
    segments: list[SegmentIn]
    rejected_segments: list[Problem]
    errors: list[Problem]
    line: int | None = None


def parse_metadata(values: Mapping[str, object], *, line: int | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """The transcript's own fields (everything but its segments), and their problems."""
    fields = _Fields(values, line=line)
    recording = fields.get("recording", _id, None)
    meta = {
        "external_id": fields.get("external_id", text_value(100), "", required=True),
        # The recording, when given, supplies the agent, consumer, ticket, start and language by default.
        "agent": fields.get("agent", text_value(150), "", required=recording is None),
        "consumer": fields.get("consumer", text_value(32), ""),
        "ticket": fields.get("ticket", _id, None),
        "recording": recording,
        "started_at": fields.get("started_at", moment_value(offset_example=True), None, required=recording is None),
        "language": fields.get("language", choice_value(LANGUAGES, ignore_case=True), None),
        "duration": fields.get("duration", _seconds, None),
    }
    return meta, fields.problems


def parse_segments(items: object, *, line: int | None = None) -> tuple[list[SegmentIn], list[Problem], list[Problem]]:
    """The good segments of a JSON ``segments`` list, the bad ones' problems, and problems of the list itself."""
    if not isinstance(items, list):
        if items is None:
            return [], [], [Problem("segments", _("This field is required."), line=line)]
        return (
            [],
            [],
            [
                Problem(
                    "segments",
                    _("Expected a list of segments, got %(value)s.") % {"value": show_value(items)},
                    line=line,
                )
            ],
        )
    if len(items) > MAX_SEGMENTS:
        message = _("At most %(max)d segments, this has %(count)d.") % {"max": MAX_SEGMENTS, "count": len(items)}
        return [], [], [Problem("segments", message, line=line)]
    good: list[SegmentIn] = []
    bad: list[Problem] = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            bad.append(Problem(
                "segment", _('Expected an object like {"speaker": "agent", "text": "..."}, got %(value)s.')
                % {"value": show_value(item)}, line=line, segment=number,
            ))  # fmt: skip
            continue
        fields = _Fields(item, line=line, segment=number)
        speaker = fields.get("speaker", choice_value(Speaker.values, ignore_case=True), "", required=True)
        text = fields.get("text", text_value(MAX_SEGMENT_CHARS), "", required=True)
        start = fields.get("start", _seconds, None)
        end = fields.get("end", _seconds, None)
        if start is not None and end is not None and end < start:
            fields.reject("end", _before(end, start))
        if fields.problems:
            bad.extend(fields.problems)
            continue
        good.append(SegmentIn(speaker=speaker, text=text, start_ms=_ms(start), end_ms=_ms(end)))
    return good, bad, []


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def parse_text(text: str) -> tuple[list[SegmentIn], list[Problem]]:
    """Segments from ``speaker: text`` lines (see docs/transcript-format.md), and the problems of bad lines."""
    good: list[SegmentIn] = []
    bad: list[Problem] = []
    labels = "agent:, consumer:, bot:, 客服：, 顾客："
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        problems: list[Problem] = []

        def reject(name: str, message: str, number: int = number, problems: list[Problem] = problems) -> None:
            problems.append(Problem(name, message, line=number))

        match = _TEXT_LINE.match(line)
        if match is None:
            reject("speaker", _("The line does not start with a speaker (%(labels)s).") % {"labels": labels})
            bad.extend(problems)
            continue
        label, said = match["speaker"].strip(), match["text"].strip()
        speaker = TEXT_SPEAKERS.get(label.lower())
        if speaker is None:
            reject(
                "speaker",
                _("%(value)s is not a speaker; use %(labels)s.") % {"value": show_value(label), "labels": labels},
            )
        try:
            said = text_value(MAX_SEGMENT_CHARS)(said)
        except InvalidValue as error:
            reject("text", str(error))
        if not said:
            reject("text", _("Nothing is said after the speaker."))
        start = end = None
        if match["start"] is not None:
            try:
                start, end = _clock(match["start"]), _clock(match["end"])
            except InvalidValue as error:
                reject("time", str(error))
            else:
                if end < start:
                    reject("time", _before(end, start))
        if problems or speaker is None:
            bad.extend(problems)
            continue
        good.append(SegmentIn(speaker=speaker, text=said, start_ms=_ms(start), end_ms=_ms(end)))
    if len(good) > MAX_SEGMENTS:
        message = _("At most %(max)d segments, this has %(count)d.") % {"max": MAX_SEGMENTS, "count": len(good)}
        return [], [*bad, Problem("segments", message)]
    return good, bad


def _before(end: float, start: float) -> str:
    return _("The end (%(end)s s) is before the start (%(start)s s).") % {"end": f"{end:g}", "start": f"{start:g}"}


def _clock(value: str) -> float:
    """'75', '1:15', '01:15.5' or '0:01:15' as seconds."""
    match = _CLOCK.match(value)
    if match is None:
        raise InvalidValue(_("%(value)s is not a time like 01:15.5.") % {"value": show_value(value)})
    seconds = int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + float(match["s"])
    if seconds > MAX_SECONDS:
        raise InvalidValue(_("%(value)s is more than a day.") % {"value": show_value(value)})
    return seconds


def parse_document(values: object, *, line: int | None = None) -> Parsed:
    """One JSON transcript document (already decoded)."""
    if not isinstance(values, dict):
        message = _('Expected one JSON object like {"external_id": "...", "segments": [...]}, got %(value)s.') % {
            "value": show_value(values)
        }
        return _refused([Problem(DOCUMENT, message, line=line)], line)
    meta, errors = parse_metadata(values, line=line)
    segments, rejected, list_errors = parse_segments(values.get("segments"), line=line)
    return _parsed(meta, segments, rejected, [*errors, *list_errors], line)


def parse_text_document(text: str, metadata: Mapping[str, object], *, line: int | None = None) -> Parsed:
    """A plain-text transcript and its metadata given separately (query parameters, command options)."""
    meta, errors = parse_metadata(metadata, line=None)
    segments, rejected = parse_text(text)
    return _parsed(meta, segments, rejected, errors, line)


def _parsed(meta: dict[str, Any], segments: list[SegmentIn], rejected: list[Problem], errors: list[Problem],
            line: int | None) -> Parsed:  # fmt: skip
    if not segments and not errors:
        if rejected:
            count = len({(p.line, p.segment) for p in rejected})
            message = ngettext(
                "No segment could be imported: the only one is rejected.",
                "No segment could be imported: all %(count)d are rejected.",
                count,
            ) % {"count": count}
        else:
            message = _("A transcript needs at least one segment.")
        errors = [Problem("segments", message, line=line)]
    return Parsed(segments=segments, rejected_segments=rejected, errors=errors, line=line, **meta)


def _refused(errors: list[Problem], line: int | None) -> Parsed:
    return Parsed("", "", "", None, None, None, None, None, [], [], errors, line)


# --- Files -------------------------------------------------------------------------------------------


def parsed_items(paths: Sequence[Path], formats: Sequence[str], metadata: Mapping[str, object],
                  *, single: bool) -> Iterator[tuple[str, Parsed]]:  # fmt: skip
    for path, kind in zip(paths, formats, strict=True):
        if kind == "jsonl":
            for line, values in _jsonl(path):
                yield path.name, values if isinstance(values, Parsed) else parse_document(values, line=line)
        elif kind == "json":
            yield path.name, _json_file(path)
        else:
            text = read_text(path)
            meta = dict(metadata)
            if not single or not meta.get("external_id"):
                meta["external_id"] = path.stem
            yield path.name, parse_text_document(text, meta)


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(
            _("%(path)s is not UTF-8 text (byte %(at)d); save it as UTF-8 and try again.")
            % {"path": path, "at": error.start}
        ) from None
    except OSError as error:
        raise ImportFileError(
            _("Cannot read %(path)s: %(error)s.") % {"path": path, "error": error.strerror or error}
        ) from error


def _json_file(path: Path) -> Parsed:
    try:
        values = decode_json(read_text(path))
    except MalformedJson as error:
        return _refused([Problem(DOCUMENT, str(error), line=error.line)], error.line)
    return parse_document(values)


def _jsonl(path: Path) -> Iterator[tuple[int, object]]:
    with path.open("rb") as file:  # bytes split at "\n" only, so that line numbers match an editor's
        for line, text in jsonl_lines(file):
            try:
                yield line, decode_json(text)
            except MalformedJson as error:
                yield line, _refused([Problem(DOCUMENT, str(error), line=line)], line)
