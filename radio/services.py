"""Every state change of the radio: nominating, screening, subscribing, the morning build, answering items.

Recording a digest's audio is its own family, ``radio.audio``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.queue import enqueue
from core.realtime import role_group, send_event, user_group
from core.roles import SUPERVISOR
from core.text import mask_pii
from core.users import Actor
from qa.models import Severity
from radio import selectors
from radio.models import Channel, Digest, DigestItem, Nomination, Placement, Reply, Subscription, default_headline
from radio.sources import Source

TEXT_MAX = 2000  # longest quote, note, reason or reply, in characters
HEADLINE_MAX = 200
# pg_advisory_xact_lock key of the morning build ("radi"): runs never overlap, whatever the worker.
BUILD_LOCK = 0x72616469
# Each built digest is read aloud by this task, queued by name after the commit (core.queue).
RENDER_AUDIO_TASK = "radio.tasks.render_digest_audio"

Status = Nomination.Status


def _text(value: str, field: str, *, required: bool, limit: int = TEXT_MAX) -> str:
    # NUL characters cannot be stored in PostgreSQL text: drop them rather than fail.
    text = (value or "").replace("\x00", "").strip()
    if required and not text:
        raise ValidationError({field: _("This field is required.")})
    if len(text) > limit:
        raise ValidationError(
            {field: _("At most %(limit)s characters (this has %(n)s).") % {"limit": limit, "n": len(text)}}
        )
    return mask_pii(text)


def _locked(nomination: Nomination) -> Nomination:
    # NO KEY UPDATE: the foreign-key checks of the morning build's digest items (KEY SHARE on their
    # nominations, at its commit) do not wait for a curator's lock, nor the curator for them.
    return Nomination.objects.select_for_update(no_key=True).get(pk=nomination.pk)


def _hold_off_build() -> None:
    """Keep the morning build out until this transaction ends (it waits for a running one to commit first).

    Rejecting and merging take a nomination's placements away, and the build claims placements without
    touching the nomination: without this, a check could pass while a build is claiming them and the
    item would go on air for a rejected nomination (or the two transactions would deadlock). Shared, so
    curators do not wait for each other.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [BUILD_LOCK])


# --- nominating ----------------------------------------------------------------------------------


def nominate(
    source: Source,
    *,
    by: Actor,
    quote: str,
    note: str = "",
    channel: Channel | None = None,
    severity: int | None = None,
    now: datetime | None = None,
) -> tuple[Nomination, bool]:
    """Put a case forward for the radio. One nomination per source: a second call returns the first one.

    The quote and note are stored PII-masked. Returns ``(nomination, created)``.
    """
    quote = _text(quote, "quote", required=True)
    note = _text(note, "note", required=False)
    if channel is not None and not channel.active:
        raise ValidationError({"channel": _("The channel “%(name)s” is not active.") % {"name": channel.name}})
    severity = source.severity if severity is None else severity
    if severity not in Severity.values:
        raise ValidationError({"severity": _("Choose a severity from 1 (low) to 4 (critical).")})
    with transaction.atomic():
        # get_or_create catches the unique constraint's IntegrityError of a concurrent twin and returns its row.
        nomination, created = Nomination.objects.get_or_create(
            source_kind=source.kind,
            source_id=source.id,
            defaults={
                "ticket": source.ticket,
                "department": source.department,
                # The shop the case is about goes with it: screened, it reaches that shop's staff too.
                "merchant_id": source.ticket.merchant_id if source.ticket is not None else None,
                "quote": quote,
                "note": note,
                "suggested_channel": channel,
                "severity": severity,
                "nominated_by": by,
                "nominated_at": now or timezone.now(),
            },
        )
        if created:
            send_event(role_group(SUPERVISOR), "radio.nominated", {"nomination": nomination.pk})
    return nomination, created


# --- screening (curators) ------------------------------------------------------------------------


