"""The agents' side of a live chat, one function each: accept a waiting chat, reply, transfer, resolve, refund
in the chat; and the sweeper (beat, every 15 s) that sends unanswered chats back to the queue and ends idle
ones. Frames go out only after commit (``groups.send_frame``).

A chat accepted and left unanswered goes back to the queue (``requeue_unanswered``); a chat left with the bot
alone is resolved when idle (``end_idle_chats``). The consumer's side is ``chat.services``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chat import bot
from chat.conversation import ChatError, announce_queue, desk_of, end_chat, message_frame, say, state_frame
from chat.groups import agent_group, consumer_group, send_frame, staff_group
from chat.models import ChatSession
from chat.selectors import may_use_console
from core.prepared import Prepared
from core.tenancy import is_merchant_staff, merchant_id_of, scope
from core.users import Actor
from crm.models import Order
from tickets import refunds, services
from tickets.models import AgentProfile, Department, RefundRequest, TicketEvent

State, Handoff, Author = ChatSession.State, ChatSession.Handoff, TicketEvent.Author


_FOR_UPDATE = Prepared(
    lambda chat_id: (
        ChatSession.objects.select_for_update(of=("self",))
        .select_related("ticket", "consumer__tier", "agent")
        .filter(pk=chat_id)
    ),
    chat_id=-1_000_000_007,
)


def _chat_for_update(chat_id: int) -> ChatSession:
    """The chat, locked, with its ticket, consumer and agent: every agent action's first read, compiled once
    (``core.prepared``)."""
    found = _FOR_UPDATE(chat_id=chat_id)
    if not found:
        raise ChatError("not_found", _("There is no such chat."))
    return found[0]


def _free_slots(agent: Actor) -> tuple[AgentProfile, int]:
    """Lock the agent's profile (so their own concurrent accepts queue up) and count their free chat slots."""
    profile, _created = AgentProfile.objects.get_or_create(user=agent)
    profile = AgentProfile.objects.select_for_update().get(pk=profile.pk)
    active = ChatSession.objects.filter(agent=agent, state=State.ACTIVE).count()
    return profile, profile.chat_capacity - active


@transaction.atomic
def accept_chat(chat_id: int, agent: Actor, *, now: datetime | None = None) -> ChatSession:
    """Take a waiting chat. Exactly one agent wins however many try at once: the claim is a conditional
    update of the waiting row, and "0 rows" means someone else got it."""
    now = now or timezone.now()
    # The claim first: losing a race (the common case when many click) costs one statement.
    claimed = ChatSession.objects.filter(desk_of(agent), pk=chat_id, state=State.WAITING).update(
        state=State.ACTIVE, agent=agent, accepted_at=now, answered_at=None, last_activity_at=now
    )
    if not claimed:
        # Only on the losing path: no cost to winners. Another desk's chat is as absent as a made-up one.
        if not scope(ChatSession.objects.filter(pk=chat_id), agent).exists():
            raise ChatError("not_found", _("There is no such chat."))
        raise ChatError("taken", _("Another agent has already taken this chat, or it is no longer waiting."))
    _profile, free = _free_slots(agent)  # counts the chat just claimed; over capacity rolls the claim back
    if free < 0:
        raise ChatError("at_capacity", _("You have as many chats as your capacity allows."))
    chat = _chat_for_update(chat_id)
    services.assign_ticket(chat.ticket, agent, by=agent, now=now)
    name = agent.first_name or agent.get_username()
    with translation.override(chat.language):
        say(chat, _("Agent %(name)s is here to help you.") % {"name": name}, Author.SYSTEM, now, code="joined")
    send_frame(consumer_group(chat.consumer_id), state_frame(chat, name))
    send_frame(agent_group(agent.pk), {"type": "chat.follow", "chat": chat.pk}, handler="chat.follow")
    announce_queue()
    return chat


def _own_active(chat_id: int, agent: Actor) -> ChatSession:
    chat = _chat_for_update(chat_id)
    if chat.state != State.ACTIVE or chat.agent_id != agent.pk:
        raise ChatError("not_yours", _("This chat is not yours to act on."))
    return chat


