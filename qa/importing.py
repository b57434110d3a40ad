"""Import transcripts produced elsewhere: JSON, JSONL and plain text (docs/transcript-format.md).

Entry points: ``import_document`` / ``import_text`` (one transcript, for the API) and
``import_files`` (many, for ``manage.py import_transcripts``). All of them go through
``qa.services.save_transcript``, so importing the same ``external_id`` again replaces that transcript
(and its findings are re-evaluated) instead of adding a second one: a rerun is safe.

What is checked, and what happens to bad input
    A problem names the field at fault, and the line of the file (JSONL, text) and/or the segment's
    number (JSON, counted from 1).
    - A bad *segment* (unknown speaker, no text, end before start ...) is left out and reported; the
      transcript is saved with the good ones.
    - A transcript with bad *metadata* (no agent, an unknown consumer, a malformed started_at ...), or
      with no good segment at all, is not saved; its problems are reported.
    - In bulk, transcripts are saved in batches, each in one transaction: if the database refuses one,
      nothing of that batch is written, the batches before it stay, ImportAborted is raised, and a
      rerun of the same file continues (replacing, not duplicating, what is in).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from tqdm import tqdm

from core.importing import (
    ImportFileError,
    InvalidValue,
    MalformedJson,
    choice_value,
    count_lines,
    decode_json,
    jsonl_lines,
    moment_value,
    read_field,
    show_value,
    text_value,
)
from core.tenancy import scope
from crm.models import Consumer
from qa.models import Recording, Speaker, Transcript
from qa.recordings import mark_transcribed
from qa.segments import SegmentIn
from qa.services import save_transcript
from tickets.models import Ticket

FORMATS = ("json", "jsonl", "text")
_EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "text", ".text": "text"}
DEFAULT_BATCH_SIZE = 100

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


@dataclass
class Imported:
    """What importing one transcript did: the transcript saved (None: refused), segments left out, and why."""

    transcript: Transcript | None = None
    replaced: bool = False
    segments: int = 0
    rejected_segments: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)  # why the transcript was refused

    @property
    def problems(self) -> list[Problem]:
        return [*self.errors, *self.rejected_segments]


@dataclass
class ImportReport:
    """What a bulk import did: transcripts saved (new or replaced), refused, and every problem."""

    imported: int = 0
    replaced: int = 0
    rejected: int = 0
    segments: int = 0
    rejected_segments: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, outcome: Imported) -> None:
        if outcome.transcript is None:
            self.rejected += 1
        else:
            self.imported += 1
            self.replaced += outcome.replaced
            self.segments += outcome.segments
        self.rejected_segments += len(outcome.rejected_segments)
        self.problems.extend(outcome.problems)


class ImportAborted(Exception):
    """The database refused a batch: nothing of it was written, the batches before it were. Rerun to continue."""

    def __init__(self, report: ImportReport, where: str, error: Exception) -> None:
        self.report = report
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        super().__init__(
            _(
                "The database refused the transcripts of %(where)s (%(error)s); none of them was written. "
                "Those before them are imported: fix the cause and import the same files again to continue."
            )
            % {"where": where, "error": reason}
        )


def format_of(path: Path) -> str | None:
    """The format a file's extension names (json, jsonl, text), or None."""
    return _EXTENSIONS.get(path.suffix.lower())


# --- Parsing (no database) -----------------------------------------------------------------------


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


# --- Saving ---------------------------------------------------------------------------------------


