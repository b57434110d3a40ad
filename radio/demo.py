"""Demo radio: channels of several departments, the demo business user's subscriptions, and a week on air.

Every case on the demo radio went through the real services: nominated from a demo ticket (the quote
is that ticket's consumer's own words, masked) or a QA finding, merged with its duplicates (so the
count is how many customers said it), approved by the demo supervisor into its channel the evening
before, and built into the morning's digest. Older items are acknowledged and answered by the demo
business user; some were never acknowledged, for the curators' view. Today's digests are built too,
so the business user finds something on /radio/ at once; a few nominations wait for screening and
one was rejected, so the agent sees its reason. Audio is queued on commit: a running worker records
it (`make run` starts one).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.seeding import SeedContext
from core.users import Actor
from qa.models import Finding, Segment, Speaker, Transcript
from radio import building, services, sources
from radio.models import Channel, Digest, DigestItem, Nomination, SourceKind, Subscription
from tickets.models import Department, Ticket, TicketEvent

WEEK = 7  # days of digests before today's
CANDIDATES = 400  # latest tickets per department considered, whatever the demo's scale

# code, department, name, description
CHANNELS = (
    ("logistics-delivery", "logistics", "快递与配送", "揽收、转运、派送、驿站与签收：顾客对物流的原话。"),
    ("app-ordering", "product", "App 与下单体验", "下单、改地址、开发票：App 里顾客做不到的事。"),
    ("refunds-policy", "refunds", "退款政策", "退款规则、时效与到账：顾客觉得不合理的地方。"),
    ("product-listings", "product", "商品与详情页", "详情页、尺码、发货时间与保修说明。"),
    ("returns", "after-sales", "退换货体验", "退货运费、流程入口、破损与发错货。"),
    ("merchant-service", "complaints", "商家服务", "不发货、客服态度、描述不符。"),
    ("disputes", "disputes", "维权与假货", "平台介入、疑似假货、退货后不退款。"),
)
SUBSCRIBED = ("logistics-delivery", "refunds-policy", "app-ordering")  # the demo business user (物流部陈经理)

# The tickets demo's subjects (tickets/demo.py TOPICS) → channel, curator's headline, agent's note, severity.
TOPICS: dict[str, tuple[str, str, str, int]] = {
    "快递三天没动了": ("logistics-delivery", "揽收后多日不更新物流", "集中在华东转运中心，近三天同类咨询明显增多", 2),
    "快递员未经同意放驿站": (
        "logistics-delivery",
        "快递员未经同意放驿站，还显示本人签收",
        "顾客要求先电话确认再放驿站",
        3,
    ),
    "显示签收但没收到": ("logistics-delivery", "物流显示签收，顾客却没收到包裹", "多为代签收，顾客要求平台介入", 3),
    "修改收货地址": (
        "app-ordering",
        "下单后无法在 App 里自己改收货地址",
        "顾客问能否在订单详情里直接改，现在只能找客服",
        2,
    ),
    "开发票": ("app-ordering", "App 里找不到开发票的入口", "建议在订单页加上开票入口", 1),
    "申请退款：质量问题": ("refunds-policy", "质量问题退款还要顾客自付运费", "顾客认为质量问题不该自己出运费", 2),
    "拍错了，申请退款": ("refunds-policy", "未发货订单取消后退款太慢", "顾客希望未发货订单能秒退", 1),
    "退款还没到账": ("refunds-policy", "退款审核通过三天仍未到账", "银行卡退款时效说明不清，顾客反复来问", 3),
    "仅退款：未收到货": ("refunds-policy", "签收未收到，申请仅退款被拒", "需要物流部门配合取证", 3),
    "Refund request": ("refunds-policy", "Overseas buyers: damaged on arrival, want a refund", "英文沟通的海外买家", 2),
    "咨询发货时间": ("product-listings", "预售商品没写清楚发货时间", "顾客反复咨询什么时候发货", 1),
    "尺码怎么选": ("product-listings", "尺码表不准，顾客不知道怎么选", "建议详情页加实测尺码", 1),
    "Warranty question": ("product-listings", "Warranty terms missing on the product page", "英文咨询保修政策", 1),
    "尺码不合适想退货": ("returns", "尺码不合适退货，运费谁出说不清", "顾客不了解运费险规则", 2),
    "收到商品破损": ("returns", "收到商品外包装破损、有划痕", "包装太薄，建议加固", 3),
    "七天无理由退货": ("returns", "七天无理由退货找不到流程入口", "退货地址和流程说明不清", 2),
    "颜色发错了": ("returns", "仓库发错颜色", "同一批次多次发错，建议核查拣货", 3),
    "商家不发货": ("merchant-service", "付款五天商家仍不发货", "多家小店同类问题", 3),
    "客服态度差": ("merchant-service", "商家客服态度差、问三遍不回复", "顾客情绪激动，要求投诉", 3),
    "虚假宣传": ("merchant-service", "商品与详情页描述完全不符", "涉嫌虚假宣传，建议核查", 4),
    "申请平台介入": ("disputes", "商家拒绝退款，顾客申请平台介入", "维权量上升", 3),
    "疑似假货": ("disputes", "顾客投诉疑似假货，商家不认", "高风险，需品控介入", 4),
    "退货后商家不退款": ("disputes", "退货签收一周商家仍不退款", "建议对超时商家自动退款", 3),
}
# The QA demo's calls (qa/demo.py), by the consumer's first words → the ticket subject they are a duplicate of.
CALL_TOPICS = {
    "我的订单": "商家不发货",
    "我收到的耳机是坏的": "申请退款：质量问题",
    "快递显示签收了": "显示签收但没收到",
    "你们这个客服怎么回事": "客服态度差",
    "商品和描述完全不一样": "虚假宣传",
    "退款什么时候能到": "退款还没到账",
    "My parcel never arrived": "显示签收但没收到",
    "I have asked three times": "退款还没到账",
}
CALLS = 2000  # latest call transcripts considered
REPLIES = (
    "收到，本周和快递公司一起复盘。",
    "已排期，周五上线修复。",
    "已转给仓库负责人跟进。",
    "下周一更新说明文案。",
    "已联系商家整改，月底前回顾效果。",
)
REJECTION = "个例，已在工单里解决，不代表普遍问题。"


def seed(ctx: SeedContext) -> dict[str, int]:
    users = {u.username: u for u in get_user_model().objects.filter(username__in=("agent", "supervisor", "business"))}
    agent, curator, business = users.get("agent"), users.get("supervisor"), users.get("business")
    departments = {d.code: d for d in Department.objects.all()}
    channels: dict[str, Channel] = {}
    for code, dept, name, description in CHANNELS:
        if dept in departments:
            channels[code] = Channel.objects.get_or_create(
                code=code, defaults={"department": departments[dept], "name": name, "description": description}
            )[0]
    if business is not None:
        for code in SUBSCRIBED:
            if code in channels:
                Subscription.objects.get_or_create(user=business, channel=channels[code])
    if not channels or agent is None or curator is None:
        return {"radio channels": len(channels)}
    pool = _candidates(ctx, departments)
    today = ctx.now.date()
    rnd = ctx.random
    # Cases are chosen for today first (the morning the demo opens on gets the most), then day by day back;
    # each is approved the evening before its morning, so building the days in order puts each in its digest.
    for back in range(WEEK + 1):
        day = today - timedelta(days=back)
        evening = _at(day - timedelta(days=1), 9)
        for code, channel in channels.items():
            _air(ctx, pool, code, channel, evening, agent, curator, topics=3 if back == 0 else None)
    _finding_on_air(today, channels, agent, curator)
    for back in range(WEEK, -1, -1):
        day = today - timedelta(days=back)
        building.build_digests(day, now=_at(day, 8, 30))
        if business is not None and day < today:
            _answer(rnd, day, business)
    _waiting(pool, channels, today, agent, curator)
    return {
        "radio channels": len(channels),
        "radio nominations": Nomination.objects.count(),
        "radio digests": Digest.objects.count(),
    }


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


Pool = dict[str, list[tuple[str, int, datetime]]]


def _candidates(ctx: SeedContext, departments: dict[str, Department]) -> Pool:
    """Demo tickets and calls with the consumer's words, by topic, oldest first (bounded queries at any scale)."""
    said = TicketEvent.objects.filter(
        ticket=OuterRef("pk"), kind=TicketEvent.Kind.MESSAGE, author_kind=TicketEvent.Author.CONSUMER
    )
    pool: Pool = defaultdict(list)
    for department in departments.values():
        rows = (
            Ticket.objects.filter(department=department, subject__in=list(TOPICS), created_at__lt=ctx.now)
            .filter(Exists(said))
            .order_by("-created_at")
            .values_list("subject", "pk", "created_at")[:CANDIDATES]
        )
        for subject, pk, created in rows:
            pool[subject].append((SourceKind.TICKET, pk, created))
    calls = dict(
        Transcript.objects.filter(kind=Transcript.Kind.CALL, started_at__lt=ctx.now)
        .order_by("-started_at")
        .values_list("pk", "started_at")[:CALLS]
    )
    first_words = (
        Segment.objects.filter(transcript_id__in=list(calls), speaker=Speaker.CONSUMER)
        .order_by("transcript_id", "seq")
        .distinct("transcript_id")
        .values_list("transcript_id", "text")
    )
    for transcript_id, text in first_words:
        topic = next((t for prefix, t in CALL_TOPICS.items() if text.startswith(prefix)), None)
        if topic is not None:
            pool[topic].append((SourceKind.TRANSCRIPT, transcript_id, calls[transcript_id]))
    for cases in pool.values():
        cases.sort(key=lambda case: case[2])
    return pool