@transaction.atomic
def approve_nomination(
    nomination: Nomination,
    channels: Iterable[Channel],
    *,
    by: Actor,
    headline: str | None = None,
    now: datetime | None = None,
) -> Nomination:
    """Approve a nomination into one or more channels; each channel's next digest takes it.

    Approving an approved nomination into more channels adds them; a channel it is in already is kept.
    """
    now = now or timezone.now()
    nomination = _locked(nomination)
    channels = list(channels)
    if not channels:
        raise ValidationError({"channels": _("Choose at least one channel.")})
    if inactive := [c.name for c in channels if not c.active]:
        raise ValidationError({"channels": _("Not active: %(names)s.") % {"names": ", ".join(inactive)}})
    if nomination.status not in (Status.PENDING, Status.APPROVED):
        was = nomination.get_status_display()
        raise ValidationError({"status": _("A nomination that is “%(status)s” cannot be approved.") % {"status": was}})
    if headline is not None:
        nomination.headline = _text(headline, "headline", required=False, limit=HEADLINE_MAX)
    nomination.status = Status.APPROVED
    nomination.screened_by, nomination.screened_at = by, now
    nomination.save(update_fields=["headline", "status", "screened_by", "screened_at"])
    Placement.objects.bulk_create(
        [Placement(nomination=nomination, channel=c, approved_at=now, approved_by=by) for c in channels],
        ignore_conflicts=True,
    )
    _tell_agent(nomination, "radio.approved")
    return nomination


@transaction.atomic
def reject_nomination(nomination: Nomination, reason: str, *, by: Actor, now: datetime | None = None) -> Nomination:
    """Turn a nomination down with a reason the nominating agent reads. Not once a digest has carried it."""
    reason = _text(reason, "reason", required=True)
    _hold_off_build()
    nomination = _locked(nomination)
    if nomination.status not in (Status.PENDING, Status.APPROVED):
        was = nomination.get_status_display()
        raise ValidationError({"status": _("A nomination that is “%(status)s” cannot be rejected.") % {"status": was}})
    if nomination.placements.filter(digest__isnull=False).exists():
        raise ValidationError({"status": _("This nomination was on the radio already; it cannot be rejected now.")})
    nomination.placements.all().delete()
    nomination.status = Status.REJECTED
    nomination.rejection_reason = reason
    nomination.screened_by, nomination.screened_at = by, now or timezone.now()
    nomination.save(update_fields=["status", "rejection_reason", "screened_by", "screened_at"])
    _tell_agent(nomination, "radio.rejected")
    return nomination


@transaction.atomic
def edit_headline(nomination: Nomination, headline: str, *, by: Actor) -> Nomination:
    """A curator's headline for the digest (blank: the start of the quote)."""
    nomination = _locked(nomination)
    nomination.headline = _text(headline, "headline", required=False, limit=HEADLINE_MAX)
    nomination.save(update_fields=["headline"])
    return nomination


