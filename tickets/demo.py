"""Demo service desk: departments, SLA policies, canned replies, the demo agents' desks, and tickets.

Tickets (TICKETS_PER_SCALE per --scale, so 1,000,000 at --scale 5000) look like a marketplace's
queue: kinds, channels, priorities and statuses weighted as they are in practice, riskier consumers
opening more of them, most about one of the consumer's recent orders (merchant copied from the
order, tier from the consumer), open ones recent and closed ones spread over 60 days, every ticket
with a timeline (created, the consumer's message, the agent's reply once answered). A few demo
tickets get refund requests through the real refund policy: one instant, one waiting for review.

At scale the tickets are made in chunks: one query per chunk reads the chunk's consumers' tiers and
latest orders (10M orders are never loaded into Python), and each chunk is loaded with COPY, the
tickets first and then their events, so memory stays flat whatever the scale.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from random import Random
from typing import Any, NamedTuple, TypeVar

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q

from core.seeding import SeedContext, copy_rows
from crm.models import Consumer, CreditTier, Order, RiskFlag
from tickets import clocks, refunds, sla
from tickets.chat import demo as chat_demo
from tickets.models import AgentProfile, CannedReply, Department, SLAPolicy, Ticket, TicketEvent

T = TypeVar("T")

TICKETS_PER_SCALE = 200
CHUNK = 20_000  # tickets generated, looked up and copied at a time
HISTORY_DAYS = 60
DEMO_REFUNDS = 2  # of each decision: instant and waiting for manual review

Kind, Status, Priority, State = Ticket.Kind, Ticket.Status, Ticket.Priority, Ticket.SLAState
Event, Author = TicketEvent.Kind, TicketEvent.Author
# Plain strings for the ticket loop: reading an enum member costs a descriptor call each time.
NEW, OPEN, PENDING, RESOLVED, CLOSED = (s.value for s in (Status.NEW, Status.OPEN, Status.PENDING, Status.RESOLVED,
                                                            Status.CLOSED))  # fmt: skip
NO_SLA = State.NONE.value

DEPARTMENTS = (
    ("after-sales", "售后"),
    ("refunds", "退款"),
    ("logistics", "物流"),
    ("product", "商品"),
    ("complaints", "投诉"),
    ("disputes", "维权"),
)
AGENT_DEPARTMENT = "after-sales"

# kind: (share of tickets, share about an order, weights of priority low, normal, high, urgent)
KINDS: dict[str, tuple[float, float, tuple[int, int, int, int]]] = {
    Kind.CONSULTATION: (0.35, 0.45, (20, 65, 13, 2)),
    Kind.REFUND: (0.25, 0.97, (10, 60, 25, 5)),
    Kind.RETURN: (0.12, 0.97, (15, 65, 17, 3)),
    Kind.DISPUTE: (0.08, 0.97, (5, 45, 38, 12)),
    Kind.COMPLAINT: (0.20, 0.70, (5, 50, 35, 10)),
}
# status: (share, mean age in days, oldest in days); open tickets are recent, closed ones spread out.
STATUSES: dict[str, tuple[float, float, float]] = {
    Status.NEW: (0.10, 0.1, 1),
    Status.OPEN: (0.25, 0.7, 10),
    Status.PENDING: (0.10, 3, 20),
    Status.RESOLVED: (0.30, 4, 30),
    Status.CLOSED: (0.25, 25, HISTORY_DAYS),
}
CHANNELS = {Ticket.Channel.CHAT: 55, Ticket.Channel.WEB: 30, Ticket.Channel.PHONE: 15}
# How many tickets a consumer of each persona (crm/demo.py) opens, relative to a regular shopper.
PERSONA_WEIGHT = {"premium": 1.3, "loyal": 1.0, "regular": 0.8, "new": 0.6, "risky": 3.0, "malicious": 4.0}
LATE_RESPONSE = 0.12  # share of first responses after their due
LATE_RESOLUTION = 0.15

# (kind, department, weight, subject, the consumer's message). {order} and {item} come from the order;
# topics naming {order} are only used for tickets about an order.
TOPICS: tuple[tuple[str, str, int, str, str], ...] = (
    (Kind.CONSULTATION, "product", 3, "咨询发货时间", "请问这款{item}有现货吗？大概什么时候能发货？"),
    (Kind.CONSULTATION, "product", 2, "尺码怎么选", "{item}的尺码偏大还是偏小？我平时穿M码"),
    (Kind.CONSULTATION, "product", 1, "开发票", "订单{order}可以开增值税普通发票吗？抬头写公司名称"),
    (Kind.CONSULTATION, "product", 1, "Warranty question", "Hi, does this item come with a warranty?"),
    (Kind.CONSULTATION, "logistics", 3, "快递三天没动了", "我的快递三天没动了，订单号{order}，麻烦帮忙查一下"),
    (Kind.CONSULTATION, "logistics", 2, "修改收货地址", "刚下单就发现地址写错了，能帮忙改一下收货地址吗？"),
    (Kind.REFUND, "refunds", 4, "申请退款：质量问题", "申请退款，商品有质量问题，{item}用了两天就坏了"),
    (Kind.REFUND, "refunds", 2, "拍错了，申请退款", "不好意思拍错了，还没发货的话请帮我退款"),
    (Kind.REFUND, "refunds", 2, "退款还没到账", "退款申请提交三天了还没到账，订单{order}"),
    (Kind.REFUND, "refunds", 1, "仅退款：未收到货", "物流显示签收但我没有收到货，申请仅退款"),
    (Kind.REFUND, "refunds", 1, "Refund request", "I would like a refund for order {order}, the item arrived damaged."),
    (Kind.RETURN, "after-sales", 3, "尺码不合适想退货", "{item}尺码不合适，想退货，运费谁出？"),
    (Kind.RETURN, "after-sales", 2, "收到商品破损", "收到的{item}外包装破损，东西有划痕，申请退货"),
    (Kind.RETURN, "after-sales", 2, "七天无理由退货", "七天无理由退货怎么操作？退货地址是哪里？"),
    (Kind.RETURN, "after-sales", 1, "颜色发错了", "颜色发错了，想换成详情页图片上的颜色"),
    (Kind.DISPUTE, "disputes", 3, "申请平台介入", "商家拒绝退款，我要维权，申请平台介入处理"),
    (Kind.DISPUTE, "disputes", 2, "疑似假货", "{item}是假货，商家不承认也不给退，订单{order}"),
    (Kind.DISPUTE, "disputes", 1, "退货后商家不退款", "退货已经签收一周了，商家还是不退款"),
    (Kind.COMPLAINT, "complaints", 3, "商家不发货", "商家不发货，我要投诉！付款五天了还没发"),
    (Kind.COMPLAINT, "complaints", 2, "客服态度差", "客服态度太差了，问了三遍都不回复，我要投诉"),
    (Kind.COMPLAINT, "complaints", 1, "虚假宣传", "商品和详情页描述完全不一样，属于虚假宣传"),
    (Kind.COMPLAINT, "logistics", 2, "快递员未经同意放驿站", "快递员没打电话就放驿站了，还显示本人签收"),
    (Kind.COMPLAINT, "logistics", 2, "显示签收但没收到", "物流显示已签收，但我根本没收到包裹，订单{order}"),
)
# The agent's first reply: acknowledging (open), asking the consumer (pending), settling (resolved, closed).
ACKNOWLEDGE = (
    "您好，我是客服{agent}，已收到您的问题，正在为您核实，请稍等。",
    "亲，您的问题已登记，{agent}会跟进到底，有进展第一时间通知您。",
    "Hello, this is {agent}. We are looking into it and will get back to you shortly.",
)
ASK = (
    "麻烦提供一下商品问题的照片，我们马上为您处理。",
    "请提供一下收货手机号后四位，方便我们核实订单。",
    "已联系商家核实，请问您方便接听电话吗？",
)
SETTLE: dict[str, tuple[str, ...]] = {
    Kind.CONSULTATION: ("您好，这款目前有现货，付款后48小时内发货。", "已帮您联系快递公司催促，预计明天更新物流信息。"),
    Kind.REFUND: ("已为您办理退款，款项将在1-3个工作日内原路退回。", "退款已到账，请留意支付宝账单。"),
    Kind.RETURN: ("退货申请已通过，请在7天内寄回，运费由商家承担。", "已为您安排上门取件，明天上午快递员联系您。"),
    Kind.DISPUTE: (
        "平台已介入，根据双方凭证判定商家全额退款。",
        "经核实商家已发货且凭证齐全，本次维权不支持，感谢理解。",
    ),
    Kind.COMPLAINT: (
        "已督促商家24小时内发货，并为您申请了5元无门槛券作为补偿。",
        "非常抱歉给您带来不便，已反馈快递公司处理。",
    ),
}

CANNED_REPLIES = (
    ("问候", None, "{consumer}您好，我是客服{agent}，很高兴为您服务。请问有什么可以帮您？"),
    ("结束语", None, "感谢您的耐心等待，工单{ticket}已处理完毕。祝您购物愉快！"),
    ("催促物流", "logistics", "{consumer}您好，已为您联系快递催促订单{order}，预计24小时内更新物流信息。"),
    ("退款已受理", "refunds", "您好，订单{order}的退款已受理，款项将在1-3个工作日内原路退回。"),
    ("请提供照片", "after-sales", "{consumer}您好，麻烦上传一下商品问题的照片，我们会尽快为您处理。"),
    ("退货地址", "after-sales", "请将商品寄回{merchant}，寄出后在订单{order}中填写快递单号即可。"),
    ("投诉已受理", "complaints", "您的投诉已受理（工单{ticket}），我们会在24小时内联系{merchant}核实并回复您。"),
    ("平台介入", "disputes", "平台已介入订单{order}的维权，请在3天内上传凭证，{agent}会全程跟进。"),
    ("Greeting (English)", None, "Hello {consumer}, this is {agent}. How can I help you today?"),
    (
        "Refund accepted (English)",
        "refunds",
        "Your refund for order {order} has been accepted; it takes 1-3 working days.",
    ),
)


def seed(ctx: SeedContext) -> dict[str, int]:
    counts = seed_desk(ctx)
    counts.update(seed_tickets(ctx))
    counts.update(chat_demo.seed(ctx))
    return counts


def seed_desk(ctx: SeedContext) -> dict[str, int]:
    """Departments, SLA policies, canned replies and the demo agents' desks; rerunning changes nothing."""
    departments = {
        code: Department.objects.get_or_create(code=code, defaults={"name": name})[0] for code, name in DEPARTMENTS
    }
    if not SLAPolicy.objects.exists():
        _sla_policies()
    for title, department, body in CANNED_REPLIES:
        CannedReply.objects.get_or_create(
            title=title, defaults={"body": body, "department": departments[department] if department else None}
        )
    users = get_user_model().objects.filter(username__in=("agent", "supervisor"))
    for user in users:
        AgentProfile.objects.update_or_create(
            user=user, defaults={"department": departments[AGENT_DEPARTMENT], "available": True, "capacity": 20}
        )
    return {
        "departments": len(departments),
        "SLA policies": SLAPolicy.objects.count(),
        "canned replies": CannedReply.objects.count(),
    }


