"""Malicious negative reviewer detection (恶意差评师): documented rules that raise risk flags with evidence.

Every rule looks at one window of history ending at the run's reference time (now, or the end of a past day
for a replay: rows after it are not seen). A hit opens a ``RiskFlag`` (or refreshes the evidence of the open
one: at most one live flag per consumer and kind). A supervisor confirms or clears it in the admin
(crm/services.py). A cleared flag is not raised again unless there is evidence newer than the clearing.
What a flag holds is ``crm.selectors.instant_refund_blocked``'s business: any confirmed flag, and an open
extortion flag whose score reaches RISK_HOLD_EXTORTION_SCORE, hold instant refunds; a confirmed flag also
holds the consumer's new negative reviews for moderation.

The rules (their windows and thresholds are the RISK_* settings):

- **negative_burst** — at least RISK_BURST_REVIEWS negative reviews across RISK_BURST_SHOPS shops within
  any RISK_BURST_DAYS days of the last RISK_BURST_LOOKBACK_DAYS. One set-based query.
- **negative_then_refund** — RISK_LEVERAGE_ORDERS orders where a negative review was followed within
  RISK_LEVERAGE_DAYS by a refund request on the same order (review used as leverage). One query.
- **duplicate_text** — the same negative text (ignoring case, spaces and punctuation; at least
  RISK_DUPLICATE_MIN_CHARS characters) RISK_DUPLICATE_COPIES times to RISK_DUPLICATE_SHOPS shops. One query.
- **extortion** and **abuse** — the active risk patterns (admin-editable, crm/patterns.py) over the review
  texts of the last RISK_PATTERN_LOOKBACK_DAYS: a consumer whose matched reviews add up to
  RISK_PATTERN_MIN_SCORE (each review counts the weight of the heaviest pattern it matches) is flagged, the
  evidence naming the reviews, passages and pattern versions. The texts are scanned in Python (one pass,
  streamed from the database); the flags are written with the same upsert as the other rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from core.staging import stage
from crm.models import Review, RiskFlag, RiskPattern
from crm.patterns import REGEX, Definition, Hit, Matcher, lines

_EVIDENCE_REVIEWS = 20  # review ids and passages kept in a flag's evidence
_SAMPLES = 10  # review texts a backtest shows per pattern


SETTINGS = (
    "RISK_BURST_REVIEWS", "RISK_BURST_SHOPS", "RISK_BURST_DAYS", "RISK_BURST_LOOKBACK_DAYS", "RISK_LEVERAGE_ORDERS",
    "RISK_LEVERAGE_DAYS", "RISK_DUPLICATE_COPIES", "RISK_DUPLICATE_SHOPS", "RISK_DUPLICATE_MIN_CHARS",
    "RISK_LOOKBACK_DAYS", "RISK_PATTERN_LOOKBACK_DAYS", "RISK_PATTERN_MIN_SCORE", "RISK_HOLD_EXTORTION_SCORE",
)  # fmt: skip


def settings_in_force() -> dict[str, int]:
    """The rules' windows and thresholds (the RISK_* settings, config/settings_product.py), for the admin to show."""
    return {name: int(getattr(settings, name)) for name in SETTINGS}


def sql_rules() -> dict[str, str]:
    """Each query yields (consumer_id, evidence jsonb, latest evidence time)."""
    s = {name.removeprefix("RISK_").lower(): int(value) for name, value in settings_in_force().items()}
    window = f"created_at >= %(now)s - interval '{s['lookback_days']} days' AND created_at < %(now)s"
    return {
        RiskFlag.Kind.NEGATIVE_BURST: f"""
        WITH neg AS (
          SELECT id, consumer_id, merchant_id, created_at FROM crm_review
          WHERE is_negative AND created_at >= %(now)s - interval '{s["burst_lookback_days"]} days'
            AND created_at < %(now)s
        ), windows AS (
          SELECT a.consumer_id, a.created_at AS start, count(*) AS reviews,
                 count(DISTINCT b.merchant_id) AS shops, array_agg(b.id ORDER BY b.id) AS review_ids,
                 max(b.created_at) AS latest
          FROM neg a JOIN neg b ON b.consumer_id = a.consumer_id
            AND b.created_at >= a.created_at AND b.created_at < a.created_at + interval '{s["burst_days"]} days'
          GROUP BY a.consumer_id, a.id, a.created_at
          HAVING count(*) >= {s["burst_reviews"]} AND count(DISTINCT b.merchant_id) >= {s["burst_shops"]}
        )
        -- The biggest window is the evidence; the newest of all windows says how fresh it is.
        SELECT DISTINCT ON (consumer_id) consumer_id,
               jsonb_build_object('reviews', reviews, 'shops', shops, 'window_start', start,
                                  'window_days', {s["burst_days"]}, 'review_ids', to_jsonb(review_ids)),
               max(latest) OVER (PARTITION BY consumer_id)
        FROM windows ORDER BY consumer_id, reviews DESC, shops DESC, start DESC
        """,
        RiskFlag.Kind.NEGATIVE_THEN_REFUND: f"""
        SELECT r.consumer_id,
               jsonb_build_object('orders', count(*), 'within_days', {s["leverage_days"]},
                                  'order_ids', jsonb_agg(o.id ORDER BY o.id),
                                  'review_ids', jsonb_agg(r.id ORDER BY o.id)),
               max(o.refund_requested_at)
        FROM crm_review r JOIN crm_order o ON o.id = r.order_id
        WHERE r.is_negative AND r.{window}
          AND o.refund_requested_at >= r.created_at AND o.refund_requested_at < %(now)s
          AND o.refund_requested_at < r.created_at + interval '{s["leverage_days"]} days'
        GROUP BY r.consumer_id HAVING count(*) >= {s["leverage_orders"]}
        """,
        RiskFlag.Kind.DUPLICATE_TEXT: f"""
        WITH norm AS (
          SELECT id, consumer_id, merchant_id, created_at, text,
                 regexp_replace(lower(text), '[[:space:][:punct:]，。！？、；：“”‘’（）《》【】…—~～]+', '', 'g') AS key
          FROM crm_review
          WHERE is_negative AND {window}
        ), groups AS (
          SELECT consumer_id, key, count(*) AS copies, count(DISTINCT merchant_id) AS shops,
                 min(text) AS sample, jsonb_agg(id ORDER BY id) AS review_ids, max(created_at) AS latest
          FROM norm WHERE char_length(key) >= {s["duplicate_min_chars"]}
          GROUP BY consumer_id, key
          HAVING count(*) >= {s["duplicate_copies"]} AND count(DISTINCT merchant_id) >= {s["duplicate_shops"]}
        )
        SELECT DISTINCT ON (consumer_id) consumer_id,
               jsonb_build_object('copies', copies, 'shops', shops, 'text', sample, 'review_ids', review_ids),
               max(latest) OVER (PARTITION BY consumer_id)
        FROM groups ORDER BY consumer_id, copies DESC
        """,
    }


