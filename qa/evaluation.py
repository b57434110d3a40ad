"""Evaluating transcripts against the rules: the active set for new transcripts, one rule over history,
one rule for a backtest.

All read segments straight from PostgreSQL in bulk and run ``qa.matching.RuleSet`` over them (the
matching itself is pure, in ``qa.matching``). Only evaluation writes, and only through its storing
half, ``store_findings``: COPY, then ``INSERT … ON CONFLICT DO NOTHING`` on the finding's unique place
(rule, transcript, segment, start), so evaluating again never duplicates one. Findings are stored open, or,
for a history loaded from elsewhere (the demo's), already in their verdict (``Verdict``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.utils import timezone

from qa.matching import Hit, RuleSet, RuleSpec
from qa.models import Finding, Rule, RuleRun, RuleVersion, Segment, Transcript

# Transcripts read per round trip when evaluating or backtesting many.
BATCH = 500


@dataclass(frozen=True)
class _Version:
    id: int
    category: str
    severity: int


@dataclass
class ActiveRules:
    signature: tuple[object, ...]
    ruleset: RuleSet
    versions: dict[int, _Version] = field(default_factory=dict)


_active: ActiveRules | None = None


def spec_of(definition: Rule | RuleVersion, key: int) -> RuleSpec:
    return definition.spec(key)


def active_rules() -> ActiveRules:
    """The compiled active rules, rebuilt only when a rule changed (one cheap query to find out)."""
    global _active
    signature = tuple(Rule.objects.filter(active=True).aggregate(n=Count("id"), at=Max("updated_at")).values())
    signature += (Rule.objects.aggregate(v=Max("version"))["v"],)
    if _active is None or _active.signature != signature:
        versions = RuleVersion.objects.filter(rule__active=True, number=F("rule__version"))
        specs, info = [], {}
        for version in versions:
            specs.append(spec_of(version, version.rule_id))
            info[version.rule_id] = _Version(version.pk, version.category, version.severity)
        _active = ActiveRules(signature, RuleSet(specs), info)
    return _active


@dataclass(frozen=True)
class _Segment:
    id: int
    seq: int
    speaker: str
    text: str
    start_ms: int | None


@dataclass(frozen=True)
class _Transcript:
    id: int
    agent_id: int | None
    started_at: datetime
    segments: list[_Segment]


def _load(transcript_ids: list[int]) -> Iterator[_Transcript]:
    heads = {
        t["id"]: t for t in Transcript.objects.filter(pk__in=transcript_ids).values("id", "agent_id", "started_at")
    }
    rows = (
        Segment.objects.filter(transcript_id__in=list(heads))
        .order_by("transcript_id", "seq")
        .values_list("transcript_id", "id", "seq", "speaker", "text", "start_ms")
    )
    for transcript_id, group in groupby(rows.iterator(chunk_size=5000), key=lambda row: row[0]):
        head = heads[transcript_id]
        segments = [_Segment(*row[1:]) for row in group]
        yield _Transcript(transcript_id, head["agent_id"], head["started_at"], segments)


def _matches(ruleset: RuleSet, transcript: _Transcript) -> list[Hit]:
    return ruleset.match([(s.speaker, s.text) for s in transcript.segments])


@dataclass(frozen=True)
class Verdict:
    """A review given elsewhere, stored with the finding as it is written (what review_findings would have set)."""

    status: str  # Finding.Status.CONFIRMED or DISMISSED
    by_id: int | None
    note: str
    at: datetime


# A history's reviews: the verdict of a finding that occurred at a moment, or None to leave it open.
Reviewed = Callable[[datetime], Verdict | None]


def evaluate_transcripts(transcript_ids: Iterable[int], *, reviewed: Reviewed | None = None) -> int:
    """Evaluate transcripts against the active rules, store new findings, and return how many hits there were.

    ``reviewed`` is for a history loaded from elsewhere (the demo's calls): it is asked about each finding, in the
    order they are stored, and the findings it gives a verdict are written reviewed, not reviewed by a second
    UPDATE of every row (the scorecards are the caller's to compute then).
    """
    rules = active_rules()
    ids = list(transcript_ids)
    hits_total = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = [
            _finding_row(transcript, hit, rules.versions[hit.key], reviewed)
            for transcript in _load(chunk)
            for hit in _matches(rules.ruleset, transcript)
        ]
        store_findings(rows, evaluated=chunk)
        hits_total += len(rows)
    return hits_total


_INCOMING = ("transcript_id", "rule_id", "rule_version_id", "category", "severity", "agent_id", "segment_id",
             "matched_text", "start", "end", "occurred_at", "status", "note", "reviewed_by_id",
             "reviewed_at")  # fmt: skip
_OPEN = (Finding.Status.OPEN, "", None, None)  # a new finding's status, note, reviewer and review time


def _finding_row(
    transcript: _Transcript, hit: Hit, version: _Version, reviewed: Reviewed | None = None
) -> tuple[object, ...]:
    segment = transcript.segments[hit.segment] if hit.segment is not None else None
    occurred = transcript.started_at
    if segment is not None and segment.start_ms is not None:
        occurred += timedelta(milliseconds=segment.start_ms)
    verdict = reviewed(occurred) if reviewed is not None else None
    review = _OPEN if verdict is None else (verdict.status, verdict.note, verdict.by_id, verdict.at)
    return (transcript.id, hit.key, version.id, version.category, version.severity, transcript.agent_id,
            segment.id if segment else None, hit.text[:1000], hit.start, hit.end, occurred, *review)  # fmt: skip


def store_findings(rows: list[tuple[object, ...]], *, evaluated: list[int]) -> None:
    """The storing half of an evaluation, in one transaction: the new findings, and the transcripts marked evaluated.

    The findings are COPYed into a temporary table, then the new ones inserted in one statement:
    ``ON CONFLICT DO NOTHING`` against the finding's unique place (rule, transcript, segment, start)
    keeps re-evaluation from duplicating anything; COPY is what makes a day's findings cheap to write
    (``bulk_create`` spent most of an evaluation's time building INSERTs). The temporary table empties
    itself on commit.
    """
    with transaction.atomic():
        if rows:
            _copy_findings(rows)
        Transcript.objects.filter(pk__in=evaluated).update(evaluated_at=timezone.now())


def _copy_findings(rows: list[tuple[object, ...]]) -> int:
    """Insert the rows that are new; returns how many were."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in _INCOMING)
    table = quote(Finding._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS qa_finding_incoming ("
            "transcript_id bigint, rule_id bigint, rule_version_id bigint, category varchar(16), severity smallint,"
            ' agent_id bigint, segment_id bigint, matched_text text, start integer, "end" integer,'
            " occurred_at timestamptz, status varchar(16), note text, reviewed_by_id bigint, reviewed_at timestamptz)"
            " ON COMMIT DELETE ROWS"
        )
        with cursor.cursor.copy(f"COPY qa_finding_incoming ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({columns}, created_at)"
            f" SELECT {columns}, now() FROM qa_finding_incoming ON CONFLICT DO NOTHING"
        )
        added = cursor.rowcount
        cursor.execute("DELETE FROM qa_finding_incoming")
    return int(added)


# --- One rule over history -----------------------------------------------------------------------


def apply_rule_run(run_id: int, *, redelivered: bool = False) -> int:
    """Carry out a queued ``RuleRun``: its rule version over the transcripts since its start; returns findings added.

    The run is claimed with a conditional update, so a duplicate message finds nothing to do; only a
    redelivered one (the worker died, the task is acknowledged late) takes over a run left running, and
    reads from the first transcript again — what the dead worker stored conflicts and is skipped, so
    ``findings_added`` stays true. Each batch's findings and the run's progress commit together.

    The claim's ``started_at`` is its token: every later write is conditional on it. A message redelivered
    while its first worker still lives (the broker's visibility timeout passed) takes the run over, and the
    first worker's next write finds it gone and stops, rather than counting its batches into the new claim's
    progress or marking the run done under it.
    """
    claimable = (
        Q(status=RuleRun.Status.QUEUED) | Q(status=RuleRun.Status.RUNNING)
        if redelivered
        else Q(status=RuleRun.Status.QUEUED)
    )
    claim = timezone.now()
    claimed = RuleRun.objects.filter(claimable, pk=run_id).update(
        status=RuleRun.Status.RUNNING, started_at=claim, transcripts_done=0, finished_at=None
    )
    if not claimed:
        return 0
    run = RuleRun.objects.select_related("rule_version").get(pk=run_id)
    mine = RuleRun.objects.filter(pk=run_id, started_at=claim, status=RuleRun.Status.RUNNING)
    try:
        finished = _apply(run, mine)
    except Exception as error:
        mine.update(status=RuleRun.Status.FAILED, finished_at=timezone.now(), error=str(error)[:2000])
        raise
    if not (finished and mine.update(status=RuleRun.Status.DONE, finished_at=timezone.now())):
        return 0  # taken over: the run's findings are the new claim's to report
    return RuleRun.objects.values_list("findings_added", flat=True).get(pk=run_id)


def _apply(run: RuleRun, mine: QuerySet[RuleRun]) -> bool:
    """The run's batches, each committed with its progress while the claim ``mine`` holds; False if it was lost."""
    version = run.rule_version
    ruleset = RuleSet([spec_of(version, run.rule_id)])
    info = _Version(version.pk, version.category, version.severity)
    window = Transcript.objects.filter(started_at__gte=run.since)
    if not mine.update(transcripts_total=window.count()):
        return False
    last = 0
    while chunk := list(window.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH]):
        rows = [_finding_row(t, hit, info) for t in _load(chunk) for hit in _matches(ruleset, t)]
        with transaction.atomic():
            # The claim first, locking the run's row: a takeover waits for this batch, or this batch sees it.
            if not mine.select_for_update().exists():
                return False
            added = _copy_findings(rows) if rows else 0
            mine.update(transcripts_done=F("transcripts_done") + len(chunk), findings_added=F("findings_added") + added)
        last = chunk[-1]
    return True


# --- Backtest ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestHit:
    transcript_id: int
    segment_id: int | None
    seq: int | None
    speaker: str
    text: str
    start: int
    end: int
    started_at: datetime


@dataclass
class BacktestResult:
    days: int
    transcripts: int = 0
    segments: int = 0
    flagged_transcripts: int = 0
    hits: int = 0
    samples: list[BacktestHit] = field(default_factory=list)
    seconds: float = 0.0


def backtest(definition: Rule | RuleVersion, *, days: int, samples: int = 50) -> BacktestResult:
    """What ``definition`` would have flagged in the transcripts of the last ``days`` days. Writes nothing."""
    began = time.perf_counter()
    ruleset = RuleSet([spec_of(definition, 0)])
    since = timezone.now() - timedelta(days=days)
    ids = list(Transcript.objects.filter(started_at__gte=since).order_by("-started_at").values_list("id", flat=True))
    result = BacktestResult(days=days, transcripts=len(ids))
    for start in range(0, len(ids), BATCH):
        for transcript in _load(ids[start : start + BATCH]):
            result.segments += len(transcript.segments)
            hits = _matches(ruleset, transcript)
            if not hits:
                continue
            result.flagged_transcripts += 1
            result.hits += len(hits)
            for hit in hits:
                if len(result.samples) >= samples:
                    break
                segment = transcript.segments[hit.segment] if hit.segment is not None else None
                result.samples.append(
                    BacktestHit(
                        transcript_id=transcript.id,
                        segment_id=segment.id if segment else None,
                        seq=segment.seq if segment else None,
                        speaker=segment.speaker if segment else "",
                        text=segment.text if segment else "",
                        start=hit.start,
                        end=hit.end,
                        started_at=transcript.started_at,
                    )
                )
    result.seconds = time.perf_counter() - began
    return result


def stale_transcript_ids(limit: int = 10_000) -> list[int]:
    """Transcripts not yet evaluated (e.g. a worker died before it got to them)."""
    return list(Transcript.objects.filter(evaluated_at=None).order_by("id").values_list("id", flat=True)[:limit])
