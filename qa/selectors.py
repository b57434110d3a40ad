"""What the QA desk's pages read: a finding in its conversation, a transcript with its findings marked, a
backtest, an agent's week, the next open finding. Reads only; PII masked for whoever may not see it.

Each ``*_page`` function returns the template context of one admin page (without the admin's own), so the
admin view only finds the row, checks the permission and renders.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, TypeVar

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core import charts
from core.links import nominate_url
from core.users import Actor
from qa import evaluation, scorecards
from qa.evaluation import BacktestResult
from qa.models import Category, Finding, Recording, Rule, RuleRun, Scorecard, Segment, Transcript
from qa.presentation import clock, marked, passage

AROUND = 3  # segments shown either side of a finding's
MAX_BACKTEST_DAYS = 90
DEFAULT_BACKTEST_DAYS = 7
BACKTEST_DAY_CHOICES = [1, 7, 14, 30, 90]
SCORECARD_WEEKS = 12

Call = TypeVar("Call", Transcript, Recording)


def readable_by(queryset: QuerySet[Call], user: Actor) -> QuerySet[Call]:
    """The transcripts or recordings ``user`` may read: every one with ``qa.search_transcript`` (QA staff,
    supervisors), else only their own calls and chats. The one rule of the transcript pages, the recordings'
    admin and API, and the audio; merchant tenancy applies on top (core.tenancy). Others' rows are simply
    not there: asking for one is a 404, the same as a row that does not exist."""
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    if user.has_perm("qa.search_transcript"):
        return queryset
    return queryset.filter(agent_id=user.pk)


def audio_url(transcript: Transcript) -> str | None:
    """The transcript's recording for the player (through the admin's checked view), if it has one."""
    return reverse("admin:qa_transcript_audio", args=[transcript.pk]) if transcript.recording_id else None


def finding_page(finding: Finding, *, mask: bool, reviewer: bool) -> dict[str, Any]:
    """One finding: the passage in its conversation, the rule version, and (for a reviewer) the verdict buttons."""
    back = reverse("admin:qa_finding_change", args=[finding.pk])
    others = [f for f in call_matches(finding) if f.pk != finding.pk]
    return {
        "title": _("Finding #%(id)s") % {"id": finding.pk},
        "finding": finding,
        "others": [
            {
                "finding": f,
                "clock": clock(f.segment.start_ms) if f.segment else "",
                "passage": passage(f.segment.text, f.start, f.end, mask=mask) if f.segment else None,
            }
            for f in others
        ],
        "around": segments_around(finding, mask=mask),
        "can_review": reviewer and finding.status == Finding.Status.OPEN,
        "audio_url": audio_url(finding.transcript),
        "start_seconds": (finding.segment.start_ms or 0) // 1000 if finding.segment else 0,
        "nominate_url": nominate_url("finding", finding.pk, back) if reviewer else None,
    }


def transcript_page(transcript: Transcript, *, mask: bool, start_at: str) -> dict[str, Any]:
    """A transcript speaker by speaker, every finding marked, the recording to play from ``start_at`` seconds."""
    segments, absent = transcript_segments(transcript, mask=mask)
    back = reverse("admin:qa_transcript_change", args=[transcript.pk])
    return {
        "title": str(transcript),
        "transcript": transcript,
        "segments": segments,
        "absent": absent,
        "audio_url": audio_url(transcript),
        "start_at": start_at,
        "nominate_url": nominate_url("transcript", transcript.pk, back),
    }


def backtest_days(value: str | None) -> int | None:
    """The days a backtest covers (7 when not given); None when the value is not a whole number from 1 to 90."""
    try:
        days = int(value if value is not None else DEFAULT_BACKTEST_DAYS)
    except ValueError:
        return None
    return days if 1 <= days <= MAX_BACKTEST_DAYS else None


def backtest_page(rule: Rule, days_asked: str | None, *, mask: bool) -> dict[str, Any]:
    """What ``rule`` would have flagged over the days asked (a week when not given), or why the days are refused."""
    days = backtest_days(days_asked)
    result = evaluation.backtest(rule, days=days) if days else None
    error = None if days else _("Days must be a whole number from 1 to %(max)s.") % {"max": MAX_BACKTEST_DAYS}
    return {
        "title": _("Backtest: %(rule)s") % {"rule": rule.display_name},
        "rule": rule,
        "days": days or DEFAULT_BACKTEST_DAYS,
        "error": error,
        "result": result,
        "samples": backtest_samples(rule, result, mask=mask),
        "day_choices": BACKTEST_DAY_CHOICES,
        "runs": rule_runs(rule),
    }


def rule_runs(rule: Rule, limit: int = 10) -> list[RuleRun]:
    """The rule's latest runs over history, newest first, with the version each ran."""
    return list(RuleRun.objects.filter(rule=rule).select_related("rule_version", "requested_by")[:limit])


def rule_runs_progress(rule: Rule) -> list[dict[str, Any]]:
    """The rule's latest runs as the backtest page's progress reads them (JSON)."""
    return [
        {"id": run.pk, "status": run.status, "status_label": run.get_status_display(), "percent": run.percent,
         "done": run.transcripts_done, "total": run.transcripts_total, "added": run.findings_added,
         "finished": _local(run.finished_at), "started": _local(run.started_at)}
        for run in rule_runs(rule)
    ]  # fmt: skip