def _take(pool: Pool, subject: str, before: datetime, n: int) -> list[tuple[str, int]]:
    ready = [case for case in pool[subject] if case[2] < before][-n:]  # the latest cases before the nomination
    for case in ready:
        pool[subject].remove(case)
    return [(kind, pk) for kind, pk, _created in ready]


def _quote(source: sources.Source, subject: str) -> str:
    # A call's consumer says goodbye too: the agent keeps their first words, the complaint itself.
    if source.kind == SourceKind.TRANSCRIPT:
        return source.quote.split("\n")[0] or subject
    return source.quote or subject


def _air(ctx: SeedContext, pool: Pool, code: str, channel: Channel, evening: datetime, agent: Actor, curator: Actor,
         *, topics: int | None = None) -> None:  # fmt: skip
    """One channel's cases of one day: a few topics, each nominated by several customers' tickets and merged."""
    rnd = ctx.random
    open_topics = [s for s, (c, *_rest) in TOPICS.items() if c == code and pool[s]]
    for subject in rnd.sample(open_topics, k=min(len(open_topics), topics or rnd.choice((1, 2, 2, 3)))):
        _channel, headline, note, severity = TOPICS[subject]
        at = evening + timedelta(minutes=rnd.randrange(0, 540))
        cases = _take(pool, subject, at, rnd.choice((1, 1, 2, 3, 4, 6)))
        if not cases:
            continue
        nominated = []
        for kind, pk in cases:
            source = sources.resolve(kind, pk)
            nominated.append(
                services.nominate(
                    source,
                    by=agent,
                    quote=_quote(source, subject),
                    note=note,
                    channel=channel,
                    severity=severity,
                    now=at,
                )[0]
            )
        primary = nominated[0]
        if len(nominated) > 1:
            services.merge_nominations(primary, nominated[1:], by=curator, now=at + timedelta(hours=1))
        services.approve_nomination(primary, [channel], by=curator, headline=headline, now=at + timedelta(hours=2))


