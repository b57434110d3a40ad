"""Chats are QA'd like calls: a chat ticket's timeline becomes a transcript, refreshed as it grows."""

from __future__ import annotations

from itertools import groupby

from django.contrib.auth import get_user_model
from django.db.models import F, Max, OuterRef, Q, Subquery

from qa.models import Speaker, Transcript
from qa.segments import SegmentIn
from qa.services import save_transcript
from tickets.models import Ticket, TicketEvent

SPEAKERS: dict[str, str] = {
    TicketEvent.Author.CONSUMER: Speaker.CONSUMER,
    TicketEvent.Author.AGENT: Speaker.AGENT,
    TicketEvent.Author.BOT: Speaker.BOT,
}


def stale_chat_ids(limit: int = 1000) -> list[int]:
    """Chat tickets with messages their transcript does not cover yet (or with no transcript)."""
    covered = Transcript.objects.filter(kind=Transcript.Kind.CHAT, ticket=OuterRef("pk")).values("through_event")
    return list(
        Ticket.objects.filter(channel=Ticket.Channel.CHAT)
        .annotate(
            last_message=Max("events__id", filter=Q(events__kind=TicketEvent.Kind.MESSAGE)),
            covered=Subquery(covered[:1]),
        )
        .filter(last_message__isnull=False)
        .filter(Q(covered__isnull=True) | Q(last_message__gt=F("covered")))
        .order_by("last_message")
        .values_list("pk", flat=True)[:limit]
    )


def collect_chats(ticket_ids: list[int]) -> int:
    """Turn each chat's timeline into its transcript (replacing the older one). Returns how many were saved."""
    tickets = {
        t.pk: t for t in Ticket.objects.filter(pk__in=ticket_ids).select_related("department", "consumer", "assignee")
    }
    events = (
        TicketEvent.objects.filter(ticket_id__in=list(tickets), kind=TicketEvent.Kind.MESSAGE)
        .exclude(author_kind=TicketEvent.Author.SYSTEM)
        .order_by("ticket_id", "id")
        .values_list("ticket_id", "id", "author_kind", "author_id", "body", "created_at")
    )
    by_ticket = {
        ticket_id: [row for row in group if row[4].strip()] for ticket_id, group in groupby(events, lambda r: r[0])
    }
    # The agent QA holds to account: the assignee, else the last agent who wrote.
    writers = {row[3] for rows in by_ticket.values() for row in rows if row[2] == TicketEvent.Author.AGENT and row[3]}
    users = get_user_model().objects.in_bulk(list(writers))
    saved = 0
    for ticket_id, rows in by_ticket.items():
        if not rows:
            continue
        ticket = tickets[ticket_id]
        first_at = rows[0][5]
        agent = ticket.assignee or next(
            (users[row[3]] for row in reversed(rows) if row[2] == TicketEvent.Author.AGENT and row[3] in users), None
        )
        segments = [
            SegmentIn(
                speaker=SPEAKERS.get(row[2], Speaker.UNKNOWN.value),
                text=row[4],
                start_ms=int((row[5] - first_at).total_seconds() * 1000),
            )
            for row in rows
        ]
        save_transcript(
            kind=Transcript.Kind.CHAT,
            source=Transcript.Source.CHAT,
            segments=segments,
            started_at=first_at,
            agent=agent,
            consumer=ticket.consumer,
            ticket=ticket,
            department=ticket.department,
            language="zh",
            through_event=rows[-1][1],
        )
        saved += 1
    return saved