def _local(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%m-%d %H:%M:%S") if moment else ""


def scorecard_page(card: Scorecard, *, mask: bool) -> dict[str, Any]:
    """An agent's week: figures, their weekly score against the team's median, and the confirmed findings."""
    history, medians = scorecard_trend(card, SCORECARD_WEEKS)
    agent = card.agent.get_full_name() or card.agent.get_username()
    return {
        "title": _("Scorecard of %(agent)s, week of %(week)s") % {"agent": agent, "week": card.week},
        "card": card,
        "by_category": [(label, card.confirmed.get(value, 0)) for value, label in Category.choices],
        "chart": charts.line_chart(
            history,
            medians,
            label=str(_("Weekly QA score against the team median")),
            empty=str(_("No scorecards yet.")),
        ),
        "findings": scorecard_findings(card, mask=mask),
        "handled": card.calls + card.chats,
    }


def segments_around(finding: Finding, *, mask: bool) -> list[dict[str, Any]]:
    """The finding's segment and ``AROUND`` either side, its match marked; empty for a "never said" finding."""
    if finding.segment is None:
        return []
    seq = finding.segment.seq
    rows = []
    near = Segment.objects.filter(transcript=finding.transcript_id, seq__gte=seq - AROUND, seq__lte=seq + AROUND)
    for segment in near:
        current = segment.pk == finding.segment_id
        spans = [(finding.start, finding.end, finding.rule.display_name)] if current else []
        text = marked(segment.text, spans, mask=mask)
        rows.append({"segment": segment, "text": text, "clock": clock(segment.start_ms), "current": current})
    return rows


def _same_call(**extra: Any) -> QuerySet[Finding]:
    """The findings of the outer finding's rule in its call, in the same state."""
    return Finding.objects.filter(
        transcript=OuterRef("transcript"), rule=OuterRef("rule"), status=OuterRef("status"), **extra
    ).order_by()


def one_per_call(queryset: QuerySet[Finding]) -> QuerySet[Finding]:
    """One row per rule per call for the queue: the first finding of each, with ``matches``, how many it stands for.

    A rule matches a call as often as its terms occur (投诉 and 12315 in one sentence, a banned phrase
    twice); a reviewer judges the call once. The first is kept by an anti-join on (rule, transcript),
    the prefix of the findings' unique index, so the page costs the same at any size.
    """
    matches = _same_call().values("transcript").annotate(n=Count("pk")).values("n")
    return queryset.filter(~Exists(_same_call(pk__lt=OuterRef("pk")))).annotate(
        matches=Subquery(matches, output_field=IntegerField())
    )


def call_matches(finding: Finding) -> list[Finding]:
    """The finding and the other matches of its rule in its call, in the same state, in the order they were said."""
    return list(
        Finding.objects.filter(transcript=finding.transcript_id, rule=finding.rule_id, status=finding.status)
        .select_related("segment")
        .order_by("segment__seq", "start")
    )


def next_open_finding(finding: Finding) -> int | None:
    """The open finding after this one in queue order (severity, then as found), so a supervisor can clear the queue."""
    return (
        Finding.objects.filter(status=Finding.Status.OPEN)
        .filter(
            Q(severity__lt=finding.severity)
            | Q(severity=finding.severity, created_at__gt=finding.created_at)
            | Q(severity=finding.severity, created_at=finding.created_at, pk__gt=finding.pk)
        )
        .order_by("-severity", "created_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )


def transcript_segments(transcript: Transcript, *, mask: bool) -> tuple[list[dict[str, Any]], list[Finding]]:
    """The transcript speaker by speaker with every finding marked, and its findings of what was never said."""
    by_segment: dict[int | None, list[Finding]] = {}
    for finding in transcript.findings.select_related("rule").order_by("start"):
        by_segment.setdefault(finding.segment_id, []).append(finding)
    segments = []
    for segment in transcript.segments.all():
        found = by_segment.get(segment.pk, [])
        segments.append({
            "segment": segment,
            "clock": clock(segment.start_ms),
            "seconds": (segment.start_ms or 0) / 1000,
            "text": marked(segment.text, [(f.start, f.end, f.rule.display_name) for f in found], mask=mask),
            "findings": found,
        })  # fmt: skip
    return segments, by_segment.get(None, [])


def backtest_samples(rule: Rule, result: BacktestResult | None, *, mask: bool) -> list[dict[str, Any]]:
    """A backtest's sample hits, one row per segment with every match in it marked."""
    grouped: dict[tuple[int, int | None], dict[str, Any]] = {}
    for sample in result.samples if result else []:
        row = grouped.setdefault((sample.transcript_id, sample.segment_id), {"sample": sample, "spans": []})
        row["spans"].append((sample.start, sample.end, rule.display_name))
    return [
        {"sample": row["sample"], "passage": marked(row["sample"].text, row["spans"], mask=mask)
         if row["sample"].segment_id else None}
        for row in grouped.values()
    ]  # fmt: skip


def scorecard_trend(card: Scorecard, weeks: int) -> tuple[list[tuple[date, float]], list[tuple[date, float]]]:
    """The agent's weekly score over ``weeks`` weeks up to the card's, and the team's median of each week."""
    since = card.week - timedelta(weeks=weeks - 1)
    history = Scorecard.objects.filter(agent=card.agent_id, week__gte=since, week__lte=card.week).order_by("week")
    medians = scorecards.team_median_by_week(since, card.week)
    return (
        [(week, float(score)) for week, score in history.values_list("week", "score")],
        sorted(medians.items()),
    )


def scorecard_findings(card: Scorecard, *, mask: bool, limit: int = 100) -> list[dict[str, Any]]:
    """The confirmed findings behind a scorecard, each with its passage."""
    return [
        {"finding": f, "passage": passage(f.segment.text, f.start, f.end, mask=mask) if f.segment else None}
        for f in scorecards.confirmed_findings(card)[:limit]
    ]