def _answer(rnd: Any, day: date, business: Any) -> None:
    """The business user read most items of the channels they follow; answered some; left a few unread."""
    items = DigestItem.objects.filter(digest__day=day, digest__channel__subscriptions__user=business)
    for item in items.select_related("digest").order_by("pk"):
        roll = rnd.random()
        when = _at(day, 9, rnd.randrange(0, 50))
        if roll < 0.3:
            services.reply_to_item(item, rnd.choice(REPLIES), by=business, now=when)
        elif roll < 0.8:
            services.acknowledge_item(item, by=business, now=when)


def _finding_on_air(day: date, channels: dict[str, Channel], agent: Actor, curator: Actor) -> None:
    """A QA finding from the demo calls, nominated yesterday and approved: a source other than a ticket."""
    finding = (
        Finding.objects.filter(segment__speaker__in=[Speaker.CONSUMER, Speaker.AGENT], severity__gte=3)
        .order_by("pk")
        .first()
    )
    target = channels.get("merchant-service")
    if finding is None or target is None:
        return
    source = sources.resolve("finding", finding.pk)
    if not source.quote:
        return
    at = _at(day - timedelta(days=1), 16)
    made, created = services.nominate(source, by=agent, quote=source.quote, note="质检发现：通话中顾客的原话",
                                      channel=target, now=at)  # fmt: skip
    if created:
        services.approve_nomination(made, [target], by=curator, headline="质检：顾客在通话中的抱怨", now=at)


def _waiting(pool: Pool, channels: dict[str, Channel], today: date, agent: Actor,
             curator: Actor) -> None:  # fmt: skip
    """Nominations made this morning, waiting in the curators' queue; one turned down with its reason."""
    morning = _at(today, 7)
    left = [(subject, kind, pk) for subject, cases in pool.items() for kind, pk, created in cases if created < morning]
    for n, (subject, kind, pk) in enumerate(left[:5]):
        code, _headline, note, severity = TOPICS[subject]
        source = sources.resolve(kind, pk)
        made, _created = services.nominate(source, by=agent, quote=_quote(source, subject), note=note,
                                           channel=channels.get(code), severity=severity, now=morning)  # fmt: skip
        if n == 0:
            services.reject_nomination(made, REJECTION, by=curator, now=morning + timedelta(minutes=20))
