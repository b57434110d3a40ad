"""Read queries of the radio: who may read which channel, and what the digest page shows (a fixed number of queries)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Prefetch, Q, QuerySet, prefetch_related_objects

from core.users import Actor
from qa.models import Severity
from radio.models import Channel, Digest, DigestItem, Reply, SourceKind

TREND_DAYS = 14


def reads_every_channel(user: Actor) -> bool:
    """Curators and supervisors (and superusers) read every channel's digest."""
    return bool(user.is_active and user.has_perm("radio.read_all_channels"))


def may_use_radio(user: Actor) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_perm("radio.view_digest"))


def readable_channels(user: Actor) -> QuerySet[Channel]:
    """The channels whose digests this user may read: their subscriptions, or every channel for curators."""
    if not may_use_radio(user):
        return Channel.objects.none()
    if reads_every_channel(user):
        return Channel.objects.all()
    return Channel.objects.filter(subscriptions__user=user)


def can_read_channel(user: Actor, channel_id: int) -> bool:
    if not may_use_radio(user):
        return False
    return reads_every_channel(user) or Channel.objects.filter(pk=channel_id, subscriptions__user=user).exists()


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
    channels = readable_channels(user).select_related("department")
    if channel is not None:
        channels = channels.filter(pk=channel.pk)
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