@transaction.atomic
def agent_message(chat_id: int, agent: Actor, text: str, *, internal: bool = False,
                  now: datetime | None = None) -> TicketEvent:  # fmt: skip
    """An agent's reply (or internal note) in a chat they hold; the first reply stops the requeue timer."""
    now = now or timezone.now()
    chat = _own_active(chat_id, agent)
    event = services.add_message(chat.ticket, body=text, author_kind=Author.AGENT, author=agent, internal=internal,
                                 now=now)  # fmt: skip
    frame = message_frame(chat, event, agent.first_name or agent.get_username())
    if internal:
        frame["message"]["internal"] = True
    else:
        send_frame(consumer_group(chat.consumer_id), frame)
        if chat.answered_at is None:
            chat.answered_at = now
    send_frame(staff_group(chat.pk), frame)
    chat.last_activity_at = now
    chat.save(update_fields=["answered_at", "last_activity_at"])
    return event


@transaction.atomic
def transfer_chat(chat_id: int, agent: Actor, *, to_agent: Actor | None = None, to_department: Department | None = None,
                  now: datetime | None = None) -> ChatSession:  # fmt: skip
    """Hand a chat to another available agent with a free slot, or back to another department's queue."""
    now = now or timezone.now()
    if (to_agent is None) == (to_department is None):
        raise ChatError("bad_target", _("Transfer to one agent or one department."))
    chat = _own_active(chat_id, agent)
    with translation.override(chat.language):
        if to_agent is not None:
            if to_agent.pk == agent.pk:
                raise ChatError("bad_target", _("You already hold this chat."))
            profile, free = _free_slots(to_agent)
            # The same desk only: a shop's agent to a colleague of the shop, a platform agent to a platform agent.
            same_desk = merchant_id_of(to_agent) == merchant_id_of(agent) if is_merchant_staff(agent) else True
            if (not profile.available or not may_use_console(to_agent) or not same_desk
                    or is_merchant_staff(to_agent) != is_merchant_staff(agent)):  # fmt: skip
                raise ChatError("unavailable", _("%(name)s is not available for chats.") % {"name": to_agent})
            if free <= 0:
                raise ChatError("at_capacity", _("%(name)s has no free chat slot.") % {"name": to_agent})
            chat.agent = to_agent
            chat.accepted_at, chat.answered_at, chat.last_activity_at = now, None, now
            chat.save(update_fields=["agent", "accepted_at", "answered_at", "last_activity_at"])
            services.assign_ticket(chat.ticket, to_agent, by=agent, now=now)
            name = to_agent.first_name or to_agent.get_username()
            say(chat, _("You are now talking to agent %(name)s.") % {"name": name}, Author.SYSTEM, now,
                 code="transferred")  # fmt: skip
            send_frame(consumer_group(chat.consumer_id), state_frame(chat, name))
            send_frame(agent_group(to_agent.pk), {"type": "chat.follow", "chat": chat.pk}, handler="chat.follow")
        else:
            assert to_department is not None
            if is_merchant_staff(agent):  # a shop's chat reaches the platform only by the consumer's escalation
                raise ChatError("bad_target", _("A shop's chat goes to the platform only when the consumer escalates."))
            services.transfer_ticket(chat.ticket, to_department, by=agent, now=now)
            chat.state, chat.agent = State.WAITING, None
            chat.accepted_at = chat.answered_at = None
            chat.handoff_reason, chat.last_activity_at = Handoff.TRANSFERRED, now
            # It keeps its original time in the queue: a transferred consumer does not start again at the back.
            chat.save(update_fields=["state", "agent", "accepted_at", "answered_at", "handoff_reason",
                                     "last_activity_at"])  # fmt: skip
            say(chat, _("You are being transferred to %(department)s; please wait a moment.")
                 % {"department": to_department.name}, Author.SYSTEM, now, code="transferred")  # fmt: skip
            send_frame(consumer_group(chat.consumer_id), state_frame(chat))
            announce_queue(new=chat.pk)
    send_frame(agent_group(agent.pk), {"type": "chat.closed", "chat": chat.pk}, handler="chat.unfollow")
    return chat


