"""What both sides of a live chat share: the refusal (``ChatError``), who is on duty, whose desk a chat is on,
the frames, and the few writes both sides make the same way — a message said to both sides (``say``), the
queue announced (``announce_queue``), the conversation ended (``end_chat``).

The consumer's side is ``chat.services``, the agents' side ``chat.desk``; both import this module, never
each other. Frames go out only after commit (``groups.send_frame``).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chat.groups import AGENTS, agent_group, consumer_group, send_frame, staff_group
from chat.models import ChatSession
from core.prepared import Prepared
from core.roles import MERCHANT_STAFF
from core.tenancy import is_merchant_staff, merchant_id_of
from core.users import Actor
from tickets import services, sla
from tickets.models import AgentProfile, Department, Ticket, TicketEvent

State, Author = ChatSession.State, TicketEvent.Author


class ChatError(ValidationError):
    """A refused chat action; ``code`` is the protocol's error code (docs/chat-protocol.md)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.error_code = code


# --- reading --------------------------------------------------------------------------------------


def is_staffed(now: datetime) -> bool:
    """Inside the staffed hours (SUPPORT_HOURS on SUPPORT_WEEKDAYS): agents are on duty."""
    hours = sla.business_hours()
    local = timezone.localtime(now, hours.tz).date()
    for day in (local - timedelta(days=1), local):  # a window may have opened the day before (until 24:00)
        window = hours.window(day)
        if window is not None and window[0] <= now < window[1]:
            return True
    return False


AVAILABILITY_IS_NOW = timedelta(minutes=1)


def agents_on_duty(now: datetime) -> bool:
    """Someone can take a chat now: inside the staffed hours, or outside them an agent who said they are
    available (a late shift). Only what the consumer is told of a person depends on this, never the bot."""
    return is_staffed(now) or agent_available(now)


def agent_available(now: datetime, shop_id: int | None = None) -> bool:
    """Any active agent (not merchant staff) has switched themselves to available in the console; with
    ``shop_id``, any of that shop's own staff who may use the console.

    Availability is a fact about the present, kept without history: a chat played at an earlier time
    (the demo's night) is answered by the hours alone."""
    if now < timezone.now() - AVAILABILITY_IS_NOW:
        return False
    available = AgentProfile.objects.filter(available=True, user__is_active=True, user__is_staff=True)
    if shop_id is None:
        return available.exclude(user__groups__name=MERCHANT_STAFF).exists()
    return available.filter(user__merchant_membership__merchant_id=shop_id, user__groups__name=MERCHANT_STAFF).exists()


def desk_of(user: Actor) -> Q:
    """The chats whose queue this user works: a shop's staff their shop's own (not escalated), everyone else
    the platform's (its own chats and the shops' escalated ones)."""
    if is_merchant_staff(user):
        return Q(shop_id=merchant_id_of(user), shop__isnull=False, escalated_at__isnull=True)
    return Q(shop__isnull=True) | Q(escalated_at__isnull=False)


def chat_department() -> Department:
    department, _created = Department.objects.get_or_create(
        code=settings.CHAT_DEPARTMENT, defaults={"name": str(_("Live chat"))}
    )
    return department


def author_name(event: TicketEvent) -> str:
    if event.author_kind == Author.AGENT and event.author is not None:
        return event.author.first_name or event.author.get_username()
    return ""


def message_frame(chat: ChatSession, event: TicketEvent, name: str = "") -> dict[str, Any]:
    data = {key: event.data[key] for key in ("suggestions", "intent", "code", "article", "proposal", "choices")
            if key in event.data}  # fmt: skip
    if "attachment" in event.data:  # an image (chat.attachments): where either side reads it
        data["attachment"] = {**event.data["attachment"], "url": reverse("api-chat-attachment", args=[event.pk])}
    return {
        "type": "message",
        "chat": chat.pk,
        "message": {
            "id": event.pk, "from": event.author_kind, "name": name, "text": event.body,
            "at": event.created_at.isoformat(), "data": data,
        },
    }  # fmt: skip


