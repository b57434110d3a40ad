"""The demo's tickets, loaded at scale, and a few demo refunds through the real refund policy.

Tickets (TICKETS_PER_SCALE per --scale, so 1,000,000 at --scale 5000) look like a marketplace's
queue: kinds, channels, priorities and statuses weighted as they are in practice, riskier consumers
opening more of them, most about one of the consumer's recent orders (merchant copied from the
order, tier from the consumer), open ones recent and closed ones spread over 60 days, every ticket
with a timeline (created, the consumer's message, the agent's reply once answered). A few demo
tickets get refund requests through the real refund policy: one instant, one waiting for review.

At scale the tickets are made in chunks: one query per chunk reads the chunk's consumers' tiers and
latest orders (10M orders are never loaded into Python), and each chunk is loaded with COPY, the
tickets first and then their events, so memory stays flat whatever the scale. What each ticket looks
like is drawn by ``tickets.demo_maker``.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import timedelta
from itertools import accumulate
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Case, Exists, F, OuterRef, Q, When

from core.seeding import SeedContext, copy_rows, foreign_keys_checked_after, indexes_built_after
from crm.models import Consumer, CreditTier, Order, RiskFlag
from tickets import clocks, refunds, sla
from tickets.demo_maker import (
    HISTORY_DAYS,
    PERSONA_WEIGHT,
    DemoOrder,
    Forced,
    Kind,
    Plan,
    Policy,
    Priority,
    TicketMaker,
)
from tickets.models import Department, Ticket, TicketEvent

TICKETS_PER_SCALE = 200
CHUNK = 20_000  # tickets generated, looked up and copied at a time
DEMO_REFUNDS = 2  # of each decision: instant and waiting for manual review


def seed_tickets(ctx: SeedContext, count: int | None = None) -> dict[str, int]:
    """``count`` tickets (default TICKETS_PER_SCALE × scale) for the consumers in ``ctx.made``.

    Needs ``ctx.made["consumer_ids"]`` and ``ctx.made["personas"]`` (crm's seeder, or rebuilt from the
    database by a benchmark), consumers already rated (their tier is copied), and ``seed_desk``.
    """
    rnd = ctx.random
    total = TICKETS_PER_SCALE * ctx.scale if count is None else count
    consumer_ids: list[int] = ctx.made["consumer_ids"]
    personas: list[str] = ctx.made["personas"]
    if not consumer_ids or total <= 0:
        return {"tickets": 0, "ticket events": 0}
    now = int(ctx.now.timestamp())
    # The seeder asks for a million dues and states: tickets.sla's hours worked out once for the span.
    clock = sla.Timetable(
        sla.business_hours(),
        (ctx.now - timedelta(days=HISTORY_DAYS + 10)).date(),
        (ctx.now + timedelta(days=HISTORY_DAYS)).date(),
    )
    users = dict(get_user_model().objects.filter(username__in=("agent", "supervisor")).values_list("username", "pk"))
    names = dict(get_user_model().objects.filter(pk__in=users.values()).values_list("pk", "first_name"))
    departments = dict(Department.objects.values_list("code", "pk"))
    policies = _policy_table()
    weights = list(accumulate(PERSONA_WEIGHT.get(p, 1.0) for p in personas))
    forced = _refund_candidates(consumer_ids)[: total // 2]
    maker = TicketMaker(ctx, clock, now, users, names, departments, policies)
    made = events = 0
    sequence = _sequence(Ticket)
    ticks = iter(ctx.progress(range(total), total=total, desc="tickets"))
    demo_tickets: list[tuple[int, Forced]] = []
    # The loop reads orders, never tickets.
    with indexes_built_after(Ticket, TicketEvent), foreign_keys_checked_after(Ticket, TicketEvent):
        for start in range(0, total, CHUNK):
            size = min(CHUNK, total - start)
            picks = rnd.choices(range(len(consumer_ids)), cum_weights=weights, k=size)
            chunk_forced = forced if start == 0 else []
            for i, wanted in enumerate(chunk_forced):
                picks[i] = wanted.consumer_index
            plans = [
                maker.plan(consumer_ids[c], chunk_forced[i] if i < len(chunk_forced) else None)
                for i, c in enumerate(picks)
            ]
            consumers = _tiers_and_orders(plans)
            with connection.cursor() as cursor:
                cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s) ORDER BY 1", [sequence, size])
                ids = [row[0] for row in cursor.fetchall()]
            tickets: list[tuple[Any, ...]] = []
            timeline: list[tuple[Any, ...]] = []
            for pk, plan in zip(ids, plans, strict=True):
                maker.make(pk, plan, *consumers.get(plan.consumer_id, (None, [])), tickets, timeline)
                if plan.demo is not None:
                    demo_tickets.append((pk, plan.demo))
                next(ticks, None)
            made += copy_rows(Ticket, TICKET_FIELDS, tickets)
            events += copy_rows(TicketEvent, EVENT_FIELDS, timeline)
    for _rest in ticks:  # let the progress bar finish
        pass
    with connection.cursor() as cursor:  # fresh statistics, so that the queue's queries plan well at once
        cursor.execute(f"ANALYZE {Ticket._meta.db_table}, {TicketEvent._meta.db_table}")
    requested = _demo_refunds(ctx, demo_tickets, users.get("agent"))
    events += TicketEvent.objects.filter(
        ticket__in=[pk for pk, _demo in demo_tickets], kind=TicketEvent.Kind.REFUND
    ).count()
    return {"tickets": made, "ticket events": events, "refund requests": requested}


TICKET_FIELDS = [
    "id", "subject", "kind", "channel", "status", "priority", "department", "assignee", "consumer", "tier", "order",
    "merchant", "created_at", "updated_at", "first_response_at", "resolved_at", "sla_policy", "first_response_due",
    "resolution_due", "sla_state", "paused_at", "escalated_at",
]  # fmt: skip
EVENT_FIELDS = ["ticket", "kind", "author_kind", "author", "body", "data", "created_at"]


def _sequence(model: type[Ticket]) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
        return str(cursor.fetchone()[0])


def _policy_table() -> dict[tuple[str, int, int | None], Policy | None]:
    """Which policy applies to each kind × priority × tier, asked of tickets.sla once per combination."""
    table: dict[tuple[str, int, int | None], Policy | None] = {}
    tiers: list[int | None] = [None, *CreditTier.objects.values_list("pk", flat=True)]
    for kind in Kind.values:
        for priority in Priority.values:
            for tier in tiers:
                policy = clocks.policy_for(Ticket(kind=kind, priority=priority, tier_id=tier))
                table[(kind, priority, tier)] = (
                    Policy(policy.pk, policy.first_response_minutes, policy.resolution_minutes) if policy else None
                )
    return table


def _tiers_and_orders(plans: list[Plan]) -> dict[int, tuple[int | None, list[DemoOrder]]]:
    """The consumers' tiers and, for those with a ticket about an order, their latest orders (newest first).

    One query; an index lookup per consumer (the LIMIT 1 keeps the planner from hashing the whole
    consumer table instead) and an index scan of the latest orders of each consumer who needs them.
    """
    with_orders: dict[int, bool] = {}
    for plan in plans:
        with_orders[plan.consumer_id] = with_orders.get(plan.consumer_id, False) or plan.needs_orders
    wanted = list(with_orders)
    found: dict[int, tuple[int | None, list[DemoOrder]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT wanted.id, c.tier_id, o.id, o.order_no, o.merchant_id, o.placed, o.item_title
            FROM unnest(%s::bigint[], %s::boolean[]) AS wanted(id, with_orders)
            CROSS JOIN LATERAL (SELECT tier_id FROM {Consumer._meta.db_table} WHERE id = wanted.id LIMIT 1) c
            LEFT JOIN LATERAL (
                SELECT id, order_no, merchant_id, extract(epoch FROM placed_at)::bigint AS placed, item_title
                FROM {Order._meta.db_table}
                WHERE wanted.with_orders AND consumer_id = wanted.id ORDER BY placed_at DESC, id DESC LIMIT 3
            ) o ON true
            """,
            [wanted, [with_orders[c] for c in wanted]],
        )
        for consumer_id, tier_id, order_id, order_no, merchant_id, placed, item in cursor.fetchall():
            entry = found.setdefault(consumer_id, (tier_id, []))
            if order_id is not None:
                entry[1].append(DemoOrder(order_id, order_no, merchant_id, placed, item))
    for _tier, orders in found.values():  # rows come in no promised order
        orders.sort(key=lambda o: (o.placed, o.id), reverse=True)
    return found


