"""The bot (小蜜): greets, opens with a proactive message, answers from the knowledge base, and acts on
a few service intents with real data (where is my order, refund it, talk to a person).

It decides; it stores nothing. An action that moves money (a refund) it only *proposes*: its ``Reply`` asks
"为订单 X 申请退款 ¥Y？" with 确认 / 取消 choices and carries a ``ProposeRefund``, which ``chat.services``
stores on the chat; only the consumer's confirm frame naming that proposal files the refund
(``services.confirm_proposal``). The services also store what the bot says and hand off when told.
Every text is in the chat's language (the caller wraps calls in ``translation.override``).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils.translation import gettext as _

from chat import knowledge
from chat.analysis import normalised_question
from chat.models import ChatSession, ProactiveRule
from chat.understanding import Kind
from core.prepared import Prepared
from crm.models import Consumer, Order
from tickets import refunds
from tickets.models import RefundRequest

Handoff = ChatSession.Handoff

GREETING = ("你好", "您好", "在吗", "在不在", "哈喽")
GREETING_EN = ("hi", "hello", "hey")
THANKS = ("谢谢", "多谢", "感谢", "好的", "没问题了")
THANKS_EN = ("thanks", "thank you", "ok", "great")

ORDER_NO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{5,31}")
REFUNDABLE = (Order.Status.PAID, Order.Status.SHIPPED, Order.Status.DELIVERED, Order.Status.COMPLETED)
RECENT_ORDERS = 5
PLACEHOLDER = re.compile(r"\{(\w+)\}")
MAX_QUESTION = 200


@dataclass(frozen=True)
class ProposeRefund:
    """A refund the bot proposes: ``amount`` of the consumer's ``order`` under the idempotency ``key``, filed only
    when the consumer confirms the proposal ``id``."""

    order: Order
    amount: Decimal
    key: str
    id: str

    def stored(self) -> dict[str, Any]:
        """The proposal as the chat keeps it (``ChatSession.proposal``)."""
        return {"id": self.id, "kind": "refund", "order": self.order.pk, "order_no": self.order.order_no,
                "amount": str(self.amount), "key": self.key}  # fmt: skip


@dataclass
class Reply:
    """What the bot says, and what it decided: the intent, whether it missed, whether a person should take over,
    and an action for the services to carry out (then the reply's words come from its outcome)."""

    text: str
    intent: str
    missed: bool = False
    handoff: str = ""
    suggestions: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    action: ProposeRefund | None = None
    offer: dict[str, Any] | None = None  # "猜你想问" offered: kept on the chat until the next message
    chosen: tuple[str, int] | None = None  # a tap on an offered title: (the question it answered, the article)


def _has(text: str, zh: tuple[str, ...], en: tuple[str, ...]) -> bool:
    if any(word in text for word in zh):
        return True
    return any(re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) for word in en)


def greeting(consumer: Consumer) -> str:
    """The bot's hello, the same day and night: the night notice and the callback promise come only with a
    handoff (``services._handoff``); at night the bot must answer, not announce that nobody is there."""
    tier = consumer.tier
    if tier is not None and tier.priority_routing:
        hello = _("Dear %(tier)s member %(name)s, hello! I am the service assistant.") % {
            "tier": tier.name, "name": consumer.display_name}  # fmt: skip
    else:
        hello = _("Hello %(name)s, I am the service assistant.") % {"name": consumer.display_name}
    return (
        hello
        + " "
        + _("Ask me about your orders, refunds and anything else; type “human” at any time to talk to an agent.")
    )


def _rules(language: str, shop_id: int | None) -> models.QuerySet[ProactiveRule]:
    platform = models.Q(shop__isnull=True)
    shops = platform if shop_id is None else platform | models.Q(shop_id=shop_id)
    return ProactiveRule.objects.filter(shops, active=True, language=language)


# What every chat's start reads, compiled once (core.prepared): the rules of its language (and shop), the orders.
_PLATFORM_RULES = Prepared(lambda language: _rules(language, None), language="<language>")
_RULES = Prepared(_rules, language="<language>", shop_id=-1_000_000_007)
_IN_REVIEW = Prepared(
    lambda consumer_id: (
        RefundRequest.objects.filter(consumer_id=consumer_id, decision=RefundRequest.Decision.MANUAL)
        .select_related("order")
        .order_by("-created_at")[:1]
    ),
    consumer_id=-1_000_000_007,
)
_LATEST_ORDERS = Prepared(
    lambda consumer_id: Order.objects.filter(consumer_id=consumer_id).order_by("-placed_at")[:10],
    consumer_id=-1_000_000_007,
)