def _sla_policies() -> None:
    # Equally specific policies are decided by the lowest id (tickets.sla.policy_for), so the faster
    # ones come first: an 88VIP's refund, or an urgent refund, beats the refund default.
    top = CreditTier.objects.filter(priority_routing=True).order_by("-min_score").first()
    rows: list[SLAPolicy] = []
    if top is not None:
        rows.append(SLAPolicy(name=f"{top.name}专属", tier=top, first_response_minutes=15, resolution_minutes=240))
    rows += [
        SLAPolicy(name="紧急", priority=Priority.URGENT, first_response_minutes=15, resolution_minutes=240),
        SLAPolicy(name="高优先级", priority=Priority.HIGH, first_response_minutes=30, resolution_minutes=480),
        SLAPolicy(name="咨询默认", kind=Kind.CONSULTATION, first_response_minutes=60, resolution_minutes=720),
        SLAPolicy(name="退款默认", kind=Kind.REFUND, first_response_minutes=60, resolution_minutes=1440),
        SLAPolicy(name="退货默认", kind=Kind.RETURN, first_response_minutes=60, resolution_minutes=2880),
        SLAPolicy(name="维权默认", kind=Kind.DISPUTE, first_response_minutes=60, resolution_minutes=2880),
        SLAPolicy(name="投诉默认", kind=Kind.COMPLAINT, first_response_minutes=60, resolution_minutes=1440),
        SLAPolicy(name="默认", first_response_minutes=60, resolution_minutes=1440),
    ]
    for policy in rows:  # one by one: the ids must follow this order
        policy.save()


