"""Every change to a live chat, one function each. Frames go out only after commit (``groups.send_frame``).

The flow (docs/ARCHITECTURE.md, *Live chat*): a consumer's socket starts or resumes their one live chat
(``start_chat``) → the bot greets and may open with a proactive message → each consumer message is
stored, then the bot answers or hands off (``consumer_message``) → the chat waits in its department's
queue with a position (``announce_queue``) → exactly one agent accepts it (``accept_chat``, a
conditional update) → messages flow both ways (``agent_message``) → the agent transfers or resolves
it. A chat accepted and left unanswered goes back to the queue (``requeue_unanswered``); a chat left
with the bot alone is resolved when idle (``end_idle_chats``).
"""

from __future__ import annotations

import hmac
import logging
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chat import bot, choices
from chat.groups import AGENTS, agent_group, consumer_group, send_frame, staff_group
from chat.models import ChatSession
from core.roles import MERCHANT_STAFF
from core.tenancy import is_merchant_staff, merchant_id_of, scope
from core.users import Actor
from crm.models import Consumer, Order
from merchants.models import Merchant
from tickets import clocks, refunds, services, sla
from tickets.models import AgentProfile, Department, RefundRequest, Ticket, TicketEvent

log = logging.getLogger(__name__)
State, Handoff, Author = ChatSession.State, ChatSession.Handoff, TicketEvent.Author
LIVE = (State.BOT, State.WAITING, State.ACTIVE)
SUMMARY_QUOTES = 3


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


def desk_of(user: Any) -> Q:
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


def visible_messages(consumer_id: int, after: int = 0, limit: int = 200) -> list[dict[str, Any]]:
    """The consumer's chat messages with an id above ``after`` (their live chat, else the latest one), oldest first."""
    chat = ChatSession.objects.filter(consumer_id=consumer_id).order_by("-created_at", "-pk").first()
    if chat is None:
        return []
    events = (
        TicketEvent.objects.filter(ticket_id=chat.ticket_id, kind=TicketEvent.Kind.MESSAGE, pk__gt=after)
        .select_related("author")
        .order_by("pk")
    )
    rows = list(events[:limit])
    return [message_frame(chat, e, author_name(e))["message"] for e in rows]


# --- the consumer's side --------------------------------------------------------------------------


def _live(consumer_id: int) -> ChatSession | None:
    """The consumer's live chat with its ticket, the chat locked until the transaction ends: the hot path of every
    consumer message, one statement (the one-live-chat constraint makes it the only row). The ORM costs about a
    millisecond of CPU more than the same statement written out (measured: ~1.2 ms against ~0.3 ms)."""
    return (
        ChatSession.objects.filter(consumer_id=consumer_id, state__in=LIVE)
        .select_related("ticket")
        .select_for_update(of=("self",))
        .first()
    )


def _say(chat: ChatSession, text: str, author_kind: str, now: datetime, **data: Any) -> TicketEvent:
    """Store a bot or system message on the chat's timeline and publish it (after commit) to both sides."""
    event = TicketEvent.objects.create(
        ticket_id=chat.ticket_id, kind=TicketEvent.Kind.MESSAGE, author_kind=author_kind, body=text,
        data={k: v for k, v in data.items() if v not in (None, [], {})}, created_at=now,
    )  # fmt: skip
    frame = message_frame(chat, event)
    send_frame(consumer_group(chat.consumer_id), frame)
    _to_staff(chat, frame)
    return event


def _to_staff(chat: ChatSession, frame: dict[str, Any]) -> None:
    # Consoles follow a chat from its handoff on (they load its history then): while the bot talks alone,
    # nobody is in the staff group, and an empty group's send would still cost a Redis round trip per message.
    if chat.state != State.BOT:
        send_frame(staff_group(chat.pk), frame)


def start_chat(consumer_id: int, language: str, *, shop_id: int | None = None,
               now: datetime | None = None) -> tuple[ChatSession, bool]:  # fmt: skip
    """The consumer's live chat, started (ticket, greeting, proactive message) when they have none; ``shop_id``:
    with that shop (it must take chats). A consumer has one live chat: a socket for another shop while it
    lasts is refused (``other_chat``), never joined to the wrong shop's conversation."""
    now = now or timezone.now()
    if shop_id is not None and not Merchant.objects.filter(pk=shop_id, takes_chats=True).exists():
        raise ChatError("no_shop", _("This shop does not take chats."))
    try:
        with transaction.atomic():
            chat = _live(consumer_id)
            if chat is None:
                return _start(consumer_id, language, shop_id, now), True
    except IntegrityError:  # another socket of the same consumer started it a moment ago
        chat = ChatSession.objects.select_related("ticket").get(consumer_id=consumer_id, state__in=LIVE)
    if chat.shop_id != shop_id:
        raise ChatError("other_chat", _("You are in another chat; end it first."))
    return chat, False


