"""The merchants' service score: set-based, one row per merchant per day, kept as history.

For a day D the window is the 180 days ending with D (local time). Per merchant:

- **DSR** per dimension (item as described, service attitude, logistics): the mean stars of the
  window's published reviews (held ones — e.g. from a confirmed malicious reviewer — and removed
  ones do not count against the shop), shrunk towards the marketplace prior of 4.7 as if 10
  reviews had given it, so a shop with two reviews is not ranked on two opinions.
- **dispute rate**: disputed orders / orders placed in the window.
- **refund timeliness**: mean hours from refund request to refund, over refunded orders.

    service score (0..100) = 60 x (mean DSR - 1) / 4
                           + 25 x (1 - min(dispute rate / 5%, 1))      (no orders: half, 12.5)
                           + 15 x (1 - min(refund hours / 72, 1))      (no refunds: 15; no orders: 7.5)

A shop without data gets the middle, not the top: it earns traffic by serving, not by being new.
    traffic weight (0.5..1.5) = 0.5 + service score / 100

A better score earns more traffic. Recomputing a day replaces that day's rows, so reruns are safe.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

WINDOW_DAYS = 180
DSR_PRIOR, DSR_PRIOR_WEIGHT = 4.7, 10
DISPUTE_RATE_FLOOR = 0.05
REFUND_HOURS_FLOOR = 72
PRIOR_STARS = DSR_PRIOR * DSR_PRIOR_WEIGHT  # the stars of the imagined prior reviews

_SCORE_SQL = f"""
WITH rv AS (
  SELECT merchant_id, count(*) AS n, sum(item_stars) AS si, sum(service_stars) AS ss, sum(logistics_stars) AS sl
  FROM crm_review
  WHERE created_at >= %(start)s AND created_at < %(end)s AND moderation = 'published'
  GROUP BY merchant_id
), od AS (
  SELECT merchant_id, count(*) AS n, count(*) FILTER (WHERE dispute <> '') AS disputes,
         avg(greatest(extract(epoch FROM refunded_at - refund_requested_at), 0) / 3600)
           FILTER (WHERE refunded_at IS NOT NULL AND refund_requested_at IS NOT NULL) AS refund_hours
  FROM crm_order
  WHERE placed_at >= %(start)s AND placed_at < %(end)s
  GROUP BY merchant_id
), base AS (
  SELECT m.id AS merchant_id, coalesce(rv.n, 0) AS reviews,
         (coalesce(rv.si, 0) + {PRIOR_STARS}) / (coalesce(rv.n, 0) + {DSR_PRIOR_WEIGHT}) AS dsr_item,
         (coalesce(rv.ss, 0) + {PRIOR_STARS}) / (coalesce(rv.n, 0) + {DSR_PRIOR_WEIGHT}) AS dsr_service,
         (coalesce(rv.sl, 0) + {PRIOR_STARS}) / (coalesce(rv.n, 0) + {DSR_PRIOR_WEIGHT}) AS dsr_logistics,
         coalesce(od.n, 0) AS orders,
         coalesce(od.disputes::numeric / nullif(od.n, 0), 0) AS dispute_rate,
         od.refund_hours
  FROM merchants_merchant m
  LEFT JOIN rv ON rv.merchant_id = m.id
  LEFT JOIN od ON od.merchant_id = m.id
), scored AS (
  SELECT base.*, round((
      60 * ((dsr_item + dsr_service + dsr_logistics) / 3 - 1) / 4
    + CASE WHEN orders = 0 THEN 12.5 ELSE 25 * (1 - least(dispute_rate / {DISPUTE_RATE_FLOOR}, 1)) END
    + CASE WHEN orders = 0 THEN 7.5 WHEN refund_hours IS NULL THEN 15
           ELSE 15 * (1 - least(refund_hours / {REFUND_HOURS_FLOOR}, 1)) END
  )::numeric, 2) AS service_score
  FROM base
)
INSERT INTO merchants_merchantscore
  (merchant_id, day, reviews, dsr_item, dsr_service, dsr_logistics, orders, dispute_rate, refund_hours,
   service_score, traffic_weight)
SELECT merchant_id, %(day)s, reviews, round(dsr_item::numeric, 3), round(dsr_service::numeric, 3),
       round(dsr_logistics::numeric, 3), orders, round(dispute_rate::numeric, 5), round(refund_hours::numeric, 2),
       service_score, round(0.5 + service_score / 100, 3)
FROM scored
ON CONFLICT (merchant_id, day) DO UPDATE SET
  reviews = EXCLUDED.reviews, dsr_item = EXCLUDED.dsr_item, dsr_service = EXCLUDED.dsr_service,
  dsr_logistics = EXCLUDED.dsr_logistics, orders = EXCLUDED.orders, dispute_rate = EXCLUDED.dispute_rate,
  refund_hours = EXCLUDED.refund_hours, service_score = EXCLUDED.service_score,
  traffic_weight = EXCLUDED.traffic_weight
"""


def window(day: date) -> tuple[datetime, datetime]:
    """The 180 local days ending with ``day``, as aware datetimes [start, end)."""
    tz = timezone.get_current_timezone()
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return end - timedelta(days=WINDOW_DAYS), end


def score_merchants(day: date | None = None) -> int:
    """Compute every merchant's score for ``day`` (default: yesterday, the last whole day). Returns rows written."""
    day = day or timezone.localdate() - timedelta(days=1)
    start, end = window(day)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SCORE_SQL, {"start": start, "end": end, "day": day})
        return int(cursor.rowcount)