# --- tickets ---------------------------------------------------------------------------------------


class _Order(NamedTuple):
    id: int
    order_no: str
    merchant_id: int
    placed: int  # epoch seconds
    item: str


@dataclass(frozen=True)
class _Forced:
    """A demo ticket made for a refund request: its consumer, order, and the amount to ask for."""

    consumer_index: int
    order: _Order
    amount: Decimal


class _Plan(NamedTuple):
    consumer_id: int
    kind: str
    status: str
    created: int  # epoch seconds
    needs_orders: bool  # about one of the consumer's orders, to be chosen once they are read
    demo: _Forced | None


@dataclass
class _Policy:
    id: int
    first: int
    resolution: int


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
    maker = _TicketMaker(ctx, clock, now, users, names, departments, policies)
    made = events = 0
    sequence = _sequence(Ticket)
    ticks = iter(ctx.progress(range(total), total=total, desc="tickets"))
    demo_tickets: list[tuple[int, _Forced]] = []
    for start in range(0, total, CHUNK):
        size = min(CHUNK, total - start)
        picks = rnd.choices(range(len(consumer_ids)), cum_weights=weights, k=size)
        chunk_forced = forced if start == 0 else []
        for i, wanted in enumerate(chunk_forced):
            picks[i] = wanted.consumer_index
        plans = [
            maker.plan(consumer_ids[c], chunk_forced[i] if i < len(chunk_forced) else None) for i, c in enumerate(picks)
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
    events += TicketEvent.objects.filter(ticket__in=[pk for pk, _demo in demo_tickets], kind=Event.REFUND).count()
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


def _policy_table() -> dict[tuple[str, int, int | None], _Policy | None]:
    """Which policy applies to each kind × priority × tier, asked of tickets.sla once per combination."""
    table: dict[tuple[str, int, int | None], _Policy | None] = {}
    tiers: list[int | None] = [None, *CreditTier.objects.values_list("pk", flat=True)]
    for kind in Kind.values:
        for priority in Priority.values:
            for tier in tiers:
                policy = clocks.policy_for(Ticket(kind=kind, priority=priority, tier_id=tier))
                table[(kind, priority, tier)] = (
                    _Policy(policy.pk, policy.first_response_minutes, policy.resolution_minutes) if policy else None
                )
    return table


def _tiers_and_orders(plans: list[_Plan]) -> dict[int, tuple[int | None, list[_Order]]]:
    """The consumers' tiers and, for those with a ticket about an order, their latest orders (newest first).

    One query; an index lookup per consumer (the LIMIT 1 keeps the planner from hashing the whole
    consumer table instead) and an index scan of the latest orders of each consumer who needs them.
    """
    with_orders: dict[int, bool] = {}
    for plan in plans:
        with_orders[plan.consumer_id] = with_orders.get(plan.consumer_id, False) or plan.needs_orders
    wanted = list(with_orders)
    found: dict[int, tuple[int | None, list[_Order]]] = {}
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
                entry[1].append(_Order(order_id, order_no, merchant_id, placed, item))
    for _tier, orders in found.values():  # rows come in no promised order
        orders.sort(key=lambda o: (o.placed, o.id), reverse=True)
    return found


class _TicketMaker:
    """Draws one ticket and its timeline at a time; all times are epoch seconds until written."""

    def __init__(self, ctx: SeedContext, clock: sla.Timetable, now: int, users: dict[str, int],
                 names: dict[int, str], departments: dict[str, int],
                 policies: dict[tuple[str, int, int | None], _Policy | None]) -> None:  # fmt: skip
        self.rnd = ctx.random
        self.clock = clock
        self.now = now
        self.now_at = _at(now)
        self.business_now = self._business(now)
        self.agent = users.get("agent")
        self.supervisor = users.get("supervisor")
        self.names = names
        self.departments = departments
        self.policies = policies
        self.kinds = [str(kind) for kind in KINDS]
        self.refund = Kind.REFUND.value
        self.kind_weights = list(accumulate(share for share, _link, _prio in KINDS.values()))
        self.priority_weights = {kind: list(accumulate(prio)) for kind, (_s, _l, prio) in KINDS.items()}
        self.statuses = [str(status) for status in STATUSES]
        self.status_weights = list(accumulate(share for share, _mean, _oldest in STATUSES.values()))
        self.channels = [str(channel) for channel in CHANNELS]
        self.priorities = [int(priority) for priority in Priority.values]
        self.phone = Ticket.Channel.PHONE.value
        self.opened_by_agent, self.opened_by_consumer = Author.AGENT.value, Author.CONSUMER.value
        self.created, self.message = Event.CREATED.value, Event.MESSAGE.value
        self.channel_weights = list(accumulate(CHANNELS.values()))
        self.topics: dict[tuple[str, bool], tuple[list[tuple[str, str, int, str, str]], list[int]]] = {}
        for kind in KINDS:
            for linked in (True, False):
                fit = [t for t in TOPICS if t[0] == kind and (linked or "{order}" not in t[4])]
                self.topics[(kind, linked)] = (fit, list(accumulate(t[2] for t in fit)))
        self.created_data = {
            (kind, channel, priority): json.dumps({"kind": kind, "channel": channel, "priority": priority})
            for kind in self.kinds
            for channel in self.channels
            for priority in self.priorities
        }

    def plan(self, consumer_id: int, demo: _Forced | None) -> _Plan:
        """What the ticket is, drawn before its consumer's orders are read (only those about one need them)."""
        rnd, now = self.rnd, self.now
        if demo is not None:  # a refund the demo agent is working on now, about an order not yet refunded
            placed, latest = demo.order.placed, now - rnd.randint(2 * 3600, 30 * 3600)
            created = max(latest, placed + 3600) if placed + 3600 < now - 600 else (placed + now) // 2
            return _Plan(consumer_id, self.refund, OPEN, created, False, demo)
        kind = _pick(rnd, self.kinds, self.kind_weights)
        status = _pick(rnd, self.statuses, self.status_weights)
        _share, mean, oldest = STATUSES[status]
        created = now - min(int(rnd.expovariate(1 / mean) * 86400) + rnd.randint(60, 3600), int(oldest * 86400))
        return _Plan(consumer_id, kind, status, created, rnd.random() < KINDS[kind][1], None)

    def make(self, pk: int, plan: _Plan, tier_id: int | None, orders: list[_Order],
             tickets: list[tuple[Any, ...]], timeline: list[tuple[Any, ...]]) -> None:  # fmt: skip
        rnd = self.rnd
        consumer_id, kind, status, created, _needs_orders, demo = plan
        order = demo.order if demo is not None else None
        if plan.needs_orders:  # one of the consumer's latest orders, placed before the ticket
            earlier = [o for o in orders if o.placed < created - 3600]
            order = rnd.choice(earlier) if earlier else None
        topics, topic_weights = self.topics[(kind, order is not None)]
        _kind, department, _w, subject, message = _pick(rnd, topics, topic_weights)
        priority = _pick(rnd, self.priorities, self.priority_weights[kind])
        channel = _pick(rnd, self.channels, self.channel_weights)
        policy = self.policies[(kind, priority, tier_id)]
        assignee = self._assignee(status) if demo is None else self.agent

        answered = resolved = paused = None
        clock = None if policy is None else sla.started(self.clock, _at(created), policy.first, policy.resolution)
        if status != NEW:
            answered = self._after(created, policy.first if policy else 60, LATE_RESPONSE)
        if status in (RESOLVED, CLOSED):
            resolved = self._after(answered or created, policy.resolution if policy else 1440, LATE_RESOLUTION)
        if status == PENDING and policy is not None:
            paused = answered
        state = self._state(clock, answered, resolved, paused)
        updated = max(x for x in (created, answered, resolved) if x is not None)

        at = _instant
        tickets.append((
            pk, subject, kind, channel, status, priority, self.departments[department], assignee, consumer_id, tier_id,
            order.id if order else None, order.merchant_id if order else None, at(created), at(updated), at(answered),
            at(resolved), policy.id if policy else None, clock and clock.first_response_due,
            clock and clock.resolution_due, state, at(paused), None,
        ))  # fmt: skip
        consumer = self.opened_by_consumer
        opener, opened_by = (
            (self.opened_by_agent, assignee or self.agent) if channel == self.phone else (consumer, None)
        )
        timeline.append((pk, self.created, opener, opened_by, "", self.created_data[(kind, channel, priority)],
                         at(created)))  # fmt: skip
        body = message.replace("{order}", order.order_no if order else "").replace(
            "{item}", order.item if order else "商品"
        )
        timeline.append((pk, self.message, consumer, None, body, "{}", at(created)))
        if answered is not None:
            author = assignee or self.agent
            if status == PENDING:
                reply = rnd.choice(ASK)
            elif status == OPEN:
                reply = rnd.choice(ACKNOWLEDGE)
            else:
                reply = rnd.choice(SETTLE[kind])
            reply = reply.replace("{agent}", self.names.get(author or 0) or "客服")
            timeline.append((pk, self.message, self.opened_by_agent, author, reply, "{}", at(answered)))

    def _assignee(self, status: str) -> int | None:
        draw = self.rnd.random()
        if status in (NEW, OPEN, PENDING):  # a third the demo agent's, most others queued
            return self.agent if draw < 1 / 3 else self.supervisor if draw < 0.5 else None
        return self.agent if draw < 0.4 else self.supervisor if draw < 0.75 else None

    def _after(self, start: int, target_minutes: int, late_share: float) -> int:
        """When a response or resolution came: mostly within its target, some late, never after now."""
        rnd = self.rnd
        share = rnd.uniform(1.05, 2.5) if rnd.random() < late_share else rnd.uniform(0.05, 0.9)
        begin = self._business(start)
        business = begin + max(60, int(target_minutes * 60 * share))
        if business < self.business_now:
            return self._instant(business)
        if begin < self.business_now:  # the clock ran out: an answer before now, inside business hours
            return self._instant(rnd.randint(begin + 1, self.business_now))
        return start + int((self.now - start) * rnd.uniform(0.1, 0.9))  # after hours: the late shift answered

    def _business(self, at: int) -> int:
        """Business seconds from the timetable's first opening to the instant ``at`` (epoch seconds)."""
        return int(self.clock.business(_at(at)).total_seconds())

    def _instant(self, business: int) -> int:
        """The instant (epoch seconds) with ``business`` business seconds before it."""
        return int(self.clock.instant(timedelta(seconds=business)).timestamp())

    def _state(self, clock: sla.Clock | None, answered: int | None, resolved: int | None, paused: int | None) -> str:
        """The SLA state the services give: settled for a resolved ticket, else the state now (paused if waiting)."""
        if clock is None:
            return NO_SLA
        clock = replace(clock, first_response_at=_instant(answered), paused_at=_instant(paused))
        if resolved is not None:
            return sla.settled(self.clock, clock, _at(resolved))[1]
        return sla.state(self.clock, clock, self.now_at)


def _pick(rnd: Random, items: Sequence[T], cum_weights: Sequence[float]) -> T:
    """``rnd.choices(items, cum_weights=...)[0]`` at a fifth of its cost."""
    return items[bisect_right(cum_weights, rnd.random() * cum_weights[-1])]


def _at(at: int) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _instant(at: int | None) -> datetime | None:
    return None if at is None else _at(at)


# --- the demo refunds --------------------------------------------------------------------------


def _refund_candidates(consumer_ids: list[int]) -> list[_Forced]:
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
    manual = refundable.filter(consumer__tier=restricted)
    fields = ("pk", "order_no", "consumer_id", "merchant_id", "placed_at", "item_title", "amount")
    chosen: list[_Forced] = []
    for orders in (instant, manual):
        consumers: set[int] = set()
        for order in orders.only(*fields)[:50]:
            index = bisect_left(consumer_ids, order.consumer_id)  # the ids are sorted, as crm's seeder leaves them
            if order.consumer_id in consumers or consumer_ids[index : index + 1] != [order.consumer_id]:
                continue
            consumers.add(order.consumer_id)
            found = _Order(
                order.pk, order.order_no, order.merchant_id, int(order.placed_at.timestamp()), order.item_title
            )
            chosen.append(_Forced(index, found, order.amount))
            if len(consumers) == DEMO_REFUNDS:
                break
    return chosen


def _demo_refunds(ctx: SeedContext, made: list[tuple[int, _Forced]], agent_id: int | None) -> int:
    agent = get_user_model().objects.filter(pk=agent_id).first() if agent_id else None
    for ticket_id, demo in made:
        ticket = Ticket.objects.select_related("order").get(pk=ticket_id)
        assert ticket.order is not None
        refunds.request_refund(
            ticket.order, demo.amount, ticket.subject, key=f"demo-ticket-{ticket_id}", requested_by=agent,
            ticket=ticket, now=ctx.now,
        )  # fmt: skip
    return len(made)
