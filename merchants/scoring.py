"""The merchants' service score: set-based, one row per merchant per day, kept as history.

For a day D the window is the 180 days ending with D (local time). Per merchant:

- **DSR** per dimension (item as described, service attitude, logistics): the mean stars of the
  window's published reviews (held ones — e.g. from a confirmed malicious reviewer — and removed
  ones do not count against the shop), shrunk towards the marketplace prior of 4.7 as if 10
  reviews had given it, so a shop with two reviews is not ranked on two opinions.
- **dispute rate**: disputed orders / orders placed in the window.
- **refund timeliness**: mean hours from refund request to refund, over refunded orders.
- **chat response**: over the window's live chats about the shop's orders that reached a person, the
  mean seconds from joining the queue to the agent's first answer, each chat counted at most 300 s (a
  chat that ended unanswered counts 300 s; one still waiting is not counted yet); **chat resolution**:
  the share of those that ended whose ticket was resolved. (The chat app sits above this one: its
  tables are read by SQL, never imported.)

Points, each rounded to 0.01, from the figures as stored (so the explanation adds up to the score):

    DSR            15 x (stars - 1) / 4 per dimension              (45 in all)
    disputes       25 x (5% - min(rate, 5%)) / 5%                  (no orders: half, 12.5)
    refunds        15 x (72 - min(hours, 72)) / 72                 (no refunds: 15; no orders: half, 7.5)
    chat response  10 x (300 - min(seconds, 300)) / 300            (no chats: half, 5)
    chat resolved   5 x resolved share                             (no ended chats: half, 2.5)

    service score (0..100) = the sum of the points
    traffic weight (0.5..1.5) = 0.5 + service score / 100

A shop without data gets the middle, not the top: it earns traffic by serving, not by being new. A
better score earns more traffic. Recomputing a day replaces that day's rows, so reruns are safe.
``points()`` is the same formula in Python, on one row's figures: what the scorecard explains with.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

WINDOW_DAYS = 180
DSR_PRIOR, DSR_PRIOR_WEIGHT = 4.7, 10
PRIOR_STARS = DSR_PRIOR * DSR_PRIOR_WEIGHT  # the stars of the imagined prior reviews
# The most points each component gives, and where a figure stops earning any.
DSR_POINTS, DISPUTE_POINTS, REFUND_POINTS, CHAT_RESPONSE_POINTS, CHAT_RESOLUTION_POINTS = 15, 25, 15, 10, 5
DISPUTE_RATE_FLOOR = Decimal("0.05")
REFUND_HOURS_FLOOR = Decimal(72)
CHAT_SECONDS_FLOOR = 300
CENT = Decimal("0.01")

# Every day of [first, last] at once: each merchant's figures per local date, summed over a sliding window of
# WINDOW_DAYS dates (a dense calendar per merchant, so ROWS frames are days); the means are sums over counts,
# the same numeric division avg() does, so a day scored alone or within a range gets the same row.
_SCORE_SQL = f"""
WITH cal AS (
  SELECT d::date AS d FROM generate_series(%(first)s::date - {WINDOW_DAYS - 1}, %(last)s::date, interval '1 day') d
), rv AS (
  SELECT merchant_id, (created_at AT TIME ZONE %(tz)s)::date AS d,
         count(*) AS n, sum(item_stars) AS si, sum(service_stars) AS ss, sum(logistics_stars) AS sl
  FROM crm_review
  WHERE created_at >= %(start)s AND created_at < %(end)s AND moderation = 'published'
  GROUP BY 1, 2
), od AS (
  SELECT merchant_id, (placed_at AT TIME ZONE %(tz)s)::date AS d,
         count(*) AS n, count(*) FILTER (WHERE dispute <> '') AS disputes,
         sum(greatest(extract(epoch FROM refunded_at - refund_requested_at), 0) / 3600)
           FILTER (WHERE refunded_at IS NOT NULL AND refund_requested_at IS NOT NULL) AS refund_hours,
         count(*) FILTER (WHERE refunded_at IS NOT NULL AND refund_requested_at IS NOT NULL) AS refunds
  FROM crm_order
  WHERE placed_at >= %(start)s AND placed_at < %(end)s
  GROUP BY 1, 2
), ch AS (
  SELECT t.merchant_id, (c.created_at AT TIME ZONE %(tz)s)::date AS d, count(*) AS n,
         sum(CASE WHEN c.answered_at IS NULL THEN {CHAT_SECONDS_FLOOR}
                  ELSE least(greatest(extract(epoch FROM c.answered_at - c.queued_at), 0), {CHAT_SECONDS_FLOOR}) END)
           FILTER (WHERE c.answered_at IS NOT NULL OR c.state = 'ended') AS response_seconds,
         count(*) FILTER (WHERE c.answered_at IS NOT NULL OR c.state = 'ended') AS responses,
         count(*) FILTER (WHERE c.state = 'ended' AND t.status IN ('resolved', 'closed')) AS resolved,
         count(*) FILTER (WHERE c.state = 'ended') AS ended
  FROM chat_chatsession c JOIN tickets_ticket t ON t.id = c.ticket_id
  WHERE c.queued_at IS NOT NULL AND c.created_at >= %(start)s AND c.created_at < %(end)s
    AND t.merchant_id IS NOT NULL
  GROUP BY 1, 2
), win AS (
  SELECT m.id AS merchant_id, cal.d AS day,
         sum(rv.n) OVER w AS rv_n, sum(rv.si) OVER w AS rv_si, sum(rv.ss) OVER w AS rv_ss, sum(rv.sl) OVER w AS rv_sl,
         sum(od.n) OVER w AS od_n, sum(od.disputes) OVER w AS od_disputes,
         sum(od.refund_hours) OVER w AS od_refund_hours, sum(od.refunds) OVER w AS od_refunds,
         sum(ch.n) OVER w AS ch_n, sum(ch.response_seconds) OVER w AS ch_response_seconds,
         sum(ch.responses) OVER w AS ch_responses, sum(ch.resolved) OVER w AS ch_resolved,
         sum(ch.ended) OVER w AS ch_ended
  FROM merchants_merchant m CROSS JOIN cal
  LEFT JOIN rv ON rv.merchant_id = m.id AND rv.d = cal.d
  LEFT JOIN od ON od.merchant_id = m.id AND od.d = cal.d
  LEFT JOIN ch ON ch.merchant_id = m.id AND ch.d = cal.d
  WINDOW w AS (PARTITION BY m.id ORDER BY cal.d ROWS BETWEEN {WINDOW_DAYS - 1} PRECEDING AND CURRENT ROW)
), fig AS (
  SELECT merchant_id, day, coalesce(rv_n, 0) AS reviews,
         round((coalesce(rv_si, 0) + {PRIOR_STARS}) / (coalesce(rv_n, 0) + {DSR_PRIOR_WEIGHT}), 3) AS dsr_item,
         round((coalesce(rv_ss, 0) + {PRIOR_STARS}) / (coalesce(rv_n, 0) + {DSR_PRIOR_WEIGHT}), 3) AS dsr_service,
         round((coalesce(rv_sl, 0) + {PRIOR_STARS}) / (coalesce(rv_n, 0) + {DSR_PRIOR_WEIGHT}), 3) AS dsr_logistics,
         coalesce(od_n, 0) AS orders,
         round(coalesce(od_disputes / nullif(od_n, 0), 0), 5) AS dispute_rate,
         round(od_refund_hours / nullif(od_refunds, 0), 2) AS refund_hours,
         coalesce(ch_n, 0) AS chats,
         round(ch_response_seconds / nullif(ch_responses, 0))::integer AS chat_response_seconds,
         round(ch_resolved / nullif(ch_ended, 0), 4) AS chat_resolution_rate
  FROM win
  WHERE day >= %(first)s
), pts AS (
  SELECT fig.*,
    round({DSR_POINTS} * (dsr_item - 1) / 4, 2) + round({DSR_POINTS} * (dsr_service - 1) / 4, 2)
    + round({DSR_POINTS} * (dsr_logistics - 1) / 4, 2)
    + CASE WHEN orders = 0 THEN {DISPUTE_POINTS / 2}
           ELSE round({DISPUTE_POINTS} * ({DISPUTE_RATE_FLOOR} - least(dispute_rate, {DISPUTE_RATE_FLOOR}))
                      / {DISPUTE_RATE_FLOOR}, 2) END
    + CASE WHEN orders = 0 THEN {REFUND_POINTS / 2} WHEN refund_hours IS NULL THEN {REFUND_POINTS}
           ELSE round({REFUND_POINTS} * ({REFUND_HOURS_FLOOR} - least(refund_hours, {REFUND_HOURS_FLOOR}))
                      / {REFUND_HOURS_FLOOR}, 2) END
    + CASE WHEN chat_response_seconds IS NULL THEN {CHAT_RESPONSE_POINTS / 2}
           ELSE round({CHAT_RESPONSE_POINTS}
                      * ({CHAT_SECONDS_FLOOR} - least(chat_response_seconds, {CHAT_SECONDS_FLOOR}))
                      / {CHAT_SECONDS_FLOOR}::numeric, 2) END
    + CASE WHEN chat_resolution_rate IS NULL THEN {CHAT_RESOLUTION_POINTS / 2}
           ELSE round({CHAT_RESOLUTION_POINTS} * chat_resolution_rate, 2) END AS service_score
  FROM fig
)
INSERT INTO merchants_merchantscore
  (merchant_id, day, reviews, dsr_item, dsr_service, dsr_logistics, orders, dispute_rate, refund_hours,
   chats, chat_response_seconds, chat_resolution_rate, service_score, traffic_weight)