@transaction.atomic
def resolve_chat(chat_id: int, agent: Actor, *, now: datetime | None = None) -> ChatSession:
    """The agent resolves the chat: the conversation ends and its ticket is resolved."""
    now = now or timezone.now()
    chat = _own_active(chat_id, agent)
    end_chat(chat, agent, now, "")
    return chat


@transaction.atomic
def refund_in_chat(chat_id: int, agent: Actor, order_no: str, amount: Any, *, key: str,
                   now: datetime | None = None) -> RefundRequest:  # fmt: skip
    """Refund one of the consumer's orders from the chat, through the instant-refund policy; the consumer is told."""
    now = now or timezone.now()
    chat = _own_active(chat_id, agent)
    if not agent.has_perm("tickets.add_refundrequest"):
        raise ChatError("forbidden", _("You may not refund orders."))
    order = Order.objects.filter(consumer_id=chat.consumer_id, order_no=str(order_no)).first()
    if order is None:
        raise ChatError("bad_order", _("This consumer has no order %(order)s.") % {"order": order_no})
    # A retry (same key) answers with the first decision and tells the consumer nothing twice; the chat's row
    # lock, held until commit, orders the retries of one chat.
    retried = refunds.used_key(key, requested_by=agent) is not None
    request = refunds.request_refund(order, amount, str(_("Refunded in live chat")), key=key, requested_by=agent,
                                     ticket=chat.ticket, now=now)  # fmt: skip
    if retried:
        return request
    with translation.override(chat.language):
        text = bot.refund_said(request, order.order_no)
        say(chat, text, Author.SYSTEM, now, code="refund")
    return request


# --- the sweeper (beat, every 15 s) ---------------------------------------------------------------


def requeue_unanswered(now: datetime | None = None) -> int:
    """Chats accepted but not answered within CHAT_ACCEPT_TIMEOUT seconds go back to the queue, in their old place."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CHAT_ACCEPT_TIMEOUT)
    ids = list(
        ChatSession.objects.filter(state=State.ACTIVE, answered_at=None, accepted_at__lte=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    done = 0
    for chat_id in ids:
        with transaction.atomic():
            chat = _chat_for_update(chat_id)
            if chat.state != State.ACTIVE or chat.answered_at is not None or chat.accepted_at is None:
                continue
            if chat.accepted_at > cutoff:
                continue
            agent_id = chat.agent_id
            chat.state, chat.agent, chat.accepted_at = State.WAITING, None, None
            chat.handoff_reason, chat.last_activity_at = Handoff.REQUEUED, now
            chat.save(update_fields=["state", "agent", "accepted_at", "handoff_reason", "last_activity_at"])
            services.assign_ticket(chat.ticket, None, now=now)
            with translation.override(chat.language):
                say(chat, _("Sorry for the wait: you are back in the queue and the next free agent will answer."),
                     Author.SYSTEM, now, code="requeued")  # fmt: skip
            send_frame(consumer_group(chat.consumer_id), state_frame(chat))
            if agent_id:
                send_frame(agent_group(agent_id), {"type": "chat.closed", "chat": chat.pk, "reason": "timeout"},
                        handler="chat.unfollow")  # fmt: skip
            announce_queue(new=chat.pk)
            done += 1
    return done


def end_idle_chats(now: datetime | None = None) -> int:
    """Chats with the bot alone and silent for CHAT_IDLE_MINUTES are resolved (they stay on the timeline)."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.CHAT_IDLE_MINUTES)
    ids = list(
        ChatSession.objects.filter(state=State.BOT, last_activity_at__lte=cutoff).values_list("pk", flat=True)[:500]
    )
    done = 0
    for chat_id in ids:
        with transaction.atomic():
            chat = _chat_for_update(chat_id)
            if chat.state == State.BOT and chat.last_activity_at <= cutoff:
                end_chat(chat, None, now, _("The chat ended after the consumer was idle."))
                done += 1
    return done
