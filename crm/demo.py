"""Demo consumers with believable Chinese names and mobile numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from core.seeding import SeedContext, copy_rows, max_id, new_ids
from crm.models import Consumer

CONSUMERS_PER_SCALE = 200

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉浩宇欣怡子涵梓轩一诺雨桐思远晨曦嘉怡"
NICKNAME_WORDS = ("爱吃", "快乐", "小小", "阿", "momo", "喵", "追风", "安静的", "早睡", "吃货", "橙子", "柠檬")
PHONE_PREFIXES = (
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "166",
    "177",
    "180",
    "181",
    "186",
    "187",
    "188",
    "189",
    "198",
    "199",
)


def consumer_name(ctx: SeedContext) -> str:
    rnd = ctx.random
    if rnd.random() < 0.25:  # a quarter go by a shopping nickname
        return rnd.choice(NICKNAME_WORDS) + rnd.choice(GIVEN) + rnd.choice(GIVEN)
    given = rnd.choice(GIVEN) + (rnd.choice(GIVEN) if rnd.random() < 0.7 else "")
    return rnd.choice(SURNAMES) + given


def mobile_number(ctx: SeedContext) -> str:
    return ctx.random.choice(PHONE_PREFIXES) + f"{ctx.random.randrange(10**8):08d}"


def seed(ctx: SeedContext) -> dict[str, int]:
    total = CONSUMERS_PER_SCALE * ctx.scale
    now = ctx.now
    before = max_id(Consumer)

    def rows() -> Iterator[tuple[Any, ...]]:
        for n in ctx.progress(range(1, total + 1), total=total, desc="consumers"):
            registered = now - timedelta(days=ctx.random.randint(1, 365 * 8), seconds=ctx.random.randint(0, 86399))
            yield (f"C{ctx.seed:03d}{n:08d}", consumer_name(ctx), mobile_number(ctx), registered)

    created = copy_rows(Consumer, ["external_id", "display_name", "phone", "registered_at"], rows())
    ctx.made["consumer_ids"] = new_ids(Consumer, before)
    return {"consumers": created}
