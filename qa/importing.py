"""Import transcripts produced elsewhere: JSON, JSONL and plain text (docs/transcript-format.md).

Reading the formats is ``qa.parsing`` (no database); this module stores what it read. Entry points:
``import_document`` / ``import_text`` (one transcript, for the API) and ``import_files`` (many, for
``manage.py import_transcripts``). All of them go through
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from tqdm import tqdm

from core.tenancy import scope
from core.users import Actor
from core.values import ImportFileError, count_lines, show_value
from crm.models import Consumer
from qa.models import Recording, Transcript
from qa.parsing import FORMATS, Parsed, Problem, format_of, parse_document, parse_text_document, parsed_items
from qa.recordings import mark_transcribed
from qa.services import save_transcript
from tickets.models import Ticket

DEFAULT_BATCH_SIZE = 100


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
    def of(cls, batch: Sequence[Parsed], user: Actor | None) -> _Lookups:
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


def import_document(values: object, *, user: Actor | None = None) -> Imported:
    """Import one JSON transcript document (decoded); the API's entry point. ``user`` scopes the lookups."""
    parsed = parse_document(values)
    with transaction.atomic():
        return _save(parsed, _Lookups.of([parsed], user))


def import_text(text: str, metadata: Mapping[str, object], *, user: Actor | None = None) -> Imported:
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
    items = parsed_items(paths, formats, metadata or {}, single=len(paths) == 1)
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


def write_problems(report: ImportReport, path: Path) -> None:
    """Write the problems as CSV: file, line, segment, field, message."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["file", "line", "segment", "field", "message"])
        writer.writerows([p.file, p.line or "", p.segment or "", p.field, p.message] for p in report.problems)
