"""Every QA state change: storing transcripts, evaluating rules, editing rules, reviewing findings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.queue import enqueue
from core.users import Actor
from qa import scorecards, search_index
from qa.models import Finding, Recording, Rule, RuleRun, RuleVersion, Segment, Transcript
from qa.segments import SegmentIn

# Fields of RuleDefinition: what a version freezes.
DEFINITION_FIELDS = ("kind", "terms", "near_terms", "distance", "pattern", "speaker", "scope", "negations",
                     "negation_window", "pii_kinds")  # fmt: skip
# Queued by name after the commit (core.queue): services never import qa.tasks.
EVALUATE_TASK = "qa.tasks.evaluate_transcript"
APPLY_RULE_TASK = "qa.tasks.apply_rule_to_history"
# How far back a rule may be applied to stored transcripts (as far as a backtest looks).
MAX_HISTORY_DAYS = 90


def save_transcript(
    *,
    kind: str,
    source: str,
    segments: Sequence[SegmentIn],
    started_at: datetime,
    agent: Actor | None = None,
    consumer: Any = None,
    ticket: Any = None,
    department: Any = None,
    recording: Recording | None = None,
    language: str = "zh",
    external_id: str | None = None,
    duration_seconds: float | None = None,
    through_event: int | None = None,
) -> Transcript:
    """Create a transcript, or replace the one already stored for this recording / external id / chat.

    Its segments and their search rows are replaced whole, inside one transaction; on commit the
    transcript is queued for rule evaluation. Replacing keeps the findings of segments whose text is
    unchanged (a finding points at a segment by its number, see ``evaluate_transcript``).
    """
    if not segments:
        raise ValueError(_("A transcript needs at least one segment."))
    with transaction.atomic():
        existing = _existing_transcript(kind=kind, recording=recording, external_id=external_id, ticket=ticket)
        values = {
            "kind": kind,
            "source": source,
            "started_at": started_at,
            "agent": agent,
            "consumer": consumer,
            "ticket": ticket,
            "department": department if department is not None else getattr(ticket, "department", None),
            "recording": recording,
            "language": language,
            "external_id": external_id,
            "duration_seconds": duration_seconds,
            "through_event": through_event,
            "characters": sum(len(s.text) for s in segments),
            "evaluated_at": None,
            "indexed_at": timezone.now(),  # its search rows are written below, in this transaction
        }
        if existing is None:
            try:
                with transaction.atomic():  # a savepoint: a racing save may create it first
                    transcript = Transcript.objects.create(**values)
                stored: dict[int, Segment] = {}
            except IntegrityError:
                # The racing save committed the same recording / external id / chat first (the unique
                # constraint waited for it): replace its transcript like any other.
                existing = _existing_transcript(kind=kind, recording=recording, external_id=external_id, ticket=ticket)
                if existing is None:
                    raise
        if existing is not None:
            transcript = existing
            for name, value in values.items():
                setattr(transcript, name, value)
            transcript.save()
            stored = {s.seq: s for s in transcript.segments.all()}
        kept = _replace_segments(transcript, segments, stored)
        search_index.index_transcript(transcript, kept)  # the search rows commit with the segments
        _after_save(transcript.pk)
    return transcript


def _existing_transcript(*, kind: str, recording: Any, external_id: str | None, ticket: Any) -> Transcript | None:
    lookup = Q()
    if recording is not None:
        lookup |= Q(recording=recording)
    if external_id:
        lookup |= Q(external_id=external_id)
    if kind == Transcript.Kind.CHAT and ticket is not None:
        lookup |= Q(kind=Transcript.Kind.CHAT, ticket=ticket)
    if not lookup:
        return None
    return Transcript.objects.select_for_update().filter(lookup).first()


def _replace_segments(
    transcript: Transcript, segments: Sequence[SegmentIn], stored: dict[int, Segment]
) -> list[Segment]:
    """Store the transcript's segments, keeping those unchanged; returns them all."""
    keep, create = [], []
    for seq, segment in enumerate(segments):
        old = stored.pop(seq, None)
        if old is not None and (old.speaker, old.text, old.start_ms, old.end_ms) == (
            segment.speaker,
            segment.text,
            segment.start_ms,
            segment.end_ms,
        ):
            keep.append(old)
            continue
        if old is not None:
            old.delete()  # its findings go with it; evaluation finds them again if still there
        create.append(
            Segment(
                transcript=transcript,
                seq=seq,
                speaker=segment.speaker,
                text=segment.text,
                start_ms=segment.start_ms,
                end_ms=segment.end_ms,
            )
        )
    if stored:
        Segment.objects.filter(pk__in=[s.pk for s in stored.values()]).delete()
    return keep + Segment.objects.bulk_create(create)


