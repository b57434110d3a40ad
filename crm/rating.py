"""The credit rating engine: every consumer rescored from the indicator registry, set-based, in PostgreSQL.

Two stages, so that the big tables are read once however many consumers there are:

1. *Gather*: for each source (consumers, orders, reviews, flags) one ``GROUP BY consumer`` query
   computes all of that source's indicators into an unlogged stage table, one scan of the table.
2. *Score*: consumers are taken in id ranges (one transaction each, with a progress report); each
   range joins the stage tables, turns raw values into points, sums the score, picks the tier and
   upserts ``CreditRating``, then copies score and tier onto ``Consumer``.

Nothing is computed per consumer in Python, and Python holds no per-consumer data: memory stays flat
whatever the number of consumers. A crash leaves every finished range rated and the others with
their previous rating; a rerun simply rates everyone again. An advisory lock keeps two runs apart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from crm.indicators import BASE_SCORE, INDICATORS, NOW, ZONE, Indicator
from crm.models import CreditTier
from crm.tiering import tier_case

SOURCES: dict[str, tuple[str, str, str, str]] = {
    # source: (table, alias, consumer id column, the row's moment: rows after the run's reference time are
    # not seen, so that a run as of a past day rates the history up to that day)
    "consumers": ("crm_consumer", "c", "c.id", "c.registered_at"),
    "orders": ("crm_order", "o", "o.consumer_id", "o.placed_at"),
    "reviews": ("crm_review", "r", "r.consumer_id", "r.created_at"),
    "flags": ("crm_riskflag", "f", "f.consumer_id", "f.detected_at"),
}
# Flags are stamped with the risk run's reference time, and the nightly job rates at that same time: a flag
# detected at the reference time is seen (rows of the other sources at that instant belong to the next day).
_SEEN_AT_REFERENCE = frozenset({"flags"})
_ZONE = re.compile(r"^[A-Za-z0-9_+\-/]{1,64}$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,55}$")
_LOCK_KEY = 7_230_101
# The lock is per database (its name hashed beside the key): runs in two databases of one cluster never
# block each other. It is a session lock, so it must be released on the same connection, as below.
LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext(current_database()), %s)"
# jsonb_build_object takes at most 100 arguments: 50 indicators a call, joined with ||.
_JSON_CHUNK = 50


class RatingError(RuntimeError):
    pass


@dataclass
class RatingSummary:
    consumers: int = 0
    indicators: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


Progress = Callable[[int, int], None]


def validate(indicators: Sequence[Indicator]) -> None:
    seen: set[str] = set()
    for indicator in indicators:
        if not _KEY.match(indicator.key):
            raise RatingError(f"Indicator key {indicator.key!r} must be lower_snake_case, at most 56 characters.")
        if indicator.key in seen:
            raise RatingError(f"Indicator key {indicator.key!r} is registered twice.")
        if indicator.source not in SOURCES:
            raise RatingError(f"Indicator {indicator.key!r} has an unknown source {indicator.source!r}.")
        seen.add(indicator.key)


def as_of(day: date) -> datetime:
    """The reference time of a run as of a day: the midnight that ends it, in TIME_ZONE."""
    return datetime.combine(day + timedelta(days=1), time_of_day.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def rate_consumers(
    *,
    now: datetime | None = None,
    indicators: Sequence[Indicator] = INDICATORS,
    batch_size: int = 50_000,
    progress: Progress | None = None,
) -> RatingSummary:
    """Rescore every consumer. See the module docstring for how."""
    validate(indicators)
    now = now or timezone.now()
    summary = RatingSummary(indicators=len(indicators))
    now_sql = f"'{now.isoformat()}'::timestamptz"
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SQL, [_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise RatingError("Another rating run is in progress.")
    try:
        started = time.monotonic()
        sources = sorted({i.source for i in indicators})
        for source in sources:
            _gather(source, [i for i in indicators if i.source == source], now_sql)
        summary.seconds["gather"] = time.monotonic() - started

        started = time.monotonic()
        score_sql = _score_sql(indicators, sources, _tier_case())
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(id), max(id), count(*) FROM crm_consumer")
            low, high, total = cursor.fetchone()
        done = 0
        if total:
            for start in range(low, high + 1, batch_size):
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(score_sql, {"lo": start, "hi": start + batch_size, "now": now})
                    # Unchanged ratings are skipped by the upsert, so count the range's consumers instead.
                    cursor.execute(_RANGE_COUNT, [start, start + batch_size])
                    done += cursor.fetchone()[0]
                    cursor.execute(_COPY_TO_CONSUMER, {"lo": start, "hi": start + batch_size})
                if progress:
                    progress(done, total)
        summary.consumers = done
        summary.seconds["score"] = time.monotonic() - started
    finally:
        with connection.cursor() as cursor:
            for name in SOURCES:
                cursor.execute(f"DROP TABLE IF EXISTS {_stage(name)}")
            cursor.execute("SELECT pg_advisory_unlock(hashtext(current_database()), %s)", [_LOCK_KEY])
    return summary


_RANGE_COUNT = "SELECT count(*) FROM crm_consumer WHERE id >= %s AND id < %s"
_COPY_TO_CONSUMER = """
UPDATE crm_consumer c SET credit_score = r.score, tier_id = r.tier_id
FROM crm_creditrating r
WHERE r.consumer_id = c.id AND c.id >= %(lo)s AND c.id < %(hi)s
  AND (c.credit_score IS DISTINCT FROM r.score OR c.tier_id IS DISTINCT FROM r.tier_id)