def _start(consumer_id: int, language: str, shop_id: int | None, now: datetime) -> ChatSession:
    consumer = Consumer.objects.select_related("tier").get(pk=consumer_id)
    with translation.override(language):
        ticket = services.open_ticket(
            consumer, subject=str(_("Live chat")), department=chat_department(), channel=Ticket.Channel.CHAT,
            author_kind=Author.SYSTEM, now=now, route=False, merchant_id=shop_id,
        )  # fmt: skip
        chat = ChatSession.objects.create(
            ticket=ticket, consumer=consumer, language=language, created_at=now, last_activity_at=now,
            priority_routing=bool(consumer.tier and consumer.tier.priority_routing), shop_id=shop_id,
        )  # fmt: skip
        _say(chat, bot.greeting(consumer), Author.BOT, now, intent="greeting")
        opening = bot.proactive(consumer, language, now, shop_id)
        if opening is not None:
            rule, text = opening
            _say(chat, text, Author.BOT, now, intent="proactive", rule=rule.pk)
    chat.consumer = consumer
    return chat


@transaction.atomic
def consumer_message(consumer_id: int, language: str, text: str, *, shop_id: int | None = None,
                     now: datetime | None = None) -> TicketEvent:  # fmt: skip
    """Store what the consumer said, then let the bot answer or hand the chat to a person.

    A failure of the bot never loses the consumer's message: the bot's database work runs in savepoints of
    its own, its answer is stored only once it has one, and the chat is handed off: nobody is left talking to
    no one.
    """
    now = now or timezone.now()
    chat = _live(consumer_id)
    if chat is None:
        try:
            with transaction.atomic():  # a savepoint: another socket of the consumer may start it at the same time
                chat = _start(consumer_id, language, shop_id, now)
        except IntegrityError:  # it did, and has committed (the unique index waited for it): join that chat
            chat = _live(consumer_id)
            if chat is None:
                raise
    event = _consumer_says(chat, text, now)
    frame = message_frame(chat, event)
    send_frame(consumer_group(consumer_id), frame)
    _to_staff(chat, frame)
    fields = ["last_activity_at", "summary", "proposal"]
    chat.last_activity_at = now
    chat.proposal = {}  # a new message (another question, 取消 typed out) drops what was proposed: nothing is filed
    quotes = [*chat.summary.get("quotes", []), event.body[:200]][-SUMMARY_QUOTES:]
    chat.summary = {**chat.summary, "quotes": quotes}
    staffed = is_staffed(now)
    if chat.shop_id is not None and chat.escalated_at is None and bot.asks_platform(event.body):
        chat.save(update_fields=fields)
        _escalate(chat, now, staffed)
        return event
    if chat.state == State.BOT or (chat.state == State.WAITING and not staffed):
        queued = chat.state == State.WAITING
        if not queued and chat.priority_routing:
            _handoff(chat, Handoff.PRIORITY, now, staffed)
            fields = []
        else:
            try:
                # The bot's reads and the action it asks for run in savepoints, so a failure there leaves this
                # transaction usable for the handoff; the knowledge-base path touches no table at all.
                with translation.override(chat.language):
                    reply = bot.respond(chat, event.body, now=now, queued=queued, staffed=staffed)
                if reply.action is not None:  # proposed, not done: the consumer's confirm frame files it
                    chat.proposal = reply.action.stored()
            except Exception:
                log.exception("the bot failed on chat %s; handing off", chat.pk)
                _handoff(chat, Handoff.BOT_ERROR, now, staffed)
                fields = []
            else:
                # A miss keeps the question it missed (never sent out): the supervisors' missed-questions page.
                _say(chat, reply.text, Author.BOT, now, intent=reply.intent, suggestions=reply.suggestions,
                     question=event.body[:500] if reply.missed else None, **reply.data)  # fmt: skip
                intents = [*chat.summary.get("intents", []), reply.intent][-10:]
                kept = {key: value for key, value in chat.summary.items() if key != "offer"}  # one message only
                chat.summary = {**kept, "intents": intents, **({"offer": reply.offer} if reply.offer else {})}
                if reply.chosen is not None:  # a "猜你想问" tap: remembered, and learnt once consumers agree
                    choices.remember_choice(chat, *reply.chosen, now)
                if reply.data.get("orders") or reply.data.get("order"):
                    chat.summary["orders"] = reply.data.get("orders") or [reply.data["order"]]
                if reply.missed:
                    chat.bot_misses += 1
                elif not queued:
                    chat.bot_misses = 0
                fields.append("bot_misses")
                if reply.handoff:
                    _handoff(chat, reply.handoff, now, staffed)
                    fields = []
    if fields:
        chat.save(update_fields=fields)
    return event