@dataclass
class _Lookups:
    """The batch's agents, consumers, tickets and recordings, each fetched in one query (recordings locked)."""

    agents: dict[str, Any]
    consumers: dict[str, Consumer]
    tickets: dict[int, Ticket]
    recordings: dict[int, Recording]
    # What is already stored, to tell a replacement from a new transcript; _save adds what it saves.
    external_ids: set[str]
    transcribed: set[int]  # recordings that have a transcript

    @classmethod
    def of(cls, batch: Sequence[Parsed], user: Any) -> _Lookups:
        batch = [p for p in batch if not p.errors]
        users = get_user_model()._default_manager.filter(username__in={p.agent for p in batch if p.agent})
        consumers = Consumer.objects.filter(external_id__in={p.consumer for p in batch if p.consumer})
        tickets = Ticket.objects.select_related("consumer", "department").filter(
            pk__in={p.ticket for p in batch if p.ticket}
        )
        # Locked, in id order, before any transcript is written: the order the recogniser's worker takes
        # (recording, then its transcript, qa.recordings._store). Locking the recording only when marking
        # it transcribed, after its transcript, deadlocks with a worker storing the same recording's.
        recordings = (
            Recording.objects.select_related("agent", "consumer", "ticket")
            .select_for_update(of=("self",))
            .filter(pk__in={p.recording for p in batch if p.recording})
            .order_by("pk")
        )
        found = {r.pk: r for r in scope(recordings, user)}
        # After the recordings' lock: a transcript the worker stored meanwhile is seen (and replaced).
        stored = (
            Transcript.objects.filter(Q(external_id__in={p.external_id for p in batch}) | Q(recording__in=list(found)))
            .values_list("external_id", "recording_id")
            .order_by()
        )
        return cls(
            agents={u.get_username(): u for u in users},
            consumers={c.external_id: c for c in scope(consumers, user)},
            tickets={t.pk: t for t in scope(tickets, user)},
            recordings=found,
            external_ids={external_id for external_id, _recording in stored if external_id},
            transcribed={recording for _external_id, recording in stored if recording is not None},
        )


def _save(parsed: Parsed, lookups: _Lookups) -> Imported:
    outcome = Imported(rejected_segments=parsed.rejected_segments, errors=list(parsed.errors))
    if outcome.errors:
        return outcome
    line = parsed.line

    def refuse(name: str, message: str) -> None:
        outcome.errors.append(Problem(name, message, line=line))

    recording = lookups.recordings.get(parsed.recording) if parsed.recording else None
    if parsed.recording and recording is None:
        refuse("recording", _("No recording has the id %(value)s.") % {"value": parsed.recording})
    agent = lookups.agents.get(parsed.agent) if parsed.agent else getattr(recording, "agent", None)
    if parsed.agent and agent is None:
        refuse("agent", _("No user has the username %(value)s.") % {"value": show_value(parsed.agent)})
    ticket = lookups.tickets.get(parsed.ticket) if parsed.ticket else getattr(recording, "ticket", None)
    if parsed.ticket and ticket is None:
        refuse("ticket", _("No ticket has the number %(value)s.") % {"value": parsed.ticket})
    consumer = lookups.consumers.get(parsed.consumer) if parsed.consumer else None
    if parsed.consumer and consumer is None:
        refuse("consumer", _("No consumer has the external id %(value)s.") % {"value": show_value(parsed.consumer)})
    if consumer is None and not parsed.consumer:
        consumer = getattr(recording, "consumer", None) or getattr(ticket, "consumer", None)
    if ticket is not None and consumer is not None and ticket.consumer_id != consumer.pk:
        refuse("ticket", _("Ticket %(ticket)s is another consumer's.") % {"ticket": ticket.pk})
    if outcome.errors:
        return outcome
    replaced = parsed.external_id in lookups.external_ids or (
        recording is not None and recording.pk in lookups.transcribed
    )
    started_at = parsed.started_at or getattr(recording, "called_at", None)
    assert started_at is not None, "required unless the recording gives it"
    duration = parsed.duration
    if duration is None:
        ends = [s.end_ms for s in parsed.segments if s.end_ms is not None]
        duration = max(ends) / 1000 if ends else None
    try:
        with transaction.atomic():  # a savepoint: a clash of ids refuses this transcript, not the batch
            transcript = save_transcript(
                kind=Transcript.Kind.CALL,
                source=Transcript.Source.IMPORT,
                segments=parsed.segments,
                started_at=started_at,
                agent=agent,
                consumer=consumer,
                ticket=ticket,
                recording=recording,
                language=parsed.language or getattr(recording, "language", None) or "zh",
                external_id=parsed.external_id,
                duration_seconds=duration,
            )
            if recording is not None:
                mark_transcribed(recording, duration_seconds=recording.duration_seconds or duration)
    except IntegrityError:
        refuse(
            "external_id",
            _("The external id %(value)s belongs to the transcript of another recording.")
            % {"value": show_value(parsed.external_id)},
        )
        return outcome
    lookups.external_ids.add(parsed.external_id)
    if recording is not None:
        lookups.transcribed.add(recording.pk)
    outcome.transcript = transcript
    outcome.replaced = replaced
    outcome.segments = len(parsed.segments)
    return outcome


