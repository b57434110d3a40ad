"""Demo shops, their orders and reviews, then the nightly jobs run once so the demo tells its story.

Consumers' personas (crm/demo.py) drive refunds, returns, disputes and reviews; every shop has a
quality and a refund speed, so DSR and service scores differ; each malicious consumer gets a recent
episode of negative reviews (a burst across shops, extortion phrases, copied texts, refund demands)
that the risk rules find. Then ratings, risk flags (some confirmed by the demo supervisor) and 30
days of merchant scores are computed with the real services.
"""

from __future__ import annotations

from bisect import bisect
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from django.contrib.auth import get_user_model

from core.seeding import (
    SeedContext,
    analyze,
    copy_rows,
    foreign_keys_checked_after,
    indexes_built_after,
    max_id,
    new_ids,
)
from crm.models import Consumer, Order, Review, RiskFlag
from crm.rating import rate_consumers
from crm.risk import detect_risk_flags
from crm.services import is_negative, review_risk_flags
from merchants.models import Merchant, MerchantMembership
from merchants.scoring import score_merchant_days

ORDERS_PER_SCALE = 2000
MERCHANTS_PER_SCALE = 4
MIN_MERCHANTS = 12
SCORE_HISTORY_DAYS = 30

# category -> (goods, lowest price, highest price) in yuan
CATALOGUE: dict[str, tuple[tuple[str, ...], int, int]] = {
    "数码": (("无线蓝牙耳机", "20000毫安充电宝", "机械键盘", "智能手环", "Type-C数据线", "平板电脑保护套"), 19, 1999),
    "女装": (("法式碎花连衣裙", "针织开衫", "高腰阔腿裤", "羊毛大衣", "真丝衬衫"), 59, 899),
    "母婴": (("婴儿纸尿裤L码", "宝宝辅食米粉", "儿童保温杯", "婴儿推车", "奶瓶套装"), 29, 1599),
    "零食": (("每日坚果礼盒", "手撕牛肉干", "芒果干", "螺蛳粉", "坚果大礼包"), 9, 199),
    "家居": (("乳胶枕", "四件套纯棉床品", "收纳箱", "香薰加湿器", "不锈钢锅具"), 25, 1299),
    "美妆": (("补水面膜", "口红礼盒", "防晒霜SPF50", "精华液", "卸妆水"), 39, 899),
    "运动": (("跑步鞋", "瑜伽垫", "速干T恤", "登山背包", "羽毛球拍"), 39, 1299),
    "生鲜": (("阳澄湖大闸蟹", "赣南脐橙5斤", "智利车厘子", "东北大米10斤", "土鸡蛋30枚"), 19, 599),
}
SHOP_WORDS = (
    "优品",
    "良辰",
    "星河",
    "青木",
    "南山",
    "拾光",
    "初见",
    "云朵",
    "暖阳",
    "橘子",
    "森屿",
    "禾田",
    "鹿角",
    "一禾",
)
SHOP_SUFFIXES = ("旗舰店", "专营店", "专卖店", "官方店", "小铺", "工厂店")
ADJECTIVES = ("新款", "加厚", "爆款", "官方正品", "包邮", "限量", "升级版", "")
CITIES = ("杭州", "广州", "深圳", "上海", "北京", "义乌", "成都", "武汉", "苏州", "厦门")

# persona: (share of orders relative to a regular buyer, refund, return, dispute, review, negative review)
BEHAVIOUR: dict[str, tuple[float, float, float, float, float, float]] = {
    "premium": (7.0, 0.02, 0.01, 0.002, 0.7, 0.03),
    "loyal": (2.5, 0.04, 0.02, 0.005, 0.5, 0.05),
    "regular": (1.0, 0.07, 0.04, 0.01, 0.35, 0.08),
    "new": (0.3, 0.08, 0.05, 0.01, 0.2, 0.1),
    "risky": (1.5, 0.45, 0.3, 0.15, 0.3, 0.35),
    "malicious": (1.2, 0.3, 0.2, 0.1, 0.8, 0.7),
}
GOOD_TEXTS = (
    "质量很好，物流也快，好评！", "和描述一致，包装很用心", "客服态度很好，耐心解答问题", "第二次回购了，值得推荐",
    "性价比很高，家里人都说好", "发货速度快，第二天就到了", "Good quality and fast delivery, thank you!",
    "面料舒服，尺码标准", "", "",
)  # fmt: skip
BAD_TEXTS = (
    "发货太慢了，等了一个星期", "和图片有色差，不太满意", "质量一般，用了两天就坏了", "客服回复很慢",
    "包装破损，东西有划痕", "The item did not match the description.", "",
)  # fmt: skip
EXTORTION_TEXTS = (
    "不退款就差评，你们看着办",
    "不赔钱就投诉到平台，说到做到",
    "返现20元就改好评，不然差评",
    "差评等着吧，走着瞧",
)
COPIED_TEXT = "垃圾商家，假货！大家千万别买，骗子店铺，死全家！！"  # copied three times: also abuse