def proactive(
    consumer: Consumer, language: str, now: datetime, shop_id: int | None = None
) -> tuple[ProactiveRule, str] | None:
    """The first active rule in ``language`` that matches the consumer's situation, with its message filled in:
    in a shop's chat the shop's rules first, then the platform's (never another shop's)."""
    found = _PLATFORM_RULES(language=language) if shop_id is None else _RULES(language=language, shop_id=shop_id)
    rules = sorted(found, key=lambda r: (r.shop_id is None, r.priority, r.pk))
    if not rules:
        return None
    orders = _LATEST_ORDERS(consumer_id=consumer.pk)
    pending: list[RefundRequest] | None = None
    for rule in rules:
        match: Order | None = None
        if rule.condition == ProactiveRule.Condition.LATE_DELIVERY:
            late = now - timedelta(days=rule.days)
            match = next((o for o in orders if o.status in (Order.Status.PAID, Order.Status.SHIPPED)
                          and o.placed_at <= late), None)  # fmt: skip
        elif rule.condition == ProactiveRule.Condition.RECENTLY_DELIVERED:
            since = now - timedelta(days=rule.days)
            match = next((o for o in orders if o.delivered_at and o.delivered_at >= since), None)
        elif rule.condition == ProactiveRule.Condition.OPEN_DISPUTE:
            match = next((o for o in orders if o.dispute == Order.Dispute.OPEN), None)
        elif rule.condition == ProactiveRule.Condition.REFUND_REVIEW:
            if pending is None:
                pending = _IN_REVIEW(consumer_id=consumer.pk)
            match = pending[0].order if pending else None
        if match is not None:
            values = {"consumer": consumer.display_name, "order": match.order_no, "item": match.item_title,
                      "amount": str(match.amount)}  # fmt: skip
            return rule, PLACEHOLDER.sub(lambda m, v=values: v.get(m[1], m[0]), rule.message)  # type: ignore[misc]
    return None


PLATFORM = ("平台介入", "平台处理", "投诉商家", "找平台")
PLATFORM_EN = ("platform step in", "platform intervene", "escalate to platform")


def asks_platform(text: str) -> bool:
    """The consumer of a shop's chat asks the platform to step in (维权: 平台介入)."""
    return _has(text.lower(), PLATFORM, PLATFORM_EN)


def respond(chat: ChatSession, text: str, *, now: datetime, queued: bool = False, staffed: bool = True) -> Reply:
    """The bot's answer to one consumer message. ``queued``: the consumer already waits for a person (at night)."""
    lowered = text.lower()
    offer = chat.summary.get("offer") or {}
    chosen = tapped(offer, text) if offer else None
    found = knowledge.article(chosen) if chosen is not None else None
    if found is not None:  # a tap on a "猜你想问" title: that article answers, a hit (chat.choices remembers it)
        return Reply(found.body, "article", data={"article": found.id, "confidence": 1.0, "chosen": True},
                     chosen=(str(offer.get("question", "")), found.id))  # fmt: skip
    # Intents act only on what the consumer explicitly asked for (chat.intents); a question about
    # refunds or parcels goes to the knowledge base, and a refund request is only proposed (see the docstring).
    seen = knowledge.understand(text, chat.language, chat.shop_id)
    if seen.kind == Kind.ANGER:
        sorry = _("I am sorry for the trouble. Let me bring in an agent to sort this out for you.")
        return _to_person(Handoff.ANGER, queued, staffed, sorry)
    if seen.kind == Kind.HANDOFF:
        return _to_person(Handoff.ASKED, queued, staffed, _("Of course, I am bringing in an agent for you."))
    if seen.kind == Kind.REFUND:
        with transaction.atomic():  # a savepoint: a failure here must not poison the caller's transaction
            return _refund(chat, text)
    if seen.kind == Kind.ORDER_STATUS:
        with transaction.atomic():
            return _orders(chat, text)
    if seen.kind == Kind.ANSWER:
        best = seen.candidates[0]
        return Reply(best.article.body, "article", data={"article": best.article.id, "confidence": best.coverage})
    if seen.kind == Kind.OFFER:  # 猜你想问: a tap sends the title back, and that article answers (above)
        titles, ids = [c.article.title for c in seen.candidates], [c.article.id for c in seen.candidates]
        return Reply(_("Did you mean one of these?"), "suggest", suggestions=titles,
                     data={"articles": ids, "confidence": seen.confidence},
                     offer=offered(text, ids, titles))  # fmt: skip
    if _has(lowered, GREETING, GREETING_EN):
        return Reply(_("Hello! What can I do for you?"), "greeting")
    if _has(lowered, THANKS, THANKS_EN):
        return Reply(_("You are welcome. Is there anything else I can help with?"), "thanks")
    confidence = seen.confidence
    misses = chat.bot_misses + 1
    reply = Reply(
        _("Sorry, I did not understand that. Could you say it another way, or type “human” to talk to an agent?"),
        "miss", missed=True, data={"confidence": confidence},
        suggestions=[_("Where is my order?"), _("I want a refund"), _("Talk to a human")],
    )  # fmt: skip
    if misses >= settings.CHAT_BOT_MISSES and not queued:
        reply.text = _("Sorry, I could not help with that. Let me bring in an agent for you.")
        reply.handoff = Handoff.MISSES
        reply.suggestions = []
    return reply


def offered(question: str, articles: list[int], titles: list[str]) -> dict[str, Any]:
    """A "猜你想问" offer as the chat keeps it until the next message (``chat.choices`` tells the rest)."""
    return {"question": question[:MAX_QUESTION], "articles": articles, "titles": titles}