def _open_proposal(consumer_id: int, proposal_id: str) -> tuple[ChatSession, dict[str, Any]]:
    """The consumer's live chat (locked) and its pending proposal, if ``proposal_id`` names it; refused otherwise
    (already confirmed or cancelled, replaced by a newer message, another chat's, or made up)."""
    chat = _live(consumer_id)
    proposal = chat.proposal if chat is not None else {}
    if chat is None or not proposal or not hmac.compare_digest(str(proposal.get("id", "")), proposal_id):
        raise ChatError("stale_proposal", _("This choice is no longer open; ask again if you still want it."))
    return chat, proposal


def _consumer_chose(chat: ChatSession, label: str, now: datetime) -> None:
    """The consumer's tap, on the timeline in their words: what they confirmed stays on record."""
    chat.proposal = {}
    chat.last_activity_at = now
    chat.save(update_fields=["proposal", "last_activity_at"])
    event = _consumer_says(chat, label, now)
    frame = message_frame(chat, event)
    send_frame(consumer_group(chat.consumer_id), frame)
    _to_staff(chat, frame)


@transaction.atomic
def confirm_proposal(consumer_id: int, proposal_id: str, *, now: datetime | None = None) -> RefundRequest:
    """The consumer confirmed the bot's pending refund proposal: file it through the instant-refund policy, under
    the proposal's idempotency key (the first decision stands however often it is asked), and say the outcome."""
    now = now or timezone.now()
    chat, proposal = _open_proposal(consumer_id, proposal_id)
    order = Order.objects.get(pk=proposal["order"], consumer_id=chat.consumer_id)
    with translation.override(chat.language):
        _consumer_chose(chat, str(_("Confirm")), now)
        decided = refunds.request_refund(order, Decimal(proposal["amount"]), str(_("Asked in live chat")),
                                         key=proposal["key"], ticket=chat.ticket, now=now)  # fmt: skip
        reply = bot.refund_reply(decided, order)
        _say(chat, reply.text, Author.BOT, now, intent=reply.intent, **reply.data)
    return decided


@transaction.atomic
def cancel_proposal(consumer_id: int, proposal_id: str, *, now: datetime | None = None) -> ChatSession:
    """The consumer cancelled the bot's pending proposal: nothing is filed."""
    now = now or timezone.now()
    chat, _proposal = _open_proposal(consumer_id, proposal_id)
    with translation.override(chat.language):
        _consumer_chose(chat, str(_("Cancel")), now)
        _say(chat, _("All right, nothing was refunded. Is there anything else I can help with?"), Author.BOT, now,
             intent="refund_cancelled")  # fmt: skip
    return chat


def _consumer_says(chat: ChatSession, text: str, now: datetime) -> TicketEvent:
    """The consumer's message on the timeline. The hot path: a chat's ticket is new or open while it is live, so
    the message needs one insert and one update (the chat's row lock orders its messages); any other status
    goes through ``add_message``, which reopens a ticket waiting on the consumer."""
    body = text.strip()
    if not body:
        raise ValidationError({"body": _("The message is empty.")})
    if chat.ticket.status not in (Ticket.Status.NEW, Ticket.Status.OPEN):
        return services.add_message(chat.ticket, body=body, author_kind=Author.CONSUMER, now=now)
    event = TicketEvent.objects.create(
        ticket_id=chat.ticket_id, kind=TicketEvent.Kind.MESSAGE, author_kind=Author.CONSUMER, body=body, created_at=now
    )
    if chat.state != State.BOT:  # in agents' hands: the desk sorts by activity (the handoff touches it too)
        Ticket.objects.filter(pk=chat.ticket_id).update(updated_at=now)
    return event


@transaction.atomic
def request_human(consumer_id: int, *, now: datetime | None = None) -> ChatSession | None:
    """The consumer pressed "talk to a person" (the same as typing 转人工)."""
    now = now or timezone.now()
    chat = _live(consumer_id)
    if chat is None or chat.state != State.BOT:
        return chat
    with translation.override(chat.language):
        _say(chat, _("Of course, I am bringing in an agent for you."), Author.BOT, now, intent="handoff")
    _handoff(chat, Handoff.ASKED, now, is_staffed(now))
    return chat