def seed(ctx: SeedContext) -> dict[str, int]:
    rnd = ctx.random
    now = ctx.now
    merchant_count = max(MIN_MERCHANTS, MERCHANTS_PER_SCALE * ctx.scale)
    categories = list(CATALOGUE)
    # Per shop: quality (how its stars lean) and refund speed in hours.
    quality = [rnd.uniform(-1.2, 0.4) for _ in range(merchant_count)]
    refund_speed = [rnd.choice((2, 6, 12, 24, 48, 96)) for _ in range(merchant_count)]
    before = max_id(Merchant)

    def merchant_rows() -> Iterator[tuple[Any, ...]]:
        for n in ctx.progress(range(1, merchant_count + 1), total=merchant_count, desc="merchants"):
            category = categories[(n - 1) % len(categories)]
            name = rnd.choice(SHOP_WORDS) + category + rnd.choice(SHOP_SUFFIXES)
            opened = now - timedelta(days=rnd.randint(200, 365 * 10))
            city = rnd.choice(CITIES)
            # Every demo shop has a return address, so trusted consumers' returns are approved at once.
            yield (f"M{ctx.seed:03d}{n:06d}", name, category, city, opened, f"{city} {name} 售后退货仓")

    fields = ["code", "name", "category", "city", "opened_at", "return_address"]
    made = copy_rows(Merchant, fields, merchant_rows())
    merchant_ids = new_ids(Merchant, before)
    demo_user = get_user_model().objects.filter(username="merchant").first()
    if demo_user is not None and merchant_ids:
        MerchantMembership.objects.get_or_create(user=demo_user, defaults={"merchant_id": merchant_ids[0]})

    consumer_ids: list[int] = ctx.made["consumer_ids"]
    personas: list[str] = ctx.made["personas"]
    cumulative = list(accumulate(BEHAVIOUR[p][0] for p in personas))
    # What rnd.choices(range(n), cum_weights=cumulative)[0] does, the same draw, without its checks a call.
    weight, last = cumulative[-1] + 0.0, len(cumulative) - 1
    total = ORDERS_PER_SCALE * ctx.scale
    reviews: list[tuple[Any, ...]] = []  # (order index, consumer, merchant, stars..., text, created)

    def order_rows() -> Iterator[tuple[Any, ...]]:
        for n in ctx.progress(range(total), total=total, desc="orders"):
            c = bisect(cumulative, rnd.random() * weight, 0, last)
            m = rnd.randrange(merchant_count)
            yield _order(ctx, n, consumer_ids[c], personas[c], merchant_ids[m], m, categories, quality, refund_speed,
                         reviews)  # fmt: skip
        # Each malicious consumer's recent episode: six shops in five days.
        position = total
        for c, persona in enumerate(personas):
            if persona == "malicious":
                episode = _episode(ctx, c, position, consumer_ids[c], merchant_ids, categories, reviews)
                position += len(episode)
                yield from episode

    order_fields = [
        "order_no", "consumer", "merchant", "item_title", "amount", "status", "placed_at", "delivered_at",
        "refund_requested_at", "refunded_at", "refunded_amount", "returned", "dispute", "dispute_closed_at",
    ]  # fmt: skip
    # The nightly jobs below read through the indexes.
    with indexes_built_after(Order, Review), foreign_keys_checked_after(Order, Review):
        before_orders = max_id(Order)
        orders = copy_rows(Order, order_fields, order_rows())
        order_ids = new_ids(Order, before_orders)
        review_count = copy_rows(
            Review,
            [
                "order",
                "consumer",
                "merchant",
                "item_stars",
                "service_stars",
                "logistics_stars",
                "text",
                "is_negative",
                "moderation",
                "created_at",
            ],
            ((order_ids[i], *rest) for i, *rest in ctx.progress(reviews, total=len(reviews), desc="reviews")),
        )

    # The nightly jobs, once, so that the demo has ratings, flags and a month of score history; they plan their
    # queries on the rows just loaded.
    analyze(Consumer, Merchant, Order, Review)
    detect_risk_flags(now=now)
    supervisor = get_user_model().objects.filter(username="supervisor").first()
    open_flags = RiskFlag.objects.filter(status=RiskFlag.Status.OPEN).order_by("consumer__external_id", "kind")
    # By natural key, so the same seed confirms the same flags: a third by the demo supervisor, the rest wait.
    confirmed = [flag for i, flag in enumerate(open_flags.only("pk")) if i % 3 == 0]
    review_risk_flags(confirmed, status=RiskFlag.Status.CONFIRMED, reviewer=supervisor, note="演示：证据确凿")
    rate_consumers(now=now)
    today = now.date()
    score_merchant_days(today - timedelta(days=SCORE_HISTORY_DAYS), today - timedelta(days=1))
    flags = RiskFlag.objects.count()
    return {"merchants": made, "orders": orders, "reviews": review_count, "risk flags": flags}