def _after_save(transcript_id: int) -> None:
    enqueue(EVALUATE_TASK, transcript_id)


# --- Rules ---------------------------------------------------------------------------------------


def create_rule(*, by: Actor | None = None, **fields: Any) -> Rule:
    """Create a rule at version 1 (inactive unless ``active=True``), with its first frozen version."""
    with transaction.atomic():
        rule = Rule(**fields)
        rule.full_clean()
        rule.save()
        _freeze(rule, by)
    return rule


def update_rule(rule: Rule, *, by: Actor | None = None, **changes: Any) -> Rule:
    """Change a rule. A change to what it matches, its category or severity starts a new version;
    findings keep citing the version that found them."""
    with transaction.atomic():
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        before = {name: getattr(rule, name) for name in (*DEFINITION_FIELDS, "category", "severity")}
        for name, value in changes.items():
            setattr(rule, name, value)
        rule.full_clean()
        new_version = any(getattr(rule, name) != value for name, value in before.items())
        if new_version:
            rule.version += 1
        rule.save()
        if new_version:
            _freeze(rule, by)
    return rule


def _freeze(rule: Rule, by: Actor | None) -> RuleVersion:
    return RuleVersion.objects.create(
        rule=rule,
        number=rule.version,
        category=rule.category,
        severity=rule.severity,
        created_by=by,
        **{name: getattr(rule, name) for name in DEFINITION_FIELDS},
    )


def set_rule_active(rule: Rule, active: bool) -> int:
    """Switch a rule on or off; returns 1 if it changed."""
    return Rule.objects.filter(pk=rule.pk).exclude(active=active).update(active=active, updated_at=timezone.now())


def apply_rule_to_history(rule: Rule, *, days: int, by: Actor | None = None) -> RuleRun:
    """Queue the rule's current version over the transcripts of the last ``days`` days; returns the run.

    The run records the version and the window's start now, so a run that waits in the queue reads
    the days that were asked for, with the definition that was shown. ``qa.history`` does the work.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_HISTORY_DAYS:
        message = _("Days must be a whole number from 1 to %(max)s.") % {"max": MAX_HISTORY_DAYS}
        raise ValidationError({"days": message})
    with transaction.atomic():
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        version = RuleVersion.objects.get(rule=rule, number=rule.version)
        run = RuleRun.objects.create(
            rule=rule, rule_version=version, days=days, since=timezone.now() - timedelta(days=days), requested_by=by
        )
        enqueue(APPLY_RULE_TASK, run.pk)
    return run


# --- Findings ------------------------------------------------------------------------------------


def review_findings(findings: Iterable[Finding], *, verdict: str, by: Actor | None, note: str = "") -> int:
    """Confirm or dismiss open findings, then recompute the scorecards they count in; returns how many changed.

    A conditional update: a finding already reviewed (by someone else, a moment ago) stays as it is.
    """
    if verdict not in (Finding.Status.CONFIRMED, Finding.Status.DISMISSED):
        raise ValueError(_("A verdict is confirmed or dismissed, not %(verdict)s.") % {"verdict": verdict})
    ids = [f.pk for f in findings]
    with transaction.atomic():
        changed = Finding.objects.filter(pk__in=ids, status=Finding.Status.OPEN).update(
            status=verdict, reviewed_by=by, reviewed_at=timezone.now(), note=note
        )
        if changed:
            scorecards.refresh_for_findings(ids)
    return changed


def review_finding_groups(findings: Iterable[Finding], *, verdict: str, by: Actor, note: str = "") -> int:
    """Confirm or dismiss each finding with the other open matches of its rule in its call (what the queue shows
    as one row); returns how many findings changed."""
    ids = [f.pk for f in findings]
    same_call = Finding.objects.filter(pk__in=ids, transcript=OuterRef("transcript"), rule=OuterRef("rule"))
    group = Finding.objects.filter(Exists(same_call), status=Finding.Status.OPEN).only("pk")
    return review_findings(list(group), verdict=verdict, by=by, note=note)