HISTORY = 200  # messages a history frame carries at most
_LATEST = Prepared(
    lambda consumer_id: ChatSession.objects.filter(consumer_id=consumer_id).order_by("-created_at", "-pk")[:1],
    consumer_id=-1_000_000_007,
)
_MESSAGES = Prepared(
    lambda ticket_id, after: (
        TicketEvent.objects.filter(ticket_id=ticket_id, kind=TicketEvent.Kind.MESSAGE, pk__gt=after)
        .select_related("author")
        .order_by("pk")[:HISTORY]
    ),
    ticket_id=-1_000_000_007,
    after=-1_000_000_011,
)


def visible_messages(consumer_id: int, after: int = 0) -> list[dict[str, Any]]:
    """The consumer's chat messages with an id above ``after`` (their live chat, else the latest one), oldest first,
    at most ``HISTORY``: what every socket's connect and history frame read, compiled once (``core.prepared``)."""
    latest = _LATEST(consumer_id=consumer_id)
    if not latest:
        return []
    chat = latest[0]
    return [message_frame(chat, e, author_name(e))["message"] for e in _MESSAGES(ticket_id=chat.ticket_id, after=after)]


# --- what both sides write ------------------------------------------------------------------------


def say(chat: ChatSession, text: str, author_kind: str, now: datetime, **data: Any) -> TicketEvent:
    """Store a bot or system message on the chat's timeline and publish it (after commit) to both sides."""
    event = TicketEvent.objects.create(
        ticket_id=chat.ticket_id, kind=TicketEvent.Kind.MESSAGE, author_kind=author_kind, body=text,
        data={k: v for k, v in data.items() if v not in (None, [], {})}, created_at=now,
    )  # fmt: skip
    frame = message_frame(chat, event)
    send_frame(consumer_group(chat.consumer_id), frame)
    to_staff(chat, frame)
    return event


def to_staff(chat: ChatSession, frame: dict[str, Any]) -> None:
    # Consoles follow a chat from its handoff on (they load its history then): while the bot talks alone,
    # nobody is in the staff group, and an empty group's send would still cost a Redis round trip per message.
    if chat.state != State.BOT:
        send_frame(staff_group(chat.pk), frame)


def state_frame(chat: ChatSession, agent_name: str = "") -> dict[str, Any]:
    return {"type": "state", "chat": chat.pk, "state": chat.state, "agent": agent_name, "callback": chat.callback}


def announce_queue(new: int | None = None) -> None:
    """After commit: every waiting consumer learns their place in their department's queue; consoles refresh."""

    def send() -> None:
        waiting = ChatSession.objects.filter(state=State.WAITING).order_by("-queue_rank", "queued_at", "pk")
        places: dict[int, int] = {}
        rows = list(waiting.values_list("pk", "consumer_id", "ticket__department_id", "callback"))
        totals: dict[int, int] = {}
        for _pk, _consumer, department, _callback in rows:
            totals[department] = totals.get(department, 0) + 1
        for pk, consumer, department, callback in rows:
            places[department] = places.get(department, 0) + 1
            send_frame(consumer_group(consumer), {"type": "queue", "chat": pk, "position": places[department],
                                               "waiting": totals[department], "callback": callback})  # fmt: skip
        send_frame(AGENTS, {"type": "queue.changed", "new": new, "at": time.time()}, handler="chat.queue_changed")

    transaction.on_commit(send)


def end_chat(chat: ChatSession, by: Actor | None, now: datetime, note: str) -> None:
    was_waiting = chat.state == State.WAITING
    chat.state = State.ENDED
    chat.ended_at = chat.last_activity_at = now
    chat.save(update_fields=["state", "ended_at", "last_activity_at"])
    ticket = chat.ticket
    if ticket.is_open:
        services.transition_ticket(ticket, Ticket.Status.RESOLVED, by=by, now=now, note=str(note))
    with translation.override(chat.language):
        say(chat, _("This conversation has ended. Send a message any time to start a new one."), Author.SYSTEM,
             now, code="ended")  # fmt: skip
    frame = state_frame(chat)
    send_frame(consumer_group(chat.consumer_id), frame)
    # The satisfaction survey (chat.satisfaction takes the answer; docs/chat-protocol.md).
    send_frame(consumer_group(chat.consumer_id), {"type": "survey", "chat": chat.pk, "ticket": chat.ticket_id})
    send_frame(staff_group(chat.pk), frame)
    if chat.agent_id:
        send_frame(agent_group(chat.agent_id), {"type": "chat.closed", "chat": chat.pk}, handler="chat.unfollow")
    if was_waiting:
        announce_queue()