"""


def _stage(source: str) -> str:
    return f"crm_rating_stage_{source}"


def _gather(source: str, indicators: Sequence[Indicator], now_sql: str) -> None:
    table, alias, consumer_id, moment = SOURCES[source]
    zone = settings.TIME_ZONE
    if not _ZONE.match(zone):
        raise RatingError(f"TIME_ZONE {zone!r} is not a time zone name.")
    columns = ",\n  ".join(f'{i.aggregate.replace(NOW, now_sql).replace(ZONE, zone)} AS "{i.key}"' for i in indicators)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_stage(source)}")
        # Distinct counts sort per consumer: give the sort memory instead of spilling to disk.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(
            f"CREATE UNLOGGED TABLE {_stage(source)} AS\n"
            f"SELECT {consumer_id} AS consumer_id,\n  {columns}\nFROM {table} {alias}\n"
            f"WHERE {moment} {'<=' if source in _SEEN_AT_REFERENCE else '<'} {now_sql}\nGROUP BY {consumer_id}"
        )
        cursor.execute(f"ALTER TABLE {_stage(source)} ADD PRIMARY KEY (consumer_id)")
        cursor.execute(f"ANALYZE {_stage(source)}")


def _tier_case() -> str:
    """The tier table as a CASE over the score, read once per run so every consumer sees the same tiers."""
    return tier_case(CreditTier.objects.values_list("pk", "min_score"))


def _score_sql(indicators: Sequence[Indicator], sources: Sequence[str], tier_case: str) -> str:
    joins = "\n".join(f"LEFT JOIN {_stage(s)} s_{s} ON s_{s}.consumer_id = c.id" for s in sources if s != "consumers")
    if "consumers" in sources:
        joins = f"LEFT JOIN {_stage('consumers')} s_consumers ON s_consumers.consumer_id = c.id\n" + joins
    raws, points = [], []
    for i in indicators:
        raw = f's_{i.source}."{i.key}"'
        if i.default is not None:
            raw = f"coalesce({raw}, {float(i.default)})"
        raws.append(f'({raw})::float8 AS "{i.key}"')
        points.append(f'coalesce({int(i.weight)} * {i.transform.sql(f"v.{_q(i.key)}")}, 0) AS "p_{i.key}"')
    score_terms = " + ".join(f'p."p_{i.key}"' for i in indicators) or "0"
    json_parts = []
    for start in range(0, len(indicators), _JSON_CHUNK):
        pairs = ", ".join(
            f"'{i.key}', jsonb_build_array(round(p.{_q(i.key)}::numeric, 2), round(p.{_q('p_' + i.key)}::numeric, 1))"
            for i in indicators[start : start + _JSON_CHUNK]
        )
        json_parts.append(f"jsonb_build_object({pairs})")
    contributions = " || ".join(json_parts) or "'{}'::jsonb"
    return f"""
WITH v AS (
  SELECT c.id AS consumer_id, {", ".join(raws)}
  FROM crm_consumer c
  {joins}
  WHERE c.id >= %(lo)s AND c.id < %(hi)s
), p AS (
  SELECT v.*, {", ".join(points)} FROM v
), s AS (
  SELECT p.consumer_id,
         GREATEST(0, LEAST(1000, round({BASE_SCORE} + {score_terms})))::int AS score,
         {contributions} AS contributions
  FROM p
)
INSERT INTO crm_creditrating (consumer_id, score, tier_id, contributions, computed_at)
SELECT s.consumer_id, s.score, {tier_case}, s.contributions, %(now)s FROM s
ON CONFLICT (consumer_id) DO UPDATE
SET score = EXCLUDED.score, tier_id = EXCLUDED.tier_id, contributions = EXCLUDED.contributions,
    computed_at = EXCLUDED.computed_at
-- An unchanged rating is not rewritten: most consumers change little from one night to the next,
-- and skipping them saves most of the table and WAL writes.
WHERE crm_creditrating.contributions IS DISTINCT FROM EXCLUDED.contributions
   OR crm_creditrating.tier_id IS DISTINCT FROM EXCLUDED.tier_id
"""


def _q(name: str) -> str:
    return f'"{name}"'
