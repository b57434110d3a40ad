"""What the agent console reads: the waiting queue, one chat with its consumer, the transfer targets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chat.analysis import normalised_question
from chat.conversation import author_name, desk_of, message_frame
from chat.learning import may_add_wording
from chat.models import ChatSession, KnowledgeArticle
from core.roles import MERCHANT_STAFF
from core.tenancy import is_merchant_staff, merchant_id_of, scope
from core.users import Actor
from crm.models import Order, RiskFlag
from merchants.models import Merchant
from tickets import services as ticket_services
from tickets.models import AgentProfile, CannedReply, Department, TicketEvent

State = ChatSession.State
QUEUE_LIMIT = 200
HISTORY_LIMIT = 200
INTENT_LABELS = {
    "article": gettext_lazy("answered from the knowledge base"),
    "miss": gettext_lazy("not understood"),
    "order_status": gettext_lazy("asked where an order is"),
    "refund": gettext_lazy("asked for a refund"),
    "handoff": gettext_lazy("asked for a person"),
    "greeting": gettext_lazy("greeted"),
    "thanks": gettext_lazy("thanked"),
    "queued": gettext_lazy("asked again while waiting"),
    "refund_proposed": gettext_lazy("was asked to confirm a refund"),
    "refund_cancelled": gettext_lazy("cancelled a refund"),
}


def may_use_console(user: Actor) -> bool:
    """The one rule of who takes chats in the agent console (its page, its socket, a transfer's target): an active
    staff user with ``chat.use_chat_console``; a shop's staff only with a shop (they work its chats alone:
    ``conversation.desk_of``), one without a shop takes none."""
    if is_merchant_staff(user) and merchant_id_of(user) is None:
        return False
    return bool(user.is_active and user.is_staff and user.has_perm("chat.use_chat_console"))


def summary_lines(chat: ChatSession) -> list[str]:
    """The bot's summary in the reader's language: why it handed off, what the consumer wanted, their words."""
    summary = chat.summary or {}
    lines = []
    if chat.handoff_reason:
        lines.append(str(ChatSession.Handoff(chat.handoff_reason).label))
    intents = [str(INTENT_LABELS[i]) for i in dict.fromkeys(summary.get("intents", [])) if i in INTENT_LABELS]
    if intents:
        lines.append(_("Bot: %(intents)s") % {"intents": ", ".join(intents)})
    if summary.get("orders"):
        lines.append(_("Orders: %(orders)s") % {"orders": ", ".join(summary["orders"][:5])})
    lines += [f"“{quote}”" for quote in summary.get("quotes", [])]
    return lines


def queue(user: Actor) -> list[dict[str, Any]]:
    """The waiting chats this user may see, in queue order, each with its place in its department's queue."""
    now = timezone.now()
    rows = (
        scope(ChatSession.objects.filter(desk_of(user), state=State.WAITING), user)
        .select_related("consumer", "consumer__tier", "ticket__department")
        .order_by("-queue_rank", "queued_at", "pk")[:QUEUE_LIMIT]
    )
    places: dict[int, int] = {}
    items = []
    for chat in rows:
        department = chat.ticket.department
        places[department.pk] = places.get(department.pk, 0) + 1
        tier = chat.consumer.tier
        items.append({
            "chat": chat.pk, "ticket": chat.ticket_id, "position": places[department.pk],
            "department": {"id": department.pk, "name": department.name},
            "consumer": chat.consumer.display_name, "tier": tier.name if tier else "",
            "priority": bool(tier and tier.priority_routing), "callback": chat.callback,
            "waited": int((now - chat.queued_at).total_seconds()) if chat.queued_at else 0,
            "reason": chat.handoff_reason, "summary": summary_lines(chat),
        })  # fmt: skip
    return items


def chat_shop_id(code: str) -> int | None:
    """The id of the shop with merchant code ``code`` when it takes chats; None for a made-up or closed shop."""
    return Merchant.objects.filter(code=code.strip(), takes_chats=True).values_list("pk", flat=True).first()


def shop_of(chat: ChatSession) -> dict[str, Any] | None:
    """The shop a chat is with, as the consumer's widget names it (None: the platform's chat)."""
    if chat.shop_id is None:
        return None
    shop = Merchant.objects.only("code", "name").get(pk=chat.shop_id)
    return {"code": shop.code, "name": shop.name}


def visible_chat(chat_id: int, user: Actor) -> ChatSession | None:
    return (
        scope(ChatSession.objects.filter(pk=chat_id), user)
        .select_related("consumer__tier", "ticket__department", "ticket__order", "ticket__merchant", "agent")
        .first()
    )


