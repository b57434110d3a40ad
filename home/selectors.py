"""What each role's home shows: counts read in a fixed number of queries, whatever the amount of work.

The home sits above every app (it reads tickets, live chat, QA and refunds); nothing imports it but
config's URLs and its own task. Which home a user gets is decided once, in ``home_kind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Aggregate, Count, DurationField, F, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from chat.models import ChatSession
from core import roles
from core.tenancy import is_merchant_staff, merchant_id_of, scope
from core.users import Actor
from merchants.models import Merchant, MerchantScore
from qa.models import Finding, Severity
from tickets import views_saved
from tickets.models import (
    OPEN_STATUSES,
    AgentProfile,
    Department,
    RefundRequest,
    SavedView,
    Ticket,
    TicketEvent,
)

DUE_SOON = timedelta(hours=1)  # an open ticket whose next due time is this close counts as "due soon"
SHOP_TICKETS = 10  # the merchant's home lists this many of the shop's open tickets, most recently updated first

AGENT, SUPERVISOR, BUSINESS, MERCHANT = "agent", "supervisor", "business", "merchant"
SLA = Ticket.SLAState
Chat = ChatSession.State


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)`` over an interval."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()
    allow_distinct = False


def home_kind(user: Actor) -> str:
    """Which home a user lands on: merchant staff their shop's, business teams the radio, supervisors the
    wallboard, everyone else who works tickets the agent's desk."""
    if is_merchant_staff(user):
        return MERCHANT
    if user.is_superuser:
        return SUPERVISOR
    names = set(user.groups.values_list("name", flat=True))
    if roles.SUPERVISOR in names:
        return SUPERVISOR
    if roles.AGENT in names or user.has_perm("tickets.view_ticket"):
        return AGENT
    if roles.BUSINESS in names or user.has_perm("radio.view_digest"):
        return BUSINESS
    return AGENT


def local_day_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


# --- the agent's desk ---------------------------------------------------------------------------


def agent_home(user: Actor, now: datetime | None = None) -> dict[str, Any]:
    """My open tickets, those due soon and breached, the chats waiting, my chats and my availability: 3 queries."""
    now = now or timezone.now()
    soon = now + DUE_SOON
    due_soon = Q(sla_state=SLA.AT_RISK) | Q(sla_state=SLA.OK) & (
        Q(first_response_at=None, first_response_due__lte=soon) | Q(resolution_due__lte=soon)
    )
    tickets = Ticket.objects.filter(assignee_id=user.pk, status__in=OPEN_STATUSES).aggregate(
        open=Count("pk"),
        due_soon=Count("pk", filter=due_soon),
        breached=Count("pk", filter=Q(sla_state=SLA.BREACHED)),
    )
    chats = ChatSession.objects.filter(Q(state=Chat.WAITING) | Q(state=Chat.ACTIVE, agent_id=user.pk)).aggregate(
        waiting=Count("pk", filter=Q(state=Chat.WAITING)),
        oldest=Min("queued_at", filter=Q(state=Chat.WAITING)),
        mine=Count("pk", filter=Q(state=Chat.ACTIVE)),
    )
    profile = AgentProfile.objects.filter(user_id=user.pk).values("available", "chat_capacity").first()
    return {
        **tickets,
        "waiting": chats["waiting"],
        "longest_wait": _seconds(now - chats["oldest"]) if chats["oldest"] else 0,
        "my_chats": chats["mine"],
        "available": bool(profile and profile["available"]),
        "chat_capacity": profile["chat_capacity"] if profile else None,
    }


def saved_views(user: Actor) -> list[tuple[SavedView, int]]:
    """The agent's saved views of the queue (their own and those shared with them), each with how many tickets
    it shows in what the agent may see: two queries, one when there are none."""
    return views_saved.listed(user, scope(Ticket.objects.all(), user))


# --- the supervisors' wallboard ------------------------------------------------------------------


def wallboard(now: datetime | None = None) -> dict[str, Any]:
    """The desk at a glance, in 8 queries: the numbers the wallboard shows and the socket pushes."""
    now = now or timezone.now()
    today = local_day_start(now)
    week_ago = today - timedelta(days=7)
    return {
        "at": now.isoformat(),
        "departments": _departments(now),
        "agents": _agents(),
        "breaches_today": TicketEvent.objects.filter(
            kind=TicketEvent.Kind.SLA, data__to=SLA.BREACHED, created_at__gte=today
        ).count(),
        **_medians(today, week_ago),
        "findings": _findings(),
        "refunds_waiting": RefundRequest.objects.filter(decision=RefundRequest.Decision.MANUAL).count(),
    }