@transaction.atomic
def escalate_chat(consumer_id: int, *, now: datetime | None = None) -> ChatSession | None:
    """平台介入: the consumer of a shop's chat asks the platform to step in (the button; typing it does the same)."""
    now = now or timezone.now()
    chat = _live(consumer_id)
    if chat is None or chat.shop_id is None or chat.escalated_at is not None:
        return chat
    _escalate(chat, now, is_staffed(now))
    return chat


def _escalate(chat: ChatSession, now: datetime, staffed: bool) -> None:
    """The platform's agents take the shop's chat over (the caller holds its lock): recorded on the timeline,
    which both the shop and the platform read; a shop's agent holding it lets go, and it waits for the platform."""
    chat.escalated_at = now
    chat.save(update_fields=["escalated_at"])
    with translation.override(chat.language):
        _say(chat, _("You asked the platform to step in (平台介入): a platform agent will take this chat over."),
             Author.SYSTEM, now, code="escalated")  # fmt: skip
    if chat.state == State.ACTIVE and chat.agent_id is not None:
        send_frame(agent_group(chat.agent_id), {"type": "chat.unfollow", "chat": chat.pk, "reason": "escalated"},
                   handler="chat.unfollow")  # fmt: skip
        chat.agent, chat.accepted_at, chat.answered_at = None, None, None
        chat.save(update_fields=["agent", "accepted_at", "answered_at"])
    _handoff(chat, Handoff.ESCALATED, now, staffed)


def _handoff(chat: ChatSession, reason: str, now: datetime, staffed: bool) -> None:
    """Put the chat in its queue (the caller holds its lock) and tell everyone who needs to know: a shop's chat
    in its shop's queue while one of its staff is available, else (or once escalated) in the platform's."""
    if chat.shop_id is not None and chat.escalated_at is None and not agent_available(now, chat.shop_id):
        chat.escalated_at = now
        chat.save(update_fields=["escalated_at"])
        with translation.override(chat.language):
            _say(chat, _("Nobody of the shop is available now: a platform agent will help you."), Author.SYSTEM,
                 now, code="escalated")  # fmt: skip
    chat.state = State.WAITING
    chat.handoff_reason = reason
    chat.queued_at = now
    # Outside the hours an available agent still takes the chat: no callback is promised then. A shop's chat in
    # its shop's queue has an available shop agent (checked above).
    in_shop = chat.shop_id is not None and chat.escalated_at is None
    chat.callback = not (in_shop or staffed or agent_available(now))
    if chat.callback:
        chat.queue_rank = ChatSession.RANK_CALLBACK
    elif chat.priority_routing:
        chat.queue_rank = ChatSession.RANK_PRIORITY
    else:
        chat.queue_rank = ChatSession.RANK_NORMAL
    chat.last_activity_at = now
    chat.summary = {**chat.summary, "reason": reason, "misses": chat.bot_misses}
    chat.proposal = {}  # a person takes over: what the bot proposed is not confirmed any more
    chat.save(update_fields=["state", "handoff_reason", "queued_at", "callback", "queue_rank", "last_activity_at",
                             "summary", "bot_misses", "proposal"])  # fmt: skip
    ticket = Ticket.objects.select_for_update().get(pk=chat.ticket_id)
    clocks.start_clock(ticket, now)  # the agents' first-response clock starts at the handoff
    ticket.updated_at = now
    if reason == Handoff.ANGER and ticket.kind == Ticket.Kind.CONSULTATION:
        ticket.kind = Ticket.Kind.COMPLAINT
    ticket.save(update_fields=["sla_policy", "first_response_due", "resolution_due", "sla_state", "paused_at",
                               "updated_at", "kind"])  # fmt: skip
    with translation.override(chat.language):
        if chat.callback:
            text = _(
                "No agent is on duty now (agents are here %(hours)s). Your request is registered and an agent "
                "will call you back first thing; I will keep helping you meanwhile."
            ) % {"hours": settings.SUPPORT_HOURS}
        else:
            text = _("You are in the queue for an agent; I will tell you your place as it moves.")
        _say(chat, text, Author.SYSTEM, now, code="callback" if chat.callback else "queued")
    send_frame(consumer_group(chat.consumer_id), _state_frame(chat))
    announce_queue(new=chat.pk)