def import_document(values: object, *, user: Any = None) -> Imported:
    """Import one JSON transcript document (decoded); the API's entry point. ``user`` scopes the lookups."""
    parsed = parse_document(values)
    with transaction.atomic():
        return _save(parsed, _Lookups.of([parsed], user))


def import_text(text: str, metadata: Mapping[str, object], *, user: Any = None) -> Imported:
    """Import one plain-text transcript with its metadata given separately."""
    parsed = parse_text_document(text, metadata)
    with transaction.atomic():
        return _save(parsed, _Lookups.of([parsed], user))


# --- Files ----------------------------------------------------------------------------------------


def import_files(
    paths: Sequence[Path],
    *,
    fmt: str | None = None,
    metadata: Mapping[str, object] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: IO[str] | None = None,
) -> ImportReport:
    """Import transcripts from files: each .json or text file is one transcript, each JSONL line another.

    ``metadata`` gives text files their agent, consumer, ticket, started_at and language; a text
    file's external_id is ``metadata["external_id"]`` for a single file, else the file's name
    without its extension. ``progress`` is where the progress bar goes (None: no bar).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    formats = []
    for path in paths:
        kind = fmt or format_of(path)
        if kind not in FORMATS:
            raise ImportFileError(
                _("Cannot tell the format of %(path)s from its extension; pass --format.") % {"path": path}
            )
        formats.append(kind)
    total = sum(
        count_lines(path, skip_blank=True, name_file=True) if kind == "jsonl" else 1
        for path, kind in zip(paths, formats, strict=True)
    )
    report = ImportReport()
    items = _parsed_items(paths, formats, metadata or {}, single=len(paths) == 1)
    with tqdm(total=total, unit="transcripts", file=progress, disable=progress is None, mininterval=0.5) as bar:
        while batch := list(islice(items, batch_size)):
            try:
                with transaction.atomic():
                    lookups = _Lookups.of([parsed for _where, parsed in batch], None)
                    outcomes = [_save(parsed, lookups) for _where, parsed in batch]
            except DatabaseError as error:
                raise ImportAborted(report, _batch_place(batch), error) from error
            for (name, _parsed), outcome in zip(batch, outcomes, strict=True):
                outcome.errors = [problem.in_file(name) for problem in outcome.errors]
                outcome.rejected_segments = [problem.in_file(name) for problem in outcome.rejected_segments]
                report.add(outcome)
            bar.update(len(batch))
    return report


def _batch_place(batch: Sequence[tuple[str, Parsed]]) -> str:
    """Where a batch comes from, for a message: "calls.jsonl (lines 101 to 200)", or its files' names."""
    names = list(dict.fromkeys(name for name, _parsed in batch))
    lines = [parsed.line for _name, parsed in batch if parsed.line is not None]
    if len(names) == 1 and lines:
        return _("%(file)s (lines %(first)d to %(last)d)") % {"file": names[0], "first": min(lines), "last": max(lines)}
    return ", ".join(names)


def _parsed_items(paths: Sequence[Path], formats: Sequence[str], metadata: Mapping[str, object],
                  *, single: bool) -> Iterator[tuple[str, Parsed]]:  # fmt: skip
    for path, kind in zip(paths, formats, strict=True):
        if kind == "jsonl":
            for line, values in _jsonl(path):
                yield path.name, values if isinstance(values, Parsed) else parse_document(values, line=line)
        elif kind == "json":
            yield path.name, _json_file(path)
        else:
            text = _read_text(path)
            meta = dict(metadata)
            if not single or not meta.get("external_id"):
                meta["external_id"] = path.stem
            yield path.name, parse_text_document(text, meta)


def _read_text(path: Path) -> str:
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
        values = decode_json(_read_text(path))
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


def write_problems(report: ImportReport, path: Path) -> None:
    """Write the problems as CSV: file, line, segment, field, message."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["file", "line", "segment", "field", "message"])
        writer.writerows([p.file, p.line or "", p.segment or "", p.field, p.message] for p in report.problems)
