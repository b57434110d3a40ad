"""What one demo ticket looks like: kinds, channels, priorities and statuses weighted as they are in practice,
the consumer's words and the agent's reply, and the SLA the services would give it (``tickets.sla``).

Pure generation from a seeded random source: no query. ``tickets.demo_tickets`` reads what it needs and loads
the rows.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from random import Random
from typing import Any, NamedTuple, TypeVar

from core.seeding import SeedContext
from tickets import sla
from tickets.models import Ticket, TicketEvent

T = TypeVar("T")

HISTORY_DAYS = 60

Kind, Status, Priority, State = Ticket.Kind, Ticket.Status, Ticket.Priority, Ticket.SLAState
Event, Author = TicketEvent.Kind, TicketEvent.Author
# Plain strings for the ticket loop: reading an enum member costs a descriptor call each time.
NEW, OPEN, PENDING, RESOLVED, CLOSED = (s.value for s in (Status.NEW, Status.OPEN, Status.PENDING, Status.RESOLVED,
                                                            Status.CLOSED))  # fmt: skip
NO_SLA = State.NONE.value

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


class DemoOrder(NamedTuple):
    id: int
    order_no: str
    merchant_id: int
    placed: int  # epoch seconds
    item: str


@dataclass(frozen=True)
class Forced:
    """A demo ticket made for a refund request: its consumer, order, and the amount to ask for."""

    consumer_index: int
    order: DemoOrder
    amount: Decimal


class Plan(NamedTuple):
    consumer_id: int
    kind: str
    status: str
    created: int  # epoch seconds
    needs_orders: bool  # about one of the consumer's orders, to be chosen once they are read
    demo: Forced | None


@dataclass
class Policy:
    id: int
    first: int
    resolution: int


class TicketMaker:
    """Draws one ticket and its timeline at a time; all times are epoch seconds until written."""

    def __init__(self, ctx: SeedContext, clock: sla.Timetable, now: int, users: dict[str, int],
                 names: dict[int, str], departments: dict[str, int],
                 policies: dict[tuple[str, int, int | None], Policy | None]) -> None:  # fmt: skip
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

    def plan(self, consumer_id: int, demo: Forced | None) -> Plan:
        """What the ticket is, drawn before its consumer's orders are read (only those about one need them)."""
        rnd, now = self.rnd, self.now
        if demo is not None:  # a refund the demo agent is working on now, about an order not yet refunded
            placed, latest = demo.order.placed, now - rnd.randint(2 * 3600, 30 * 3600)
            created = max(latest, placed + 3600) if placed + 3600 < now - 600 else (placed + now) // 2
            return Plan(consumer_id, self.refund, OPEN, created, False, demo)
        kind = _pick(rnd, self.kinds, self.kind_weights)
        status = _pick(rnd, self.statuses, self.status_weights)
        _share, mean, oldest = STATUSES[status]
        created = now - min(int(rnd.expovariate(1 / mean) * 86400) + rnd.randint(60, 3600), int(oldest * 86400))
        return Plan(consumer_id, kind, status, created, rnd.random() < KINDS[kind][1], None)

    def make(self, pk: int, plan: Plan, tier_id: int | None, orders: list[DemoOrder],
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