_UPSERT = """
WITH hits (consumer_id, evidence, latest) AS ({rule})
INSERT INTO crm_riskflag (consumer_id, kind, status, evidence, detected_at, note)
SELECT h.consumer_id, %(kind)s, 'open', h.evidence, %(now)s, ''
FROM hits h
WHERE NOT EXISTS (
  SELECT 1 FROM crm_riskflag c
  WHERE c.consumer_id = h.consumer_id AND c.kind = %(kind)s AND c.status = 'cleared' AND c.reviewed_at >= h.latest
)
ON CONFLICT (consumer_id, kind) WHERE status IN ('open', 'confirmed')
DO UPDATE SET evidence = EXCLUDED.evidence, detected_at = EXCLUDED.detected_at
WHERE crm_riskflag.status = 'open' AND crm_riskflag.evidence IS DISTINCT FROM EXCLUDED.evidence
"""
_PATTERN_HITS = "SELECT consumer_id, evidence, latest FROM risk_pattern_hits WHERE kind = %(kind)s"


@dataclass
class DetectionSummary:
    raised_or_refreshed: dict[str, int]


def definition_of(pattern: Any) -> Definition:
    """A RiskPattern (or a version of one) as the matcher takes it."""
    regex = pattern.match == REGEX
    return Definition(
        pattern_id=getattr(pattern, "pattern_id", None) or pattern.pk,
        version=getattr(pattern, "number", None) or pattern.version,
        name=str(getattr(pattern, "name", "") or pattern.pattern.name),
        match=pattern.match,
        flag=pattern.flag,
        terms=(pattern.terms.strip(),) if regex else lines(pattern.terms),
        near_terms=lines(pattern.near_terms),
        then_terms=lines(pattern.then_terms),
        except_terms=lines(pattern.except_terms),
        ordered=pattern.ordered,
        distance=pattern.distance,
        weight=pattern.weight,
    )


def active_matcher() -> Matcher:
    return Matcher(definition_of(pattern) for pattern in RiskPattern.objects.filter(active=True).order_by("pk"))


@dataclass
class PatternScore:
    """One consumer's pattern hits of one flag kind: the score and the evidence."""

    score: int = 0
    review_ids: list[int] | None = None
    passages: list[str] | None = None
    patterns: set[str] | None = None
    latest: datetime | None = None


def score_patterns(
    matcher: Matcher, reviews: Iterable[tuple[int, int, str, datetime]]
) -> dict[tuple[str, int], PatternScore]:
    """(flag kind, consumer id) -> the score of the consumer's reviews; each review counts its heaviest hit."""
    scores: dict[tuple[str, int], PatternScore] = defaultdict(PatternScore)
    for review in reviews:
        add_hits(scores, review, matcher.scan(review[2]))
    return scores


def add_hits(scores: dict[tuple[str, int], PatternScore], review: tuple[int, int, str, datetime],
             hits: list[Hit]) -> None:  # fmt: skip
    review_id, consumer_id, _text, created_at = review
    best: dict[str, Hit] = {}
    for hit in hits:
        if hit.flag not in best or hit.weight > best[hit.flag].weight:
            best[hit.flag] = hit
    for flag, hit in best.items():
        entry = scores[(flag, consumer_id)]
        entry.score += hit.weight
        entry.review_ids = [*(entry.review_ids or []), review_id]
        entry.passages = [*(entry.passages or []), hit.matched]
        entry.patterns = (entry.patterns or set()) | {f"{hit.name} v{hit.version}"}
        entry.latest = max(entry.latest or created_at, created_at)