@transaction.atomic
def merge_nominations(
    primary: Nomination, duplicates: Sequence[Nomination], *, by: Actor, now: datetime | None = None
) -> Nomination:
    """Merge duplicates into ``primary``: it counts their customers, and they leave the queue as "merged".

    A duplicate already carried by a digest cannot be merged (its item is frozen); nominations merged
    into a duplicate before move to the primary, so every count stays in one place.
    """
    now = now or timezone.now()
    ids = sorted({primary.pk, *(d.pk for d in duplicates)})
    if len(ids) < 2:
        raise ValidationError({"nominations": _("Choose at least two nominations to merge.")})
    _hold_off_build()
    # Locked in id order, so two curators merging overlapping sets cannot deadlock.
    rows = {n.pk: n for n in Nomination.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")}
    primary = rows.pop(primary.pk)
    if primary.status not in (Status.PENDING, Status.APPROVED):
        raise ValidationError({"primary": _("Merge into a nomination that is waiting or approved.")})
    for duplicate in rows.values():
        if duplicate.status not in (Status.PENDING, Status.APPROVED):
            raise ValidationError(
                {"nominations": _("Nomination #%(id)s is “%(status)s” and cannot be merged.")
                 % {"id": duplicate.pk, "status": duplicate.get_status_display()}}
            )  # fmt: skip
    if Placement.objects.filter(nomination_id__in=list(rows), digest__isnull=False).exists():
        raise ValidationError({"nominations": _("A nomination that was on the radio already cannot be merged.")})
    primary.customers += sum(d.customers for d in rows.values())
    primary.save(update_fields=["customers"])
    Placement.objects.filter(nomination_id__in=list(rows)).delete()
    Nomination.objects.filter(merged_into_id__in=list(rows)).update(merged_into=primary)
    Nomination.objects.filter(pk__in=list(rows)).update(
        status=Status.MERGED, merged_into=primary, screened_by=by, screened_at=now
    )
    for duplicate in rows.values():
        _tell_agent(duplicate, "radio.merged")
    return primary


def _tell_agent(nomination: Nomination, event: str) -> None:
    if nomination.nominated_by_id:
        send_event(user_group(nomination.nominated_by_id), event, {"nomination": nomination.pk})


# --- subscriptions -------------------------------------------------------------------------------


def subscribe(user: Actor, channel: Channel) -> bool:
    """Follow a channel; True when the subscription is new. A shop's channel is its staff's: nobody follows it."""
    if channel.merchant_id is not None:
        raise ValidationError({"channel": _("A shop's channel is read by its staff; it cannot be followed.")})
    if not channel.active:
        raise ValidationError({"channel": _("The channel “%(name)s” is not active.") % {"name": channel.name}})
    _subscription, created = Subscription.objects.get_or_create(user=user, channel=channel)
    return created


def unsubscribe(user: Actor, channel: Channel) -> bool:
    deleted, _rows = Subscription.objects.filter(user=user, channel=channel).delete()
    return deleted > 0


# --- business teams close the loop ---------------------------------------------------------------


def _check_respond(user: Actor, item: DigestItem) -> None:
    if not selectors.can_respond(user, item.digest.channel_id):
        raise PermissionDenied


def acknowledge_item(item: DigestItem, *, by: Actor, now: datetime | None = None) -> bool:
    """The business team has read this item. Only the first acknowledgement counts; True when it is this one."""
    _check_respond(by, item)
    with transaction.atomic():
        claimed = DigestItem.objects.filter(pk=item.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now or timezone.now(), acknowledged_by=by
        )
        if claimed:
            _tell_nominator(item, "radio.acknowledged")
    return bool(claimed)


@transaction.atomic
def reply_to_item(item: DigestItem, body: str, *, by: Actor, now: datetime | None = None) -> Reply:
    """A business team's answer to an item; the nominating agent reads it. A reply acknowledges the item too."""
    _check_respond(by, item)
    now = now or timezone.now()
    body = _text(body, "body", required=True)
    reply = Reply.objects.create(item=item, author=by, body=body, created_at=now)
    DigestItem.objects.filter(pk=item.pk, acknowledged_at__isnull=True).update(acknowledged_at=now, acknowledged_by=by)
    _tell_nominator(item, "radio.reply")
    return reply


def _tell_nominator(item: DigestItem, event: str) -> None:
    agent_id = Nomination.objects.filter(pk=item.nomination_id).values_list("nominated_by_id", flat=True).first()
    if agent_id:
        send_event(user_group(agent_id), event, {"nomination": item.nomination_id, "item": item.pk})


# --- the morning build ---------------------------------------------------------------------------


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


def requeue_audio(digests: Iterable[Digest]) -> int:
    """Record the audio again (after espeak-ng was installed, say); returns how many were queued."""
    ids = [d.pk for d in digests if d.items_count]
    Digest.objects.filter(pk__in=ids).update(audio_status=Digest.Audio.PENDING, audio_error="")
    for digest_id in ids:
        enqueue(RENDER_AUDIO_TASK, digest_id)
    return len(ids)
