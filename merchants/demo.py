"""Demo shops and their orders: Chinese shop names, goods and yuan amounts by category."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model

from core.seeding import SeedContext, copy_rows, max_id, new_ids
from crm.models import Order
from merchants.models import Merchant, MerchantMembership

ORDERS_PER_SCALE = 2000
MERCHANTS_PER_SCALE = 4
MIN_MERCHANTS = 12

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
STATUS_WEIGHTS = (
    (Order.Status.COMPLETED, 55),
    (Order.Status.DELIVERED, 12),
    (Order.Status.SHIPPED, 10),
    (Order.Status.PAID, 8),
    (Order.Status.REFUNDED, 9),
    (Order.Status.CANCELLED, 6),
)


def seed(ctx: SeedContext) -> dict[str, int]:
    rnd = ctx.random
    now = ctx.now
    merchant_count = max(MIN_MERCHANTS, MERCHANTS_PER_SCALE * ctx.scale)
    categories = list(CATALOGUE)
    before = max_id(Merchant)

    def merchant_rows() -> Iterator[tuple[Any, ...]]:
        for n in ctx.progress(range(1, merchant_count + 1), total=merchant_count, desc="merchants"):
            category = categories[(n - 1) % len(categories)]
            name = rnd.choice(SHOP_WORDS) + category + rnd.choice(SHOP_SUFFIXES)
            opened = now - timedelta(days=rnd.randint(30, 365 * 10))
            yield (f"M{ctx.seed:03d}{n:06d}", name, category, rnd.choice(CITIES), opened)

    made = copy_rows(Merchant, ["code", "name", "category", "city", "opened_at"], merchant_rows())
    merchant_ids = new_ids(Merchant, before)
    consumer_ids: list[int] = ctx.made["consumer_ids"]

    demo_user = get_user_model().objects.filter(username="merchant").first()
    if demo_user is not None and merchant_ids:
        MerchantMembership.objects.get_or_create(user=demo_user, defaults={"merchant_id": merchant_ids[0]})

    statuses = [s for s, _w in STATUS_WEIGHTS]
    weights = [w for _s, w in STATUS_WEIGHTS]
    total = ORDERS_PER_SCALE * ctx.scale
    cents = Decimal("0.01")

    def order_rows() -> Iterator[tuple[Any, ...]]:
        for n in ctx.progress(range(1, total + 1), total=total, desc="orders"):
            # Merchants were made in order, the n-th in categories[n % len]: no lookup needed.
            i = rnd.randrange(len(merchant_ids))
            goods, low, high = CATALOGUE[categories[i % len(categories)]]
            title = rnd.choice(ADJECTIVES) + rnd.choice(goods)
            # Prices cluster low, as they do in real baskets, with a long tail.
            amount = (Decimal(low) + Decimal(str(round((high - low) * rnd.random() ** 2.5, 2)))).quantize(cents)
            placed = now - timedelta(minutes=rnd.randint(1, 60 * 24 * 365))
            status = rnd.choices(statuses, weights)[0]
            yield (f"{ctx.seed:03d}{n:012d}", rnd.choice(consumer_ids), merchant_ids[i], title, amount, status, placed)

    orders = copy_rows(
        Order, ["order_no", "consumer", "merchant", "item_title", "amount", "status", "placed_at"], order_rows()
    )
    return {"merchants": made, "orders": orders}
