"""Read queries of the radio: who may read which channel, and what the digest page shows (a fixed number of queries)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Prefetch, Q, QuerySet, prefetch_related_objects
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _

from core.tenancy import is_merchant_staff, merchant_id_of, scope
from core.text import mask_pii
from core.users import Actor
from merchants.models import Merchant
from qa.models import Severity
from radio.models import Channel, Digest, DigestItem, Reply, SourceKind

TREND_DAYS = 14


def reads_every_channel(user: Actor) -> bool:
    """Curators and supervisors (and superusers) read every channel's digest."""
    return bool(user.is_active and user.has_perm("radio.read_all_channels"))


def may_use_radio(user: Actor) -> bool:
    """Business users, curators, and a shop's staff (their shop's digest); merchant staff of no shop are not."""
    if is_merchant_staff(user) and merchant_id_of(user) is None:
        return False
    return bool(user.is_authenticated and user.is_active and user.has_perm("radio.view_digest"))


def shop_of(user: Actor) -> Merchant | None:
    """The shop whose staff this user is (None for the platform's people): they read that shop's channel only."""
    merchant_id = merchant_id_of(user) if is_merchant_staff(user) else None
    return None if merchant_id is None else Merchant.objects.filter(pk=merchant_id).first()


def readable_channels(user: Actor) -> QuerySet[Channel]:
    """The channels whose digests this user's page shows: their subscriptions, every department's channel for
    curators, their own shop's channel for a shop's staff (core.tenancy: nothing else, subscribed or not).

    Curators open a shop's channel by its page (``can_read_channel``); the shops' channels do not crowd theirs.
    """
    if not may_use_radio(user):
        return Channel.objects.none()
    if is_merchant_staff(user):
        return scope(Channel.objects.filter(merchant__isnull=False), user)
    if reads_every_channel(user):
        return Channel.objects.filter(merchant__isnull=True)
    return Channel.objects.filter(subscriptions__user=user)


def can_read_channel(user: Actor, channel_id: int) -> bool:
    if not may_use_radio(user):
        return False
    if is_merchant_staff(user):
        return readable_channels(user).filter(pk=channel_id).exists()
    return reads_every_channel(user) or Channel.objects.filter(pk=channel_id, subscriptions__user=user).exists()


def department_channels() -> QuerySet[Channel]:
    """The departments' active channels: what business users follow and curators place nominations in (a shop's
    channel is its staff's, filled by the morning build)."""
    return Channel.objects.filter(active=True, merchant__isnull=True)


def listed_channels(user: Actor) -> QuerySet[Channel]:
    """The channels page: a shop's staff see their shop's channel only, everyone else the channels to follow."""
    return readable_channels(user) if is_merchant_staff(user) else department_channels()


def can_respond(user: Actor, channel_id: int) -> bool:
    return bool(user.has_perm("radio.respond_digestitem")) and can_read_channel(user, channel_id)


@dataclass
class ChannelDigest:
    """One channel's block on the page: its digest of the day (or None), the items shown, the trend."""

    channel: Channel
    subscribed: bool
    digest: Digest | None = None
    items: list[DigestItem] = field(default_factory=list)
    acknowledged: int = 0
    trend: list[tuple[date, int, int]] = field(default_factory=list)  # (day, items, customers)
    chart: str = ""  # the trend drawn, set by the page

    @property
    def severity_rows(self) -> list[tuple[Any, int, int]]:
        """(label, items, level) of the digest's high and critical items, most severe first."""
        severity = self.digest.figures.get("severity", {}) if self.digest else {}
        return [
            (label, severity[str(level)], level)
            for level, label in reversed(Severity.choices)
            if severity.get(str(level)) and level >= Severity.HIGH
        ]

    @property
    def source_rows(self) -> list[tuple[Any, int]]:
        """(label, items) of each kind of source the digest's items came from."""
        sources = self.digest.figures.get("sources", {}) if self.digest else {}
        return [(label, sources[kind]) for kind, label in SourceKind.choices if sources.get(kind)]


