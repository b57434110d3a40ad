"""Malicious negative reviewer detection (恶意差评师): documented rules that raise risk flags with evidence.

Every rule is one set-based query over all consumers. A hit opens a ``RiskFlag`` (or refreshes the
evidence of the open one: at most one live flag per consumer and kind). A supervisor confirms or
clears it in the admin (crm/services.py). A cleared flag is not raised again unless there is
evidence newer than the clearing. A confirmed flag blocks instant refunds and holds the consumer's
new negative reviews for moderation, so merchants are protected.

The rules (thresholds are the constants below):

- **negative_burst** — at least 5 negative reviews across at least 4 different shops within any
  7 days of the last 90.
- **negative_then_refund** — at least 3 orders in the last 180 days where a negative review was
  followed within 3 days by a refund request on the same order (review used as leverage).
- **extortion** — a review text in the last 180 days with an extortion phrase: a threat of a bad
  review, complaint or exposure unless refunded or paid ("不退款就差评", "不赔钱就投诉", "返现就改好评").
- **duplicate_text** — the same negative text (ignoring case, spaces and punctuation; at least 8
  characters) posted 3 or more times to 2 or more shops in the last 180 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from crm.models import RiskFlag

BURST_REVIEWS, BURST_SHOPS, BURST_DAYS, BURST_LOOKBACK_DAYS = 5, 4, 7, 90
LEVERAGE_ORDERS, LEVERAGE_DAYS = 3, 3
DUPLICATE_COPIES, DUPLICATE_SHOPS, DUPLICATE_MIN_CHARS = 3, 2, 8
LOOKBACK_DAYS = 180
# PostgreSQL regular expression (ARE) on the review text; the one capturing group is the phrase.
EXTORTION_PATTERN = (
    "((?:不退款|不退钱|不给退|不赔偿|不赔钱|不补偿|不返现|不给个说法).{0,8}(?:差评|投诉|曝光|举报)"
    "|(?:返现|红包|补偿|赔钱|好处).{0,6}(?:改|删|追加).{0,2}(?:好评|差评)"
    "|(?:差评|投诉).{0,4}(?:等着|走着瞧))"
)

# Each query yields (consumer_id, evidence jsonb, latest evidence time).
RULES: dict[str, str] = {
    RiskFlag.Kind.NEGATIVE_BURST: f"""
        WITH neg AS (
          SELECT id, consumer_id, merchant_id, created_at FROM crm_review
          WHERE is_negative AND created_at >= %(now)s - interval '{BURST_LOOKBACK_DAYS} days'
        ), windows AS (
          SELECT a.consumer_id, a.created_at AS start, count(*) AS reviews,
                 count(DISTINCT b.merchant_id) AS shops, array_agg(b.id ORDER BY b.id) AS review_ids,
                 max(b.created_at) AS latest
          FROM neg a JOIN neg b ON b.consumer_id = a.consumer_id
            AND b.created_at >= a.created_at AND b.created_at < a.created_at + interval '{BURST_DAYS} days'
          GROUP BY a.consumer_id, a.id, a.created_at
          HAVING count(*) >= {BURST_REVIEWS} AND count(DISTINCT b.merchant_id) >= {BURST_SHOPS}
        )
        -- The biggest window is the evidence; the newest of all windows says how fresh it is.
        SELECT DISTINCT ON (consumer_id) consumer_id,
               jsonb_build_object('reviews', reviews, 'shops', shops, 'window_start', start,
                                  'window_days', {BURST_DAYS}, 'review_ids', to_jsonb(review_ids)),
               max(latest) OVER (PARTITION BY consumer_id)
        FROM windows ORDER BY consumer_id, reviews DESC, shops DESC, start DESC
    """,
    RiskFlag.Kind.NEGATIVE_THEN_REFUND: f"""
        SELECT r.consumer_id,
               jsonb_build_object('orders', count(*), 'within_days', {LEVERAGE_DAYS},
                                  'order_ids', jsonb_agg(o.id ORDER BY o.id),
                                  'review_ids', jsonb_agg(r.id ORDER BY o.id)),
               max(o.refund_requested_at)
        FROM crm_review r JOIN crm_order o ON o.id = r.order_id
        WHERE r.is_negative AND r.created_at >= %(now)s - interval '{LOOKBACK_DAYS} days'
          AND o.refund_requested_at >= r.created_at
          AND o.refund_requested_at < r.created_at + interval '{LEVERAGE_DAYS} days'
        GROUP BY r.consumer_id HAVING count(*) >= {LEVERAGE_ORDERS}
    """,
    RiskFlag.Kind.EXTORTION: f"""
        SELECT consumer_id,
               jsonb_build_object('reviews', count(*), 'review_ids', jsonb_agg(id ORDER BY id),
                                  'phrases', jsonb_agg(substring(text FROM %(pattern)s) ORDER BY id)),
               max(created_at)
        FROM crm_review
        WHERE created_at >= %(now)s - interval '{LOOKBACK_DAYS} days' AND text ~ %(pattern)s
        GROUP BY consumer_id
    """,
    RiskFlag.Kind.DUPLICATE_TEXT: f"""
        WITH norm AS (
          SELECT id, consumer_id, merchant_id, created_at, text,
                 regexp_replace(lower(text), '[[:space:][:punct:]，。！？、；：“”‘’（）《》【】…—~～]+', '', 'g') AS key
          FROM crm_review
          WHERE is_negative AND created_at >= %(now)s - interval '{LOOKBACK_DAYS} days'
        ), groups AS (
          SELECT consumer_id, key, count(*) AS copies, count(DISTINCT merchant_id) AS shops,
                 min(text) AS sample, jsonb_agg(id ORDER BY id) AS review_ids, max(created_at) AS latest
          FROM norm WHERE char_length(key) >= {DUPLICATE_MIN_CHARS}
          GROUP BY consumer_id, key
          HAVING count(*) >= {DUPLICATE_COPIES} AND count(DISTINCT merchant_id) >= {DUPLICATE_SHOPS}
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


@dataclass
class DetectionSummary:
    raised_or_refreshed: dict[str, int]


def detect_risk_flags(*, now: datetime | None = None) -> DetectionSummary:
    """Run every rule over all consumers; open or refresh flags. Idempotent: a rerun changes nothing."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        for kind, rule in RULES.items():
            cursor.execute(_UPSERT.format(rule=rule), {"now": now, "kind": str(kind), "pattern": EXTORTION_PATTERN})
            counts[str(kind)] = cursor.rowcount
    return DetectionSummary(raised_or_refreshed=counts)
