"""Agents' weekly QA scorecards: what they handled, what was confirmed against them, and a score.

The score starts at 100 and loses, for each confirmed finding, its severity's penalty (low 1, medium
3, high 6, critical 10) per ten conversations handled: ``100 - 10 * penalties / handled``, floored at
0. An agent with one confirmed medium finding in 30 conversations scores 99.0; a critical finding in
every conversation scores 0.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from statistics import median

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from qa.models import Finding, Scorecard, Severity, Transcript

PENALTY = {Severity.LOW: 1, Severity.MEDIUM: 3, Severity.HIGH: 6, Severity.CRITICAL: 10}


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _bounds(week: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(week, time.min))
    return start, start + timedelta(days=7)


def score(handled: int, penalties: int) -> Decimal:
    if handled <= 0:
        return Decimal("100.0") if penalties == 0 else Decimal("0.0")
    value = max(0.0, 100.0 - 10.0 * penalties / handled)
    return Decimal(f"{value:.1f}")


def compute_week(week: date, agent_ids: list[int] | None = None) -> int:
    """(Re)compute the scorecards of one week, for every agent with work or findings in it. Returns how many."""
    week = week_of(week)
    start, end = _bounds(week)
    transcripts = Transcript.objects.filter(started_at__gte=start, started_at__lt=end, agent__isnull=False)
    findings = Finding.objects.filter(
        status=Finding.Status.CONFIRMED, occurred_at__gte=start, occurred_at__lt=end, agent__isnull=False
    )
    if agent_ids is not None:
        transcripts = transcripts.filter(agent_id__in=agent_ids)
        findings = findings.filter(agent_id__in=agent_ids)
    handled: dict[int, dict[str, int]] = defaultdict(lambda: {"calls": 0, "chats": 0})
    for row in transcripts.values("agent_id").annotate(
        calls=Count("id", filter=Q(kind=Transcript.Kind.CALL)), chats=Count("id", filter=Q(kind=Transcript.Kind.CHAT))
    ):
        handled[row["agent_id"]] = {"calls": row["calls"], "chats": row["chats"]}
    confirmed: dict[int, dict[str, int]] = defaultdict(dict)
    penalties: dict[int, int] = defaultdict(int)
    for row in findings.values("agent_id", "category", "severity").annotate(n=Count("id")):
        by_category = confirmed[row["agent_id"]]
        by_category[row["category"]] = by_category.get(row["category"], 0) + row["n"]
        penalties[row["agent_id"]] += PENALTY[row["severity"]] * row["n"]
    agents = set(handled) | set(confirmed)
    rows = [
        Scorecard(
            agent_id=agent_id,
            week=week,
            calls=handled[agent_id]["calls"],
            chats=handled[agent_id]["chats"],
            confirmed=confirmed.get(agent_id, {}),
            score=score(handled[agent_id]["calls"] + handled[agent_id]["chats"], penalties[agent_id]),
        )
        for agent_id in agents
    ]
    Scorecard.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["agent", "week"],
        update_fields=["calls", "chats", "confirmed", "score", "computed_at"],
    )
    return len(rows)


def refresh_for_findings(finding_ids: list[int]) -> None:
    """After a review: recompute the weeks and agents those findings count against."""
    pairs = Finding.objects.filter(pk__in=finding_ids, agent__isnull=False).values_list("agent_id", "occurred_at")
    weeks: dict[date, set[int]] = defaultdict(set)
    for agent_id, occurred_at in pairs:
        weeks[week_of(timezone.localdate(occurred_at))].add(agent_id)
    for week, agents in weeks.items():
        compute_week(week, sorted(agents))


def compute_recent(today: date | None = None) -> int:
    """This week's and last week's scorecards: what the nightly job recomputes."""
    today = today or timezone.localdate()
    return compute_week(today) + compute_week(today - timedelta(days=7))


def team_median_by_week(since: date, until: date) -> dict[date, float]:
    """The median of every agent's score, week by week: the line a scorecard's trend is drawn against."""
    weeks: dict[date, list[float]] = defaultdict(list)
    for week, value in Scorecard.objects.filter(week__gte=since, week__lte=until).values_list("week", "score"):
        weeks[week].append(float(value))
    return {week: median(values) for week, values in weeks.items()}


def confirmed_findings(card: Scorecard) -> QuerySet[Finding]:
    """The confirmed findings a scorecard counts, most severe first."""
    start, end = _bounds(card.week)
    return (
        Finding.objects.filter(
            agent=card.agent_id, status=Finding.Status.CONFIRMED, occurred_at__gte=start, occurred_at__lt=end
        )
        .select_related("rule", "segment")
        .order_by("-severity", "occurred_at")
    )
