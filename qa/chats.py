"""Chats are QA'd like calls: a chat ticket's timeline becomes a transcript, refreshed as it grows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from django.contrib.auth import get_user_model
from django.db.models import F, Max, OuterRef, Q, Subquery

from core.users import Actor
from qa import loading
from qa.loading import NewTranscript
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
    saved = 0
    for chat in _timelines(ticket_ids):
        save_transcript(
            kind=Transcript.Kind.CHAT,
            source=Transcript.Source.CHAT,
            segments=chat.segments,
            started_at=chat.started_at,
            agent=chat.agent,
            consumer=chat.ticket.consumer,
            ticket=chat.ticket,
            department=chat.ticket.department,
            language="zh",
            through_event=chat.through_event,
        )
        saved += 1
    return saved


def add_chats(ticket_ids: list[int]) -> int:
    """collect_chats for chats that have no transcript yet, all at once (COPY; the demo's). Returns how many."""
    new = (
        NewTranscript(
            kind=Transcript.Kind.CHAT,
            source=Transcript.Source.CHAT,
            started_at=chat.started_at,
            segments=chat.segments,
            agent_id=chat.agent.pk if chat.agent is not None else None,
            consumer_id=chat.ticket.consumer_id,
            ticket_id=chat.ticket.pk,
            department_id=chat.ticket.department_id,
            through_event=chat.through_event,
        )
        for chat in _timelines(ticket_ids)
    )
    return len(loading.add_transcripts(new))


@dataclass(frozen=True)
class _Chat:
    ticket: Ticket
    agent: Actor | None
    segments: list[SegmentIn]
    started_at: datetime
    through_event: int


def _timelines(ticket_ids: list[int]) -> Iterator[_Chat]:
    """Each chat's messages as segments, with the agent QA holds to account."""
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
        yield _Chat(ticket, agent, segments, first_at, rows[-1][1])