def chat(chat_id: int, user: Actor) -> dict[str, Any] | None:
    """One chat as the console shows it: consumer, tier, flags, recent orders, canned replies, messages."""
    found = visible_chat(chat_id, user)
    if found is None:
        return None
    consumer = found.ticket.consumer = found.consumer  # the same row: canned replies fill it in without a query
    events = (
        TicketEvent.objects.filter(ticket_id=found.ticket_id)
        .filter(Q(kind=TicketEvent.Kind.MESSAGE) | Q(kind=TicketEvent.Kind.NOTE))
        .select_related("author")
        .order_by("-pk")[:HISTORY_LIMIT]
    )
    messages = []
    for event in reversed(list(events)):
        message = message_frame(found, event, author_name(event))["message"]
        if event.kind == TicketEvent.Kind.NOTE:
            message["internal"] = True
        messages.append(message)
    orders = scope(Order.objects.filter(consumer=consumer), user).select_related("merchant").order_by("-placed_at")
    flags = (
        RiskFlag.objects.filter(consumer=consumer, status__in=[RiskFlag.Status.OPEN, RiskFlag.Status.CONFIRMED])
        if user.has_perm("crm.view_riskflag")
        else RiskFlag.objects.none()
    )
    canned = CannedReply.objects.filter(Q(department__isnull=True) | Q(department=found.ticket.department_id),
                                        active=True)  # fmt: skip
    tier = consumer.tier
    return {
        "chat": found.pk, "ticket": found.ticket_id, "state": found.state,
        "agent": found.agent.get_username() if found.agent else "",
        "department": found.ticket.department.name,
        "consumer": {
            "name": consumer.display_name, "external_id": consumer.external_id,
            "phone": consumer.phone if user.has_perm("crm.view_consumer_pii") else consumer.masked_phone,
            "tier": tier.name if tier else "", "priority": bool(tier and tier.priority_routing),
            "score": consumer.credit_score,
            "instant_limit": str(tier.instant_refund_limit) if tier else "0.00",
        },
        "flags": [{"kind": str(f.get_kind_display()), "status": f.status} for f in flags],
        "orders": [
            {"order": o.order_no, "item": o.item_title, "amount": str(o.amount), "refunded": str(o.refunded_amount),
             "status": o.status, "status_label": str(o.get_status_display()), "merchant": o.merchant.name,
             "placed": o.placed_at.date().isoformat()}
            for o in orders[:5]
        ],
        "canned": [{"title": r.title, "text": ticket_services.render_canned_reply(r, found.ticket, user)}
                   for r in canned],
        "summary": summary_lines(found),
        "callback": found.callback,
        "messages": messages,
    }  # fmt: skip


def my_chats(user: Actor) -> list[int]:
    return list(
        ChatSession.objects.filter(agent=user, state=State.ACTIVE).order_by("accepted_at").values_list("pk", flat=True)
    )


def transfer_targets(user: Actor) -> dict[str, Any]:
    """Available agents who may take chats (with their free slots), and the departments."""
    User = get_user_model()
    console = Q(groups__permissions__codename="use_chat_console") | Q(is_superuser=True)
    profiles = (
        AgentProfile.objects.filter(available=True, user__is_active=True, user__is_staff=True)
        .filter(user__in=User.objects.filter(console))
        .exclude(user=user)
        .select_related("user")
        .order_by("user__username")
    )
    # The same desk only (desk.transfer_chat): a shop's staff among themselves, with no department to send
    # to (the platform steps in only when the consumer escalates); the platform's agents among themselves.
    if is_merchant_staff(user):
        shop_id = merchant_id_of(user)
        profiles = profiles.filter(user__merchant_membership__merchant_id=shop_id) if shop_id else profiles.none()
        departments = Department.objects.none()
    else:
        profiles = profiles.exclude(user__groups__name=MERCHANT_STAFF)
        departments = Department.objects.order_by("name")
    return {
        "agents": [{"id": p.user_id, "name": p.user.first_name or p.user.get_username()} for p in profiles],
        "departments": [{"id": d.pk, "name": d.name} for d in departments],
    }


# What an agent without a desk profile yet would get: the model field's default.
CHAT_CAPACITY_DEFAULT = AgentProfile._meta.get_field("chat_capacity").get_default()


def profile(user: Actor) -> dict[str, Any]:
    found = AgentProfile.objects.filter(user=user).first()
    active = ChatSession.objects.filter(agent=user, state=State.ACTIVE).count()
    return {
        "user": user.get_username(), "name": user.first_name or user.get_username(),
        "available": bool(found and found.available),
        "capacity": found.chat_capacity if found else CHAT_CAPACITY_DEFAULT, "active": active,
    }  # fmt: skip


MISSED_ROWS = 5000


def missed_questions(since: datetime, limit: int = 100) -> list[dict[str, Any]]:
    """The questions the bot missed (it answered none, or handed off after missing) since ``since``, grouped by
    their normalised text: the latest wording, how often, when last, the chats; newest first. One query."""
    rows = (
        TicketEvent.objects.filter(kind=TicketEvent.Kind.MESSAGE, author_kind=TicketEvent.Author.BOT,
                                   created_at__gte=since, data__intent="miss", data__has_key="question")
        .order_by("-created_at", "-pk")
        .values_list("data__question", "created_at", "ticket_id")[:MISSED_ROWS]
    )  # fmt: skip
    groups: dict[str, dict[str, Any]] = {}
    for question, at, ticket_id in rows:
        key = normalised_question(str(question))
        if not key:
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = {"key": key, "question": question, "count": 0, "last_at": at, "tickets": []}
        group["count"] += 1
        if len(group["tickets"]) < 5 and ticket_id not in group["tickets"]:
            group["tickets"].append(ticket_id)
    return list(groups.values())[:limit]


def learnable_articles(user: Actor) -> dict[str, Any]:
    """For the console's "teach the bot": the active articles, when the agent may add wordings."""
    if not may_add_wording(user):
        return {"articles": []}
    articles = scope(KnowledgeArticle.objects.filter(active=True), user).order_by("language", "title")
    return {"articles": [{"id": a.pk, "title": a.title, "language": a.language}
                         for a in articles.only("pk", "title", "language")[:1000]]}  # fmt: skip
