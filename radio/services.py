"""Every state change of the radio: nominating, screening, subscribing, answering items, re-recording audio.

The morning build of the digests is its own family, ``radio.building``; recording a digest's audio is
``radio.audio``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

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
from radio.building import BUILD_LOCK, RENDER_AUDIO_TASK
from radio.models import Channel, Digest, DigestItem, Nomination, Placement, Reply, Subscription
from radio.sources import Source

TEXT_MAX = 2000  # longest quote, note, reason or reply, in characters
HEADLINE_MAX = 200

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


def requeue_audio(digests: Iterable[Digest]) -> int:
    """Record the audio again (after espeak-ng was installed, say); returns how many were queued."""
    ids = [d.pk for d in digests if d.items_count]
    Digest.objects.filter(pk__in=ids).update(audio_status=Digest.Audio.PENDING, audio_error="")
    for digest_id in ids:
        enqueue(RENDER_AUDIO_TASK, digest_id)
    return len(ids)