SELECT merchant_id, day, reviews, dsr_item, dsr_service, dsr_logistics, orders, dispute_rate, refund_hours,
       chats, chat_response_seconds, chat_resolution_rate, service_score, round(0.5 + service_score / 100, 3)
FROM pts
ON CONFLICT (merchant_id, day) DO UPDATE SET
  reviews = EXCLUDED.reviews, dsr_item = EXCLUDED.dsr_item, dsr_service = EXCLUDED.dsr_service,
  dsr_logistics = EXCLUDED.dsr_logistics, orders = EXCLUDED.orders, dispute_rate = EXCLUDED.dispute_rate,
  refund_hours = EXCLUDED.refund_hours, chats = EXCLUDED.chats,
  chat_response_seconds = EXCLUDED.chat_response_seconds, chat_resolution_rate = EXCLUDED.chat_resolution_rate,
  service_score = EXCLUDED.service_score, traffic_weight = EXCLUDED.traffic_weight
"""


class Figures(NamedTuple):
    """One merchant's figures on one day, as MerchantScore stores them: what the points are computed from."""

    dsr_item: Decimal
    dsr_service: Decimal
    dsr_logistics: Decimal
    orders: int
    dispute_rate: Decimal
    refund_hours: Decimal | None
    chat_response_seconds: int | None
    chat_resolution_rate: Decimal | None


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def points(f: Figures) -> dict[str, Decimal]:
    """Each component's points for these figures: the module docstring's formula, as the SQL computes it."""
    half_dispute, half_refund = Decimal(DISPUTE_POINTS) / 2, Decimal(REFUND_POINTS) / 2
    refund = (
        half_refund if f.orders == 0
        else Decimal(REFUND_POINTS) if f.refund_hours is None
        else _cents(REFUND_POINTS * (REFUND_HOURS_FLOOR - min(f.refund_hours, REFUND_HOURS_FLOOR)) / REFUND_HOURS_FLOOR)
    )  # fmt: skip
    raw = {
        "dsr_item": _cents(DSR_POINTS * (f.dsr_item - 1) / 4),
        "dsr_service": _cents(DSR_POINTS * (f.dsr_service - 1) / 4),
        "dsr_logistics": _cents(DSR_POINTS * (f.dsr_logistics - 1) / 4),
        "dispute_rate": half_dispute if f.orders == 0 else _cents(
            DISPUTE_POINTS * (DISPUTE_RATE_FLOOR - min(f.dispute_rate, DISPUTE_RATE_FLOOR)) / DISPUTE_RATE_FLOOR
        ),
        "refund_hours": refund,
        "chat_response_seconds": Decimal(CHAT_RESPONSE_POINTS) / 2 if f.chat_response_seconds is None else _cents(
            Decimal(CHAT_RESPONSE_POINTS * (CHAT_SECONDS_FLOOR - min(f.chat_response_seconds, CHAT_SECONDS_FLOOR)))
            / CHAT_SECONDS_FLOOR
        ),
        "chat_resolution_rate": Decimal(CHAT_RESOLUTION_POINTS) / 2 if f.chat_resolution_rate is None
        else CHAT_RESOLUTION_POINTS * f.chat_resolution_rate,
    }  # fmt: skip
    return {code: _cents(value) for code, value in raw.items()}


def traffic_weight(service_score: Decimal) -> Decimal:
    return (Decimal("0.5") + service_score / 100).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def window(day: date) -> tuple[datetime, datetime]:
    """The 180 local days ending with ``day``, as aware datetimes [start, end)."""
    tz = timezone.get_current_timezone()
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return end - timedelta(days=WINDOW_DAYS), end


def score_merchants(day: date | None = None) -> int:
    """Compute every merchant's score for ``day`` (default: yesterday, the last whole day). Returns rows written."""
    day = day or timezone.localdate() - timedelta(days=1)
    return score_merchant_days(day, day)


def score_merchant_days(first: date, last: date) -> int:
    """Compute every merchant's score for each day from ``first`` to ``last`` in one statement (a month of
    history reads each order once, not thirty times). Returns rows written."""
    start, end = window(first)[0], window(last)[1]
    params: dict[str, date | datetime | str] = {
        "first": first, "last": last, "start": start, "end": end, "tz": timezone.get_current_timezone_name(),
    }  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SCORE_SQL, params)
        return int(cursor.rowcount)