def _order(
    ctx: SeedContext,
    n: int,
    consumer_id: int,
    persona: str,
    merchant_id: int,
    m: int,
    categories: list[str],
    quality: list[float],
    refund_speed: list[int],
    reviews: list[tuple[Any, ...]],
) -> tuple[Any, ...]:
    rnd = ctx.random
    _weight, p_refund, p_return, p_dispute, p_review, p_negative = BEHAVIOUR[persona]
    goods, low, high = CATALOGUE[categories[m % len(categories)]]
    title = rnd.choice(ADJECTIVES) + rnd.choice(goods)
    # Prices cluster low, as they do in real baskets, with a long tail.
    amount = (Decimal(low) + Decimal(str(round((high - low) * rnd.random() ** 2.5, 2)))).quantize(Decimal("0.01"))
    placed = ctx.now - timedelta(minutes=rnd.randint(60, 60 * 24 * 365))
    age_days = (ctx.now - placed).days
    delivered = placed + timedelta(hours=rnd.randint(20, 120)) if age_days > 5 else None
    status = (
        Order.Status.PAID if age_days < 1 else Order.Status.SHIPPED if delivered is None else Order.Status.COMPLETED
    )
    if delivered is not None and age_days < 12:
        status = Order.Status.DELIVERED
    if delivered is None and rnd.random() < 0.05:
        status = Order.Status.CANCELLED
    requested = refunded = None
    refunded_amount = Decimal("0.00")
    returned = False
    dispute, dispute_closed = "", None
    if delivered is not None and rnd.random() < p_refund:
        requested = delivered + timedelta(hours=rnd.choice((0.5, 3, 20, 50)))
        refunded = requested + timedelta(hours=refund_speed[m] * rnd.uniform(0.5, 1.5))
        refunded_amount = amount if rnd.random() < 0.8 else (amount / 2).quantize(Decimal("0.01"))
        returned = rnd.random() < p_return / max(p_refund, 0.01)
        status = Order.Status.REFUNDED
    if delivered is not None and rnd.random() < p_dispute:
        consumer_wins = 0.3 if persona in ("risky", "malicious") else 0.7
        dispute = Order.Dispute.CONSUMER_WON if rnd.random() < consumer_wins else Order.Dispute.MERCHANT_WON
        dispute_closed = delivered + timedelta(days=rnd.randint(2, 10))
    if delivered is not None and status != Order.Status.REFUNDED and rnd.random() < p_review:
        lean = quality[m]
        if rnd.random() < p_negative:
            stars = [rnd.randint(1, 2), rnd.randint(1, 3), rnd.randint(1, 3)]
            text = rnd.choice(BAD_TEXTS)
        else:
            stars = [max(1, min(5, round(rnd.gauss(4.7 + lean, 0.6)))) for _ in range(3)]
            text = rnd.choice(GOOD_TEXTS) if min(stars) >= 3 else rnd.choice(BAD_TEXTS)
        created = delivered + timedelta(hours=rnd.randint(2, 200))
        if created < ctx.now:
            reviews.append((n, consumer_id, merchant_id, *stars, text, is_negative(*stars), "published", created))
    order_no = f"{ctx.seed:03d}{n:012d}"
    return (order_no, consumer_id, merchant_id, title, amount, status, placed, delivered, requested, refunded,
            refunded_amount, returned, dispute, dispute_closed)  # fmt: skip


def _episode(
    ctx: SeedContext,
    c: int,
    position: int,
    consumer_id: int,
    merchant_ids: list[int],
    categories: list[str],
    reviews: list[tuple[Any, ...]],
) -> list[tuple[Any, ...]]:
    """Six orders at six shops, negative reviews within five days, some texts copied or extorting.

    ``position`` is the index the first of these orders has among all the orders generated.
    """
    rnd = ctx.random
    rows = []
    start = ctx.now - timedelta(days=rnd.randint(8, 40))
    for k, m in enumerate(rnd.sample(range(len(merchant_ids)), min(6, len(merchant_ids)))):
        goods, low, high = CATALOGUE[categories[m % len(categories)]]
        amount = Decimal(rnd.randint(low, min(high, 300))).quantize(Decimal("0.01"))
        delivered = start + timedelta(hours=20 * k)
        placed = delivered - timedelta(days=2)
        reviewed = delivered + timedelta(hours=3)
        requested = reviewed + timedelta(hours=20) if k < 4 else None  # review first, then the refund demand
        text = COPIED_TEXT if k % 2 == 0 else rnd.choice(EXTORTION_TEXTS)
        reviews.append((position + k, consumer_id, merchant_ids[m], 1, 1, rnd.randint(1, 2), text, True, "published",
                        reviewed))  # fmt: skip
        rows.append((f"{ctx.seed:03d}E{c:07d}{k}", consumer_id, merchant_ids[m], rnd.choice(goods), amount,
                     Order.Status.DELIVERED, placed, delivered, requested, None, Decimal("0.00"), False, "",
                     None))  # fmt: skip
    return rows