def pattern_window(now: datetime) -> Iterator[tuple[int, int, str, datetime]]:
    """(id, consumer, text, created_at) of the reviews with a text in the patterns' window, streamed."""
    start = now - timedelta(days=settings.RISK_PATTERN_LOOKBACK_DAYS)
    return (
        Review.objects.filter(created_at__gte=start, created_at__lt=now)
        .exclude(text="")
        .values_list("id", "consumer_id", "text", "created_at")
        .iterator(chunk_size=5000)
    )


def flagged(scores: dict[tuple[str, int], PatternScore]) -> list[tuple[str, int, PatternScore]]:
    return [(kind, consumer, entry) for (kind, consumer), entry in scores.items()
            if entry.score >= settings.RISK_PATTERN_MIN_SCORE]  # fmt: skip


def _evidence(entry: PatternScore) -> dict[str, object]:
    return {
        "score": entry.score,
        "reviews": len(entry.review_ids or []),
        "review_ids": (entry.review_ids or [])[:_EVIDENCE_REVIEWS],
        "phrases": (entry.passages or [])[:_EVIDENCE_REVIEWS],
        "patterns": sorted(entry.patterns or []),
    }


def detect_risk_flags(*, now: datetime | None = None) -> DetectionSummary:
    """Run every rule over all consumers as of `now`; open or refresh flags. Idempotent: a rerun changes nothing."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    hits = flagged(score_patterns(active_matcher(), pattern_window(now)))
    with transaction.atomic(), connection.cursor() as cursor:
        for kind, rule in sql_rules().items():
            cursor.execute(_UPSERT.format(rule=rule), {"now": now, "kind": str(kind)})
            counts[str(kind)] = cursor.rowcount
        stage(
            ((kind, consumer, Jsonb(_evidence(entry)), entry.latest) for kind, consumer, entry in hits),
            [("kind", "text"), ("consumer_id", "bigint"), ("evidence", "jsonb"), ("latest", "timestamptz")],
            table="risk_pattern_hits",
        )
        for kind in (RiskFlag.Kind.EXTORTION, RiskFlag.Kind.ABUSE):
            cursor.execute(_UPSERT.format(rule=_PATTERN_HITS), {"now": now, "kind": str(kind)})
            counts[str(kind)] = cursor.rowcount
    return DetectionSummary(raised_or_refreshed=counts)


@dataclass
class PatternResult:
    """What one pattern found in a backtest."""

    name: str
    reviews: int = 0
    consumers: int = 0
    samples: list[str] | None = None


@dataclass
class Backtest:
    """Active patterns (or the chosen ones) over stored reviews: what they would find. Nothing is written."""

    days: int
    reviews_scanned: int
    patterns: list[PatternResult]
    would_flag: dict[str, int]  # flag kind -> consumers whose score reaches RISK_PATTERN_MIN_SCORE
    already_flagged: dict[str, int]  # of those, consumers with a live flag of that kind already


def backtest(*, days: int, patterns: Iterable[RiskPattern] | None = None, now: datetime | None = None) -> Backtest:
    """Run patterns over the reviews of the last `days` days; read-only, for the admin's backtest page."""
    now = now or timezone.now()
    chosen = list(patterns) if patterns is not None else list(RiskPattern.objects.filter(active=True).order_by("pk"))
    matcher = Matcher(definition_of(pattern) for pattern in chosen)
    results = {pattern.pk: PatternResult(pattern.name, samples=[]) for pattern in chosen}
    consumers: dict[int, set[int]] = defaultdict(set)
    scores: dict[tuple[str, int], PatternScore] = defaultdict(PatternScore)
    start = now - timedelta(days=days)
    reviews = Review.objects.filter(created_at__gte=start, created_at__lt=now).exclude(text="")
    counted = 0
    for review in reviews.values_list("id", "consumer_id", "text", "created_at").iterator(chunk_size=5000):
        counted += 1
        hits = matcher.scan(review[2])
        add_hits(scores, review, hits)
        for hit in hits:
            result = results[hit.pattern_id]
            result.reviews += 1
            consumers[hit.pattern_id].add(review[1])
            if result.samples is not None and len(result.samples) < _SAMPLES:
                result.samples.append(review[2])
    for pattern_id, who in consumers.items():
        results[pattern_id].consumers = len(who)
    would: dict[str, set[int]] = defaultdict(set)
    for kind, consumer, _entry in flagged(scores):
        would[kind].add(consumer)
    live = RiskFlag.objects.filter(status__in=[RiskFlag.Status.OPEN, RiskFlag.Status.CONFIRMED])
    already = {kind: live.filter(kind=kind, consumer_id__in=who).count() for kind, who in would.items()}
    return Backtest(days, counted, list(results.values()), {k: len(v) for k, v in would.items()}, already)