def _departments(now: datetime) -> list[dict[str, Any]]:
    waiting = {
        row["ticket__department_id"]: row
        for row in ChatSession.objects.filter(state=Chat.WAITING)
        .values("ticket__department_id")
        .annotate(waiting=Count("pk"), oldest=Min("queued_at"))
    }
    unassigned = dict(
        Ticket.objects.filter(status__in=OPEN_STATUSES, assignee=None)
        .values("department_id")
        .annotate(n=Count("pk"))
        .values_list("department_id", "n")
    )
    rows = []
    for department in Department.objects.order_by("name").values("pk", "name"):
        chats = waiting.get(department["pk"], {})
        oldest = chats.get("oldest")
        rows.append({
            "id": department["pk"], "name": department["name"], "waiting": chats.get("waiting", 0),
            "longest_wait": _seconds(now - oldest) if oldest else 0, "unassigned": unassigned.get(department["pk"], 0),
        })  # fmt: skip
    return rows


def _agents() -> dict[str, int]:
    """Available agents with a free chat slot, available ones whose slots are full (busy), and away ones."""
    active_chats = (
        ChatSession.objects.filter(agent_id=OuterRef("user_id"), state=Chat.ACTIVE)
        .order_by()
        .values("agent_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    profiles = (
        AgentProfile.objects.filter(user__is_active=True, user__is_staff=True)
        .exclude(user__groups__name=roles.MERCHANT_STAFF)
        .annotate(active=Coalesce(Subquery(active_chats), 0))
        .values_list("available", "active", "chat_capacity")
    )
    counts = {"available": 0, "busy": 0, "away": 0}
    for available, active, capacity in profiles:
        counts["away" if not available else "busy" if active >= capacity else "available"] += 1
    return counts


def _medians(today: datetime, week_ago: datetime) -> dict[str, int | None]:
    waited = F("first_response_at") - F("created_at")
    took = F("resolved_at") - F("created_at")
    this_week = Q(first_response_at__gte=week_ago) | Q(resolved_at__gte=week_ago)
    row = Ticket.objects.filter(this_week).aggregate(
        first_response_today=Median(waited, filter=Q(first_response_at__gte=today)),
        first_response_last_week=Median(waited, filter=Q(first_response_at__gte=week_ago, first_response_at__lt=today)),
        resolution_today=Median(took, filter=Q(resolved_at__gte=today)),
        resolution_last_week=Median(took, filter=Q(resolved_at__gte=week_ago, resolved_at__lt=today)),
    )
    return {key: None if value is None else _seconds(value) for key, value in row.items()}


def _findings() -> list[dict[str, Any]]:
    counts = dict(
        Finding.objects.filter(status=Finding.Status.OPEN)
        .values("severity")
        .annotate(n=Count("pk"))
        .values_list("severity", "n")
    )
    return [
        {"severity": value, "label": str(label), "open": counts.get(value, 0)}
        for value, label in reversed(Severity.choices)
    ]


# --- merchant staff -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopHome:
    merchant: Merchant | None
    open_tickets: int
    tickets: list[Ticket]
    score: MerchantScore | None


def merchant_home(user: Actor) -> ShopHome:
    """The shop's open tickets (all of the shop's, not only the user's) and its latest service score: 4 queries."""
    merchant_id = merchant_id_of(user)
    if merchant_id is None:
        return ShopHome(None, 0, [], None)
    tickets = scope(Ticket.objects.filter(status__in=OPEN_STATUSES), user)
    return ShopHome(
        merchant=Merchant.objects.filter(pk=merchant_id).first(),
        open_tickets=tickets.count(),
        tickets=list(tickets.select_related("consumer", "assignee").order_by("-updated_at", "-pk")[:SHOP_TICKETS]),
        score=MerchantScore.objects.filter(merchant_id=merchant_id).order_by("-day").first(),
    )


def _seconds(delta: timedelta) -> int:
    return max(int(delta.total_seconds()), 0)