def page(user: Actor, day: date, *, items_per_channel: int, channel: Channel | None = None) -> list[ChannelDigest]:
    """The digest page for one day: the user's channels, subscribed ones first, each with its top items.

    Six queries whatever the number of channels and items: channels with the user's subscriptions,
    digests of the day, their top items, the replies to those items, acknowledgement counts, and the
    14-day trend.
    """
    # One channel's page: the caller checked can_read_channel (a curator opens a shop's channel this way).
    channels = readable_channels(user) if channel is None else Channel.objects.filter(pk=channel.pk)
    channels = channels.select_related("department")
    channels = channels.annotate(mine=Count("subscriptions", filter=Q(subscriptions__user=user)))
    blocks = [ChannelDigest(channel=c, subscribed=bool(c.mine)) for c in channels]
    if not blocks:
        return []
    by_channel = {b.channel.pk: b for b in blocks}
    digests = Digest.objects.filter(channel_id__in=list(by_channel), day=day)
    for digest in digests:
        by_channel[digest.channel_id].digest = digest
    # Subscribed channels first, then (for curators) the rest; the busiest morning first inside each group.
    blocks.sort(key=lambda b: (not b.subscribed, -(b.digest.customers if b.digest else -1), b.channel.name))
    by_digest = {b.digest.pk: b for b in blocks if b.digest is not None}
    if by_digest:
        items = DigestItem.objects.filter(digest_id__in=list(by_digest), position__lte=items_per_channel)
        items = items.select_related("acknowledged_by").order_by("digest_id", "position")
        shown = list(items)
        for item in shown:
            by_digest[item.digest_id].items.append(item)
        attach_replies(shown)
        acknowledged = (
            DigestItem.objects.filter(digest_id__in=list(by_digest), acknowledged_at__isnull=False)
            .values("digest_id")
            .annotate(n=Count("id"))
        )
        for row in acknowledged:
            by_digest[row["digest_id"]].acknowledged = row["n"]
    first = day - timedelta(days=TREND_DAYS - 1)
    history: dict[int, dict[date, tuple[int, int]]] = defaultdict(dict)
    for channel_id, d, n, customers in Digest.objects.filter(
        channel_id__in=list(by_channel), day__range=(first, day)
    ).values_list("channel_id", "day", "items_count", "customers"):
        history[channel_id][d] = (n, customers)
    for block in blocks:
        days = history[block.channel.pk]
        block.trend = [(d, *days.get(d, (0, 0))) for d in (first + timedelta(days=i) for i in range(TREND_DAYS))]
    return blocks


def acknowledgement(item_id: int) -> dict[str, Any]:
    """An acknowledged item as its page shows it, for the page to update in place: who and when, and its
    digest's "a of n acknowledged" (two queries)."""
    item = DigestItem.objects.select_related("acknowledged_by", "digest").get(pk=item_id)
    who = item.acknowledged_by
    when = dateformat.format(timezone.localtime(item.acknowledged_at), "m-d H:i") if item.acknowledged_at else ""
    done = DigestItem.objects.filter(digest_id=item.digest_id, acknowledged_at__isnull=False).count()
    return {
        "label": _("Acknowledged by %(who)s · %(when)s")
        % {"who": (who.first_name or who.get_username()) if who else _("someone"), "when": when},
        "count_label": _("%(a)s of %(n)s acknowledged") % {"a": done, "n": item.digest.items_count},
        "acknowledged_count": done,
    }


def reply_shown(reply_id: int) -> dict[str, Any]:
    """A reply as the digest page shows it under its item, for the page to add it in place: who, when, and the text
    with personal numbers masked (one query)."""
    reply = Reply.objects.select_related("author").get(pk=reply_id)
    who = reply.author
    return {
        "author": (who.first_name or who.get_username()) if who else _("someone"),
        "at": dateformat.format(timezone.localtime(reply.created_at), "m-d H:i"),
        "body": mask_pii(reply.body),
        "sent_label": _("Reply sent: the agent who nominated it will see it."),
    }


def items_page(block: ChannelDigest, number: str | None, *, per_page: int) -> Page[DigestItem] | None:
    """Page ``number`` of the block's digest's items, put in ``block.items`` with their replies (None: no digest)."""
    if block.digest is None:
        return None
    items = DigestItem.objects.filter(digest=block.digest).select_related("acknowledged_by").order_by("position")
    page_obj = Paginator(items, per_page).get_page(number)
    block.items = list(page_obj.object_list)
    attach_replies(block.items)
    return page_obj


def attach_replies(items: list[DigestItem]) -> None:
    """Give each item its replies, oldest first, as ``item.reply_list`` (Django's prefetch into an attribute: one
    query, none for no items)."""
    replies = Reply.objects.select_related("author").order_by("created_at")
    prefetch_related_objects(items, Prefetch("replies", queryset=replies, to_attr="reply_list"))


def archive_days(user: Actor, *, limit: int = 30) -> list[date]:
    """The latest days that have a digest in one of the user's channels, newest first (one query)."""
    channel_ids = readable_channels(user).values("pk")
    days = Digest.objects.filter(channel_id__in=channel_ids).values_list("day", flat=True).distinct()
    return list(days.order_by("-day")[:limit])