# --- the demo refunds --------------------------------------------------------------------------


def _refund_candidates(consumer_ids: list[int]) -> list[Forced]:
    """Orders not yet refunded, of consumers whose requests the policy decides at once (the top tier, no
    confirmed risk flag, a merchant allowing it) and of restricted consumers (reviewed by hand)."""
    top = CreditTier.objects.filter(instant_refund_limit__gt=0).order_by("-min_score").first()
    restricted = CreditTier.objects.filter(instant_refund_limit=0).order_by("min_score").first()
    if top is None or restricted is None:
        return []
    confirmed = RiskFlag.objects.filter(consumer=OuterRef("consumer"), status=RiskFlag.Status.CONFIRMED)
    refundable = Order.objects.filter(
        status__in=(Order.Status.PAID, Order.Status.SHIPPED, Order.Status.DELIVERED), refunded_amount=0
    ).order_by("order_no")
    instant = refundable.filter(
        Q(merchant__instant_refund_cap__isnull=True) | Q(merchant__instant_refund_cap__gte=F("amount")),
        ~Exists(confirmed), consumer__tier=top, amount__lte=top.instant_refund_limit, merchant__instant_refunds=True,
    )  # fmt: skip
    # Waiting for review: the restricted tier first, else any order over its consumer's tier limit.
    manual = refundable.filter(
        Q(consumer__tier=restricted) | Q(amount__gt=F("consumer__tier__instant_refund_limit"))
    ).order_by(Case(When(consumer__tier=restricted, then=0), default=1), "order_no")
    fields = ("pk", "order_no", "consumer_id", "merchant_id", "placed_at", "item_title", "amount")
    chosen: list[Forced] = []
    for orders in (instant, manual):
        consumers: set[int] = set()
        for order in orders.only(*fields)[:50]:
            index = bisect_left(consumer_ids, order.consumer_id)  # the ids are sorted, as crm's seeder leaves them
            if order.consumer_id in consumers or consumer_ids[index : index + 1] != [order.consumer_id]:
                continue
            consumers.add(order.consumer_id)
            found = DemoOrder(
                order.pk, order.order_no, order.merchant_id, int(order.placed_at.timestamp()), order.item_title
            )
            chosen.append(Forced(index, found, order.amount))
            if len(consumers) == DEMO_REFUNDS:
                break
    return chosen


def _demo_refunds(ctx: SeedContext, made: list[tuple[int, Forced]], agent_id: int | None) -> int:
    agent = get_user_model().objects.filter(pk=agent_id).first() if agent_id else None
    for ticket_id, demo in made:
        ticket = Ticket.objects.select_related("order").get(pk=ticket_id)
        assert ticket.order is not None
        refunds.request_refund(
            ticket.order, demo.amount, ticket.subject, key=f"demo-ticket-{ticket_id}", requested_by=agent,
            ticket=ticket, now=ctx.now,
        )  # fmt: skip
    return len(made)
