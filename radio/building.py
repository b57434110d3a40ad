"""The morning build: every active channel's digest of the day, set-based, in one transaction.

Screening what goes on air is ``radio.services``; recording each built digest is ``radio.audio``."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.queue import enqueue
from radio.models import Digest, Nomination, default_headline

# pg_advisory_xact_lock key of the morning build ("radi"): runs never overlap, whatever the worker.
BUILD_LOCK = 0x72616469
# Each built digest is read aloud by this task, queued by name after the commit (core.queue).
RENDER_AUDIO_TASK = "radio.tasks.render_digest_audio"


def digest_cutoff(day: date) -> datetime:
    """The configured digest time (RADIO_DIGEST_TIME) of ``day``, in the configured time zone."""
    hour, minute = (int(part) for part in settings.RADIO_DIGEST_TIME.split(":"))
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def build_digests(day: date | None = None, *, now: datetime | None = None) -> list[int]:
    """Build every active channel's digest for ``day`` from what was approved since its previous digest.

    Set-based: seven SQL statements for all channels (six writes, and one read of the nominations without a
    headline), in one transaction (a crash leaves nothing). The
    advisory lock serialises concurrent runs, and a day already built is left alone (``ON CONFLICT`` on
    (channel, day) behind it): one digest per channel per day, however often and however many workers run it;
    what was approved since goes on air the next day, a shop's voices too. A department's channel with nothing
    new gets an empty digest (the page says "nothing today").

    The daily merchant digest is the same build: a screened nomination about a shop (``Nomination.merchant``)
    is placed, as it goes on air, on that shop's own channel too (made the first time), and a shop's channel
    gets a digest only on a day it has items, without the agent's note (that is for the platform's teams).
    Returns the new digests' ids.
    """
    now = now or timezone.now()
    day = day or timezone.localdate(now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BUILD_LOCK])
        if Digest.objects.filter(day=day).exists():
            return []  # built already today: what was approved since goes on air tomorrow, shops' items too
        _place_on_shop_channels(cursor, now)
        cursor.execute(
            """
            INSERT INTO radio_digest (channel_id, day, built_at, covers_until, items_count, customers, figures,
                                      audio, audio_status, audio_error)
            SELECT c.id, %(day)s, %(now)s, %(now)s, 0, 0, '{}'::jsonb, '', 'none', ''
            FROM radio_channel c
            WHERE c.active AND (c.merchant_id IS NULL OR EXISTS (
                SELECT 1 FROM radio_placement p
                WHERE p.channel_id = c.id AND p.digest_id IS NULL AND p.approved_at <= %(now)s))
            ON CONFLICT (channel_id, day) DO NOTHING
            RETURNING id
            """,
            {"day": day, "now": now},
        )
        created = [row[0] for row in cursor.fetchall()]
        if not created:
            return []
        # Claim each channel's waiting approvals for its new digest.
        cursor.execute(
            """
            UPDATE radio_placement p SET digest_id = d.id
            FROM radio_digest d
            WHERE d.id = ANY(%(ids)s) AND p.channel_id = d.channel_id AND p.digest_id IS NULL
              AND p.approved_at <= %(now)s
            """,
            {"ids": created, "now": now},
        )
        # A nomination without a headline goes on air under the start of its quote (models.default_headline).
        untitled = Nomination.objects.filter(placements__digest_id__in=created, headline="").distinct()
        fallback = {pk: default_headline(quote) for pk, quote in untitled.values_list("pk", "quote")}
        # Freeze the items, ordered by how many customers said it, then severity, then the newest first.
        cursor.execute(
            """
            INSERT INTO radio_digestitem (digest_id, nomination_id, position, headline, quote, note, customers,
                                          severity, source_kind, nominated_at)
            SELECT p.digest_id, n.id,
                   row_number() OVER (PARTITION BY p.digest_id
                                      ORDER BY n.customers DESC, n.severity DESC, n.nominated_at DESC, n.id DESC),
                   COALESCE(NULLIF(n.headline, ''), f.headline),
                   -- the agent's note is for the platform's teams: a shop's digest never carries it
                   n.quote, CASE WHEN c.merchant_id IS NULL THEN n.note ELSE '' END,
                   n.customers, n.severity, n.source_kind, n.nominated_at
            FROM radio_placement p JOIN radio_nomination n ON n.id = p.nomination_id
            JOIN radio_channel c ON c.id = p.channel_id
            LEFT JOIN unnest(%(untitled)s::bigint[], %(headlines)s::text[]) AS f(id, headline) ON f.id = n.id
            WHERE p.digest_id = ANY(%(ids)s)
            """,
            {"ids": created, "untitled": list(fallback), "headlines": list(fallback.values())},
        )
        # Each digest's frozen figures.
        cursor.execute(
            """
            UPDATE radio_digest d
            SET items_count = s.items, customers = s.customers, audio_status = 'pending',
                figures = jsonb_build_object('severity', s.by_severity, 'sources', s.by_source, 'severe', s.severe)
            FROM (
                SELECT i.digest_id, count(*) AS items, sum(i.customers) AS customers,
                       count(*) FILTER (WHERE i.severity >= 3) AS severe,
                       (SELECT jsonb_object_agg(severity, n) FROM (
                            SELECT severity, count(*) AS n FROM radio_digestitem
                            WHERE digest_id = i.digest_id GROUP BY severity) x) AS by_severity,
                       (SELECT jsonb_object_agg(source_kind, n) FROM (
                            SELECT source_kind, count(*) AS n FROM radio_digestitem
                            WHERE digest_id = i.digest_id GROUP BY source_kind) y) AS by_source
                FROM radio_digestitem i WHERE i.digest_id = ANY(%(ids)s) GROUP BY i.digest_id
            ) s
            WHERE d.id = s.digest_id
            """,
            {"ids": created},
        )
        with_items = list(Digest.objects.filter(pk__in=created, items_count__gt=0).values_list("pk", flat=True))
        for digest_id in with_items:
            enqueue(RENDER_AUDIO_TASK, digest_id)
    return created


def _place_on_shop_channels(cursor: Any, now: datetime) -> None:
    """The build's first two statements: each shop with a screened nomination waiting to go on air gets its
    channel (once: ``radio_channel_one_per_shop``), and each such nomination a placement on it, approved when
    the curator first approved it. A nomination already on its shop's channel is not placed again."""
    cursor.execute(
        """
        INSERT INTO radio_channel (department_id, merchant_id, code, name, description, active, created_at)
        SELECT NULL, m.id, 'shop-' || m.id, left(m.name, 100), '', true, %(now)s
        FROM merchants_merchant m
        WHERE m.id IN (SELECT n.merchant_id
                       FROM radio_placement p JOIN radio_nomination n ON n.id = p.nomination_id
                       WHERE p.digest_id IS NULL AND p.approved_at <= %(now)s AND n.merchant_id IS NOT NULL)
        ON CONFLICT (merchant_id) DO NOTHING
        """,
        {"now": now},
    )
    cursor.execute(
        """
        INSERT INTO radio_placement (nomination_id, channel_id, approved_at, approved_by_id, digest_id)
        SELECT DISTINCT ON (n.id) n.id, c.id, p.approved_at, p.approved_by_id, NULL
        FROM radio_placement p JOIN radio_nomination n ON n.id = p.nomination_id
        JOIN radio_channel c ON c.merchant_id = n.merchant_id AND c.active
        WHERE p.digest_id IS NULL AND p.approved_at <= %(now)s AND p.channel_id <> c.id
        ORDER BY n.id, p.approved_at
        ON CONFLICT (nomination_id, channel_id) DO NOTHING
        """,
        {"now": now},
    )
