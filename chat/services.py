"""The consumer's side of a live chat, one function each. Frames go out only after commit (``groups.send_frame``).

The flow (docs/ARCHITECTURE.md, *Live chat*): a consumer's socket starts or resumes their one live chat
(``start_chat``) → the bot greets and may open with a proactive message → each consumer message is
stored, then the bot answers or hands off (``consumer_message``) → the chat waits in its department's
queue with a position (``conversation.announce_queue``) → exactly one agent accepts it and the agents' side
takes over (``chat.desk``). The consumer may confirm or cancel what the bot proposed, ask for a person,
ask the platform to step in (a shop's chat) or end the conversation.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chat import bot, choices
from chat.conversation import (
    ChatError,
    agent_available,
    announce_queue,
    chat_department,
    end_chat,
    is_staffed,
    message_frame,
    say,
    state_frame,
    to_staff,
)
from chat.groups import agent_group, consumer_group, send_frame
from chat.models import ChatSession
from core.prepared import Prepared
from crm.models import Consumer, Order
from merchants.models import Merchant
from tickets import clocks, refunds, services
from tickets.models import RefundRequest, Ticket, TicketEvent

log = logging.getLogger(__name__)
State, Handoff, Author = ChatSession.State, ChatSession.Handoff, TicketEvent.Author
LIVE = (State.BOT, State.WAITING, State.ACTIVE)
SUMMARY_QUOTES = 3
TITLE_WORDS = 60  # characters of the consumer's first message in their chat's ticket subject


_LIVE = Prepared(
    lambda consumer_id: (
        ChatSession.objects.filter(consumer_id=consumer_id, state__in=LIVE)
        .select_related("ticket")
        .select_for_update(of=("self",))[:1]
    ),
    consumer_id=-1_000_000_007,
)
# A new chat's consumer with their tier (the greeting names it), compiled once as well.
_CONSUMER = Prepared(
    lambda consumer_id: Consumer.objects.select_related("tier").filter(pk=consumer_id), consumer_id=-1_000_000_007
)


def _live(consumer_id: int) -> ChatSession | None:
    """The consumer's live chat with its ticket, the chat locked until the transaction ends: the hot path of every
    consumer message, one statement (the one-live-chat constraint makes it the only row), compiled once
    (``core.prepared``: compiling it cost three times the CPU its fetching does)."""
    found = _LIVE(consumer_id=consumer_id)
    return found[0] if found else None


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
    found = _CONSUMER(consumer_id=consumer_id)
    if not found:
        raise Consumer.DoesNotExist(consumer_id)
    consumer = found[0]
    with translation.override(language):
        ticket = services.open_ticket(
            consumer, subject=str(_("Live chat")), department=chat_department(), channel=Ticket.Channel.CHAT,
            author_kind=Author.SYSTEM, now=now, route=False, merchant_id=shop_id,
        )  # fmt: skip
        chat = ChatSession.objects.create(
            ticket=ticket, consumer=consumer, language=language, created_at=now, last_activity_at=now,
            priority_routing=bool(consumer.tier and consumer.tier.priority_routing), shop_id=shop_id,
        )  # fmt: skip
        say(chat, bot.greeting(consumer), Author.BOT, now, intent="greeting")
        opening = bot.proactive(consumer, language, now, shop_id)
        if opening is not None:
            rule, text = opening
            say(chat, text, Author.BOT, now, intent="proactive", rule=rule.pk)
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
    if not chat.summary.get("quotes"):  # their first words name the conversation in the queue
        _title(chat, event.body)
    frame = message_frame(chat, event)
    send_frame(consumer_group(consumer_id), frame)
    to_staff(chat, frame)
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
                say(chat, reply.text, Author.BOT, now, intent=reply.intent, suggestions=reply.suggestions,
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


def _title(chat: ChatSession, first_words: str) -> None:
    """The chat's ticket titled by what the consumer first said ("Live chat: …"), not "Live chat" for every one."""
    words = " ".join(first_words.split())
    if len(words) > TITLE_WORDS:
        words = words[: TITLE_WORDS - 1] + "…"
    with translation.override(chat.language):
        subject = _("Live chat: %(first_words)s") % {"first_words": words}
    Ticket.objects.filter(pk=chat.ticket_id).update(subject=subject)
    chat.ticket.subject = subject


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
    to_staff(chat, frame)


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
        say(chat, reply.text, Author.BOT, now, intent=reply.intent, **reply.data)
    return decided


@transaction.atomic
def cancel_proposal(consumer_id: int, proposal_id: str, *, now: datetime | None = None) -> ChatSession:
    """The consumer cancelled the bot's pending proposal: nothing is filed."""
    now = now or timezone.now()
    chat, _proposal = _open_proposal(consumer_id, proposal_id)
    with translation.override(chat.language):
        _consumer_chose(chat, str(_("Cancel")), now)
        say(chat, _("All right, nothing was refunded. Is there anything else I can help with?"), Author.BOT, now,
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
        say(chat, _("Of course, I am bringing in an agent for you."), Author.BOT, now, intent="handoff")
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
        say(chat, _("You asked the platform to step in (平台介入): a platform agent will take this chat over."),
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
            say(chat, _("Nobody of the shop is available now: a platform agent will help you."), Author.SYSTEM,
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
        say(chat, text, Author.SYSTEM, now, code="callback" if chat.callback else "queued")
    send_frame(consumer_group(chat.consumer_id), state_frame(chat))
    announce_queue(new=chat.pk)


@transaction.atomic
def end_chat_by_consumer(consumer_id: int, *, now: datetime | None = None) -> ChatSession | None:
    """The consumer closed the conversation."""
    now = now or timezone.now()
    chat = _live(consumer_id)
    if chat is None:
        return None
    end_chat(chat, None, now, _("The consumer ended the chat."))
    return chat
