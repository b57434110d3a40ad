# ruff: noqa: E501  (the word lists are Chinese: wide characters, short lines)
"""Benchmark: the malicious-reviewer rules and the credit score on a generated population.

    .venv/bin/python bench/risk.py --consumers 3000 --seed 7

Builds a scratch database with good, risky and malicious consumers (2 : 0.6 : 0.4), their orders and reviews,
runs the risk rules and the rating as of one moment, and prints, per kind, the share flagged (any open
flag, and by flag kind), the AUC of the credit score (good against malicious, and good against risky), and
the tiers. Target (issue 11): malicious flagged >= 0.9 with no good consumer flagged.

The wording is generated from a grammar with many synonyms, so most extortion reviews are not in the seeded
risk patterns verbatim, some use words the patterns do not list at all, and some extortion reviews are dated
just inside or outside half a year. Honest consumers complain too, naming refunds and bad reviews
("商家不给退款，差评") without making them a condition.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

ITEMS = ["无线蓝牙耳机", "连衣裙", "保温杯", "机械键盘", "猫粮", "床上四件套", "洗面奶", "运动鞋", "台灯", "充电宝"]
FAULTS = ["质量太差", "物流太慢了", "和描述不符", "客服态度很差", "包装破损", "尺码不对", "用了两天就坏了", "有异味",
          "颜色和图片差很多", "发错货了"]  # fmt: skip
HONEST_ENDS = ["，已经退款了", "，申请了退货退款", "，商家给退了，还行", "，差评", "，不推荐", "，商家不给退款，差评",
               "，客服不处理，差评！", "。退款到账了，但是体验很差", "，要求赔偿，商家处理得还可以", "，给一星",
               "，我已经投诉到平台了", "，不会再买了", "", "，失望"]  # fmt: skip
PRAISE = ["很好，物美价廉", "物流很快，好评", "和描述一致", "客服很耐心", "第二次购买了，推荐", "好评返现活动不错",
          "包装很用心", "质量不错，值这个价", "", "孩子很喜欢"]  # fmt: skip
# The extortion grammar: refusals, conditions, threats, with synonyms the seeded patterns do not all list.
REFUSE = ["不退款", "不给退款", "不给我退钱", "不退钱", "不赔偿", "不给个说法", "不把钱退回来", "拒绝退款", "不同意退款",
          "不全额退款", "不赔钱", "不返现", "不给我补偿", "不处理退款", "还不退款", "不把钱还给我", "不赔我损失"]  # fmt: skip
if TYPE_CHECKING:
    from crm.models import Consumer, RiskFlag

THEN = ["就", "我就", "那我就", "立马", "马上", "直接", "的话我就", "的话", "那就", "我一定"]
VERB = ["给你", "打", "写", "发", "", "去", "给"]
THREAT = ["差评", "一星", "投诉", "曝光", "举报", "12315投诉", "差评到底", "天天差评", "消协投诉", "发微博曝光你们",
          "找媒体曝光", "一星差评", "全网差评"]  # fmt: skip
MONEY = ["赶紧退款", "马上退钱", "给我退款", "全额退款", "赔我100", "补偿我50块", "给我个说法", "退一半", "把钱退了",
         "返现30", "给我赔偿"]  # fmt: skip
CONDITION = ["否则", "不然", "要不然", "要么", "不然的话", "再不退", "要不"]
UNDO = ["改好评", "删差评", "撤销投诉", "追加好评", "删掉差评"]
UNSEEN = ["钱不还我，我天天来刷一星", "不给钱我就让你店铺开不下去", "退款或者差评，你们自己选", "想要好评？先把钱退了",
          "退了钱再说，不然一星伺候", "不处理好，我保证你们店差评满天飞", "今天不退我明天就去工商局告你们",
          "给不给退？不给我就发抖音曝光"]  # fmt: skip
COPIED = ["垃圾", "骗子店铺", "质量差到极点", "千万别买", "差差差"]


def extortion(rng: random.Random) -> str:
    form = rng.random()
    if form < 0.4:
        return f"{rng.choice(FAULTS)}，{rng.choice(REFUSE)}{rng.choice(THEN)}{rng.choice(VERB)}{rng.choice(THREAT)}"
    if form < 0.65:
        return f"{rng.choice(MONEY)}，{rng.choice(CONDITION)}{rng.choice(VERB)}{rng.choice(THREAT)}！"
    if form < 0.75:
        return f"{rng.choice(['差评', '投诉'])}到你{rng.choice(['退款', '退钱', '赔偿'])}为止"
    if form < 0.87:
        return f"{rng.choice(MONEY)}{rng.choice(['就', '我就', '马上'])}{rng.choice(UNDO)}"
    return rng.choice(UNSEEN)


def honest(rng: random.Random) -> str:
    return f"{rng.choice(FAULTS)}{rng.choice(HONEST_ENDS)}"


class Population:
    """Rows to load, built in memory (a few tens of thousands)."""

    def __init__(self, consumers: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.kinds: dict[str, str] = {}  # external id -> kind
        self.consumers: list[dict[str, object]] = []
        self.orders: list[dict[str, object]] = []
        self.reviews: list[tuple[str, tuple[int, int, int], str, datetime]] = []  # order_no, stars, text, at
        for n in range(consumers):
            share = n / consumers
            kind = "good" if share < 2 / 3 else "risky" if share < 0.86 else "malicious"
            self.person(f"P{n:06d}", kind)

    def person(self, external_id: str, kind: str) -> None:
        rng = self.rng
        self.kinds[external_id] = kind
        age = {"good": rng.uniform(300, 2500), "risky": rng.uniform(60, 900), "malicious": rng.uniform(20, 500)}[kind]
        verified = rng.random() < {"good": 0.9, "risky": 0.6, "malicious": 0.3}[kind]
        self.consumers.append({"external_id": external_id, "display_name": f"顾客{external_id}",
                               "phone": f"139{rng.randrange(10**8):08d}" if rng.random() < 0.9 else "",
                               "id_number": "11010519900101123X" if verified else "",
                               "registered_at": NOW - timedelta(days=age)})  # fmt: skip
        count = {"good": rng.randint(8, 40), "risky": rng.randint(6, 25), "malicious": rng.randint(6, 20)}[kind]
        for k in range(count):
            self.order(external_id, kind, k, age)
        if kind == "malicious":
            self.malice(external_id, age)

    def order(self, who: str, kind: str, k: int, age: float) -> None:
        rng = self.rng
        placed = NOW - timedelta(days=rng.uniform(1, min(age, 540)), hours=rng.uniform(0, 23))
        refund_rate = {"good": 0.05, "risky": 0.35, "malicious": 0.3}[kind]
        amount = Decimal(rng.choice(["39.00", "99.00", "199.00", "499.00", "1299.00"]))
        refunded = rng.random() < refund_rate
        status = "refunded" if refunded else rng.choice(["completed", "completed", "completed", "delivered"])
        dispute = ""
        if kind != "good" and rng.random() < 0.15:
            dispute = rng.choice(["merchant_won", "consumer_won", "merchant_won"])
        elif kind == "good" and rng.random() < 0.02:
            dispute = "consumer_won"
        order_no = f"{who}-{k:03d}"
        self.orders.append({
            "order_no": order_no, "consumer": who, "merchant": f"S{rng.randrange(60):03d}", "item_title": rng.choice(ITEMS),
            "amount": amount, "status": status, "placed_at": placed, "delivered_at": placed + timedelta(days=2),
            "refund_requested_at": placed + timedelta(days=2, minutes=rng.choice([20, 300, 3000])) if refunded else None,
            "refunded_at": placed + timedelta(days=3) if refunded else None,
            "refunded_amount": amount if refunded else Decimal("0.00"), "returned": refunded and rng.random() < 0.5,
            "dispute": dispute,
        })  # fmt: skip
        review_rate = {"good": 0.6, "risky": 0.5, "malicious": 0.5}[kind]
        if rng.random() < review_rate:
            negative = rng.random() < {"good": 0.08, "risky": 0.35, "malicious": 0.4}[kind]
            stars = (rng.randint(1, 2), rng.randint(1, 3), rng.randint(2, 4)) if negative else (5, rng.randint(4, 5), 5)
            text = honest(rng) if negative else rng.choice(PRAISE)
            self.reviews.append((order_no, stars, text, placed + timedelta(days=rng.uniform(3, 10))))

    def malice(self, who: str, age: float) -> None:
        """One or more of: extortion reviews (some near half a year old), a burst, copied short texts."""
        rng = self.rng
        styles = rng.sample(["extortion", "extortion", "burst", "copied"], k=rng.randint(1, 2))
        for style in styles:
            if style == "extortion":
                for _ in range(rng.randint(1, 2)):
                    days = rng.choice([rng.uniform(2, 150), rng.uniform(170, 200)])
                    self.extra_review(who, (1, 1, 1), extortion(rng), NOW - timedelta(days=min(days, age)))
            elif style == "burst":
                start = rng.uniform(3, 80)
                for j in range(rng.randint(5, 8)):
                    self.extra_review(who, (1, 1, 2), honest(rng), NOW - timedelta(days=start - j * 0.8))
            else:
                text = rng.choice(COPIED)
                for _copy in range(rng.randint(3, 5)):
                    self.extra_review(who, (1, 2, 1), text, NOW - timedelta(days=rng.uniform(5, 170)))

    def extra_review(self, who: str, stars: tuple[int, int, int], text: str, at: datetime) -> None:
        order_no = f"{who}-x{len(self.orders):06d}"
        self.orders.append({
            "order_no": order_no, "consumer": who, "merchant": f"S{self.rng.randrange(60):03d}", "item_title": "充电宝",
            "amount": Decimal("59.00"), "status": "completed", "placed_at": at - timedelta(days=4),
            "delivered_at": at - timedelta(days=2), "refund_requested_at": None, "refunded_at": None,
            "refunded_amount": Decimal("0.00"), "returned": False, "dispute": "",
        })  # fmt: skip
        self.reviews.append((order_no, stars, text, at))


def auc(positives: list[int], negatives: list[int]) -> float:
    """P(a positive scores above a negative), ties half."""
    wins = 0.0
    for p in positives:
        for n in negatives:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(positives) * len(negatives))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consumers", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import psycopg

    from core import embedded

    embedded.start_postgres()
    socket_dir = embedded.pg_socket_dir()
    name = "bench_risk"
    admin = psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"postgresql://postgres@/{name}?host={socket_dir}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from crm.models import Consumer, Order, Review, RiskFlag
    from crm.rating import rate_consumers
    from crm.risk import detect_risk_flags
    from crm.services import is_negative
    from merchants.models import Merchant

    try:
        call_command("migrate", verbosity=0)
        started = time.monotonic()
        population = Population(args.consumers, args.seed)
        Merchant.objects.bulk_create(
            Merchant(code=f"S{n:03d}", name=f"店铺{n}", category="综合", opened_at=NOW - timedelta(days=2000))
            for n in range(60)
        )
        Consumer.objects.bulk_create((Consumer(**row) for row in population.consumers), batch_size=2000)
        consumers = dict(Consumer.objects.values_list("external_id", "pk"))
        merchants = dict(Merchant.objects.values_list("code", "pk"))
        Order.objects.bulk_create(
            (Order(**{**{k: v for k, v in row.items() if k not in ("consumer", "merchant")},
                      "consumer_id": consumers[str(row["consumer"])], "merchant_id": merchants[str(row["merchant"])]})
             for row in population.orders),
            batch_size=5000,
        )  # fmt: skip
        orders = {
            no: (pk, c, m) for no, pk, c, m in Order.objects.values_list("order_no", "pk", "consumer_id", "merchant_id")
        }
        Review.objects.bulk_create(
            (Review(order_id=orders[no][0], consumer_id=orders[no][1], merchant_id=orders[no][2], item_stars=s[0],
                    service_stars=s[1], logistics_stars=s[2], text=text, is_negative=is_negative(*s), created_at=at)
             for no, s, text, at in population.reviews),
            batch_size=5000,
        )  # fmt: skip
        print(f"{len(population.consumers):,} consumers, {len(population.orders):,} orders, "
              f"{len(population.reviews):,} reviews generated and loaded in {time.monotonic() - started:.0f} s")  # fmt: skip
        started = time.monotonic()
        detection = detect_risk_flags(now=NOW)
        rate_consumers(now=NOW)
        print(f"risk rules and rating: {time.monotonic() - started:.1f} s; flags {detection.raised_or_refreshed}")
        report(population.kinds, Consumer, RiskFlag)
    finally:
        connection.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(kinds: dict[str, str], consumer_model: type[Consumer], flag_model: type[RiskFlag]) -> None:
    flagged: dict[str, set[str]] = defaultdict(set)
    for external_id, kind in flag_model.objects.values_list("consumer__external_id", "kind"):
        flagged[external_id].add(kind)
    scores: dict[str, list[int]] = defaultdict(list)
    tiers: dict[str, Counter[str]] = defaultdict(Counter)
    for external_id, score, tier in consumer_model.objects.values_list("external_id", "credit_score", "tier__name"):
        assert score is not None  # rate_consumers rated everyone
        scores[kinds[external_id]].append(score)
        tiers[kinds[external_id]][tier or "—"] += 1
    print("\nkind        consumers  flagged  by flag kind")
    for kind in ("good", "risky", "malicious"):
        people = [e for e, k in kinds.items() if k == kind]
        hit = [e for e in people if flagged[e]]
        by = Counter(flag for e in hit for flag in flagged[e])
        print(f"{kind:11} {len(people):9,} {len(hit) / len(people):8.3f}  {dict(sorted(by.items()))}")
    print(f"\nAUC of the credit score, good above malicious: {auc(scores['good'], scores['malicious']):.3f}; "
          f"good above risky: {auc(scores['good'], scores['risky']):.3f}")  # fmt: skip
    names = sorted({t for c in tiers.values() for t in c})
    print("\ntier        " + "".join(f"{kind:>11}" for kind in ("good", "risky", "malicious")))
    for tier in names:
        print(f"{tier:12}" + "".join(f"{tiers[kind][tier]:>11,}" for kind in ("good", "risky", "malicious")))


if __name__ == "__main__":
    main()