def _state_frame(chat: ChatSession, agent_name: str = "") -> dict[str, Any]:
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


@transaction.atomic
def end_chat_by_consumer(consumer_id: int, *, now: datetime | None = None) -> ChatSession | None:
    """The consumer closed the conversation."""
    now = now or timezone.now()
    chat = _live(consumer_id)
    if chat is None:
        return None
    _end(chat, None, now, _("The consumer ended the chat."))
    return chat


def _end(chat: ChatSession, by: Actor | None, now: datetime, note: str) -> None:
    was_waiting = chat.state == State.WAITING
    chat.state = State.ENDED
    chat.ended_at = chat.last_activity_at = now
    chat.save(update_fields=["state", "ended_at", "last_activity_at"])
    ticket = chat.ticket
    if ticket.is_open:
        services.transition_ticket(ticket, Ticket.Status.RESOLVED, by=by, now=now, note=str(note))
    with translation.override(chat.language):
        _say(chat, _("This conversation has ended. Send a message any time to start a new one."), Author.SYSTEM,
             now, code="ended")  # fmt: skip
    frame = _state_frame(chat)
    send_frame(consumer_group(chat.consumer_id), frame)
    # The satisfaction survey (chat.satisfaction takes the answer; docs/chat-protocol.md).
    send_frame(consumer_group(chat.consumer_id), {"type": "survey", "chat": chat.pk, "ticket": chat.ticket_id})
    send_frame(staff_group(chat.pk), frame)
    if chat.agent_id:
        send_frame(agent_group(chat.agent_id), {"type": "chat.closed", "chat": chat.pk}, handler="chat.unfollow")
    if was_waiting:
        announce_queue()


# --- the agents' side -----------------------------------------------------------------------------


def _chat_for_update(chat_id: int) -> ChatSession:
    chat = (
        ChatSession.objects.select_for_update(of=("self",))
        .select_related("ticket", "consumer__tier", "agent")
        .filter(pk=chat_id)
        .first()
    )
    if chat is None:
        raise ChatError("not_found", _("There is no such chat."))
    return chat


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
        _say(chat, _("Agent %(name)s is here to help you.") % {"name": name}, Author.SYSTEM, now, code="joined")
    send_frame(consumer_group(chat.consumer_id), _state_frame(chat, name))
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
            if (not profile.available or not to_agent.has_perm("chat.use_chat_console") or not same_desk
                    or is_merchant_staff(to_agent) != is_merchant_staff(agent)):  # fmt: skip
                raise ChatError("unavailable", _("%(name)s is not available for chats.") % {"name": to_agent})
            if free <= 0:
                raise ChatError("at_capacity", _("%(name)s has no free chat slot.") % {"name": to_agent})
            chat.agent = to_agent
            chat.accepted_at, chat.answered_at, chat.last_activity_at = now, None, now
            chat.save(update_fields=["agent", "accepted_at", "answered_at", "last_activity_at"])
            services.assign_ticket(chat.ticket, to_agent, by=agent, now=now)
            name = to_agent.first_name or to_agent.get_username()
            _say(chat, _("You are now talking to agent %(name)s.") % {"name": name}, Author.SYSTEM, now,
                 code="transferred")  # fmt: skip
            send_frame(consumer_group(chat.consumer_id), _state_frame(chat, name))
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
            _say(chat, _("You are being transferred to %(department)s; please wait a moment.")
                 % {"department": to_department.name}, Author.SYSTEM, now, code="transferred")  # fmt: skip
            send_frame(consumer_group(chat.consumer_id), _state_frame(chat))
            announce_queue(new=chat.pk)
    send_frame(agent_group(agent.pk), {"type": "chat.closed", "chat": chat.pk}, handler="chat.unfollow")
    return chat


@transaction.atomic
def resolve_chat(chat_id: int, agent: Actor, *, now: datetime | None = None) -> ChatSession:
    """The agent resolves the chat: the conversation ends and its ticket is resolved."""
    now = now or timezone.now()
    chat = _own_active(chat_id, agent)
    _end(chat, agent, now, "")
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
        _say(chat, text, Author.SYSTEM, now, code="refund")
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
                _say(chat, _("Sorry for the wait: you are back in the queue and the next free agent will answer."),
                     Author.SYSTEM, now, code="requeued")  # fmt: skip
            send_frame(consumer_group(chat.consumer_id), _state_frame(chat))
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
                _end(chat, None, now, _("The chat ended after the consumer was idle."))
                done += 1
    return done