def tapped(offer: dict[str, Any], text: str) -> int | None:
    """The article whose offered title ``text`` is (a tap, or the title typed out), else None."""
    said = normalised_question(text)
    for article, title in zip(offer.get("articles", []), offer.get("titles", []), strict=False):
        if said and normalised_question(str(title)) == said:
            return int(article)
    return None


def _to_person(reason: str, queued: bool, staffed: bool, text: str) -> Reply:
    if queued:  # at night, already registered for a callback
        return Reply(_("Your request is registered; an agent will call you back as soon as the desk opens."),
                     "queued")  # fmt: skip
    return Reply(text, "handoff", handoff=reason)


def _mentioned_orders(chat: ChatSession, text: str) -> list[Order]:
    candidates = {match.upper() for match in ORDER_NO.findall(text)} | set(ORDER_NO.findall(text))
    if not candidates:
        return []
    return list(Order.objects.filter(consumer_id=chat.consumer_id, order_no__in=candidates))


def _orders(chat: ChatSession, text: str) -> Reply:
    orders = _mentioned_orders(chat, text) or list(
        Order.objects.filter(consumer_id=chat.consumer_id).order_by("-placed_at")[:3]
    )
    if not orders:
        return Reply(_("I cannot find any orders on your account."), "order_status")
    lines = [_("Here are your orders:")]
    for order in orders:
        line = _("%(order)s (%(item)s): %(status)s, placed %(placed)s") % {
            "order": order.order_no, "item": order.item_title, "status": order.get_status_display(),
            "placed": order.placed_at.strftime("%Y-%m-%d")}  # fmt: skip
        if order.delivered_at:
            line += _(", delivered %(date)s") % {"date": order.delivered_at.strftime("%Y-%m-%d")}
        lines.append(line)
    return Reply("\n".join(lines), "order_status", data={"orders": [o.order_no for o in orders]})


def _refund(chat: ChatSession, text: str) -> Reply:
    mentioned = _mentioned_orders(chat, text)
    if not mentioned:
        candidates = [
            order for order in Order.objects.filter(consumer_id=chat.consumer_id, status__in=REFUNDABLE)
            .order_by("-placed_at")[:RECENT_ORDERS] if order.refunded_amount < order.amount
        ]  # fmt: skip
        if not candidates:
            return Reply(_("I cannot find an order that can still be refunded."), "refund")
        return Reply(
            _("Which order would you like refunded? Choose one below."), "refund",
            suggestions=[_("Refund %(order)s") % {"order": o.order_no} for o in candidates],
            data={"orders": [o.order_no for o in candidates]},
        )  # fmt: skip
    order = mentioned[0]
    key = f"chat-{chat.pk}-{order.pk}"
    decided = refunds.used_key(key, requested_by=None)  # the bot's keys have no requester
    if decided is not None:  # asked again: the first decision stands
        return refund_reply(decided, order)
    left = order.amount - order.refunded_amount
    if left <= Decimal("0"):
        return Reply(_("Order %(order)s is already fully refunded.") % {"order": order.order_no}, "refund")
    return propose_refund(order, left, key)


def propose_refund(order: Order, amount: Decimal, key: str) -> Reply:
    """Ask the consumer to confirm a refund, with two one-tap choices that name the proposal."""
    proposal = ProposeRefund(order, amount, key, secrets.token_urlsafe(12))
    choices = [{"type": "confirm", "proposal": proposal.id, "label": _("Confirm")},
               {"type": "cancel", "proposal": proposal.id, "label": _("Cancel")}]  # fmt: skip
    text = _("Refund ¥%(amount)s for order %(order)s?") % {"amount": amount, "order": order.order_no}
    return Reply(text, "refund_proposed", action=proposal,
                 data={"order": order.order_no, "proposal": proposal.id, "choices": choices})  # fmt: skip


def refund_reply(decided: RefundRequest, order: Order) -> Reply:
    """The bot's answer once a refund it asked for is decided."""
    return Reply(refund_said(decided, order.order_no), "refund",
                 data={"refund": decided.pk, "decision": decided.decision, "order": order.order_no})  # fmt: skip


def refund_said(decided: RefundRequest, order_no: str) -> str:
    """What the consumer is told about a refund decision, by the bot or after an agent's refund: said in one place."""
    params = {"order": order_no, "amount": Decimal(decided.amount)}
    D = RefundRequest.Decision
    if decided.decision == D.INSTANT:
        return _("Done: %(amount)s yuan for order %(order)s is refunded instantly, back to how you paid.") % params
    if decided.decision == D.MANUAL:
        return _("Your refund of %(amount)s yuan for order %(order)s is submitted for review; we will let you "
                 "know the result.") % params  # fmt: skip
    if decided.decision == D.APPROVED:
        return _("Your refund of %(amount)s yuan for order %(order)s was approved.") % params
    return _("Order %(order)s cannot be refunded: %(why)s") % {
        "order": order_no, "why": " ".join(refunds.explain(decided.reasons))}  # fmt: skip
