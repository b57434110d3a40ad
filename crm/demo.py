"""Demo consumers: believable Chinese names and mobile numbers, each with a shopping persona.

The persona (premium, loyal, regular, new, risky, malicious) drives how the merchants' demo seeder
makes their orders, refunds, disputes and reviews, so that the rating puts consumers in every tier
and the risk rules find some malicious reviewers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from core.seeding import SeedContext, copy_rows, max_id, new_ids
from crm.models import Consumer

CONSUMERS_PER_SCALE = 200

# persona: (share of consumers, account age range in days, share with a verified ID)
PERSONAS: dict[str, tuple[float, tuple[int, int], float]] = {
    "premium": (0.08, (1500, 3650), 0.95),
    "loyal": (0.25, (700, 3000), 0.8),
    "regular": (0.47, (90, 2000), 0.5),
    "new": (0.10, (1, 90), 0.1),
    "risky": (0.07, (30, 900), 0.3),
    "malicious": (0.03, (20, 400), 0.1),
}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉浩宇欣怡子涵梓轩一诺雨桐思远晨曦嘉怡"
NICKNAME_WORDS = ("爱吃", "快乐", "小小", "阿", "momo", "喵", "追风", "安静的", "早睡", "吃货", "橙子", "柠檬")
PHONE_PREFIXES = (
    "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159",
    "166", "177", "180", "181", "186", "187", "188", "189", "198", "199",
)  # fmt: skip
REGIONS = ("110105", "310104", "330106", "440305", "510107", "420106", "320508", "350203")


def consumer_name(ctx: SeedContext) -> str:
    rnd = ctx.random
    if rnd.random() < 0.25:  # a quarter go by a shopping nickname
        return rnd.choice(NICKNAME_WORDS) + rnd.choice(GIVEN) + rnd.choice(GIVEN)
    given = rnd.choice(GIVEN) + (rnd.choice(GIVEN) if rnd.random() < 0.7 else "")
    return rnd.choice(SURNAMES) + given


def mobile_number(ctx: SeedContext) -> str:
    return ctx.random.choice(PHONE_PREFIXES) + f"{ctx.random.randrange(10**8):08d}"


def id_number(ctx: SeedContext) -> str:
    rnd = ctx.random
    born = f"{rnd.randint(1965, 2004)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}"
    return rnd.choice(REGIONS) + born + f"{rnd.randrange(1000):03d}" + rnd.choice("0123456789X")


def seed(ctx: SeedContext) -> dict[str, int]:
    total = CONSUMERS_PER_SCALE * ctx.scale
    names = list(PERSONAS)
    weights = [PERSONAS[p][0] for p in names]
    personas: list[str] = []
    before = max_id(Consumer)

    def rows() -> Iterator[tuple[Any, ...]]:
        for n in ctx.progress(range(1, total + 1), total=total, desc="consumers"):
            persona = ctx.random.choices(names, weights)[0]
            personas.append(persona)
            _share, (young, old), verified = PERSONAS[persona]
            registered = ctx.now - timedelta(days=ctx.random.randint(young, old), seconds=ctx.random.randint(0, 86399))
            ident = id_number(ctx) if ctx.random.random() < verified else ""
            yield (f"C{ctx.seed:03d}{n:08d}", consumer_name(ctx), mobile_number(ctx), ident, registered)

    created = copy_rows(Consumer, ["external_id", "display_name", "phone", "id_number", "registered_at"], rows())
    ctx.made["consumer_ids"] = new_ids(Consumer, before)
    ctx.made["personas"] = personas
    return {"consumers": created}
