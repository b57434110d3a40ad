"""bench/qa.py: the corpus — 500 rules of every kind, the generated calls loaded with COPY, what is there."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from _qa_calls import DEFECTS, PRODUCTS, CallGenerator
from _qa_figures import CHARS_PER_MINUTE, EXTERNAL_PREFIX

# --- Rules ---------------------------------------------------------------------------------------

RISK_TERMS = ["投诉", "12315", "消协", "消费者协会", "曝光", "媒体", "记者", "微博", "抖音", "律师", "起诉", "法院",
              "报警", "工商局", "市场监管", "差评", "骗子", "欺诈", "诈骗", "假货", "退一赔三", "赔偿", "精神损失",
              "黑猫投诉", "找你们领导", "找你们经理", "再也不", "维权", "集体投诉", "315", "举报", "拒付",
              "信用卡拒付", "chargeback", "lawyer", "sue", "scam", "fraud", "complaint", "manager"]  # fmt: skip
COURTESY_TERMS = ["不知道", "没办法", "不归我管", "不归我们管", "不关我事", "你自己看", "你自己去", "听不懂吗",
                  "说了多少遍", "已经跟你说过了", "爱找谁找谁", "随便你", "烦不烦", "有完没完", "别问我", "不可能",
                  "你找快递去", "我也没办法", "那你想怎么样", "神经病", "有病吧", "是不是傻", "说吧", "哪位",
                  "什么事"]  # fmt: skip
COMPLIANCE_TERMS = ["保证", "绝对", "百分之百", "肯定能", "一定能退", "包退", "加我微信", "加个微信", "私下",
                    "私人账户", "转账给我", "转到这个账户", "返现", "好评返现", "刷单", "五星好评", "内部价",
                    "走后门", "不用走流程", "不用登记", "改评价", "删差评", "验证码", "支付密码", "密码告诉我",
                    "银行卡号", "身份证号", "CVV"]  # fmt: skip
REQUIRED = [
    ("开场问候", "agent", ["您好", "你好"]),
    ("结束语", "agent", ["再见", "感谢您的来电", "还有其他可以帮您"]),
    ("致歉安抚", "agent", ["抱歉", "理解", "不好意思"]),
]
PROXIMITY = [
    (["退款", "退钱"], ["不给", "不行", "拒绝", "没到"], 10),
    (["投诉"], ["经理", "领导", "工号"], 8),
    (["快递", "包裹"], ["丢", "没收到", "破"], 12),
    (["赔偿", "补偿"], ["多少", "不够", "优惠券"], 10),
    (["保证", "一定"], ["到", "退"], 6),
    (["微信"], ["加", "私下"], 4),
    (["发票"], ["没收到", "开错"], 10),
    (["会员"], ["扣", "续费"], 12),
]
REGEXES = [
    ("微信号", r"(?:微信|vx|v信|薇信)号?(?:是|:|：)?\s*[a-z][a-z0-9_-]{5,19}"),
    ("大额金额", r"\d{4,}(?:\.\d+)?\s*(?:元|块)"),
    ("私下转账", r"(?:转|打)(?:到|给)(?:我|这个)(?:的)?(?:账户|卡|支付宝)"),
    ("工号", r"工号\s*\d{3,6}"),
    ("顺丰单号", r"sf\d{10,15}"),
    ("索要验证码", r"(?:验证码|密码)(?:告诉|发|给)"),
    ("多次来电", r"第[二三四五六七八九十\d]次(?:打|来)电话"),
    ("限时承诺", r"\d+\s*(?:小时|天)内(?:到账|送达|回复)"),
]


def rule_definitions(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` rules of every kind: term lists drawn from risk, courtesy and compliance vocabulary, the
    product safety phrases a QA team adds over time, proximity, regular expressions, required, PII."""
    rng = random.Random(seed)
    rules: list[dict[str, Any]] = []
    rules.append({"kind": "pii", "category": "privacy", "severity": 4, "speaker": "any"})
    for name, speaker, terms in REQUIRED:
        rules.append({"kind": "required", "category": "courtesy", "severity": 2, "speaker": speaker, "terms": terms,
                      "label": name})  # fmt: skip
    for name, pattern in REGEXES:
        rules.append({"kind": "regex", "category": "compliance", "severity": 3, "speaker": "any", "pattern": pattern,
                      "label": name})  # fmt: skip
    n_proximity = max(1, count // 10)
    for i in range(n_proximity):
        terms, near, distance = PROXIMITY[i % len(PROXIMITY)]
        rules.append({"kind": "proximity", "category": "risk", "severity": 2, "speaker": "any",
                      "terms": rng.sample(terms, rng.randrange(1, len(terms) + 1)),
                      "near_terms": rng.sample(near, rng.randrange(1, len(near) + 1)),
                      "distance": distance + rng.randrange(-2, 6)})  # fmt: skip
    # A few broad tags (what callers ask about); the rest are narrow, as a QA team's rules are.
    for terms in (["退款", "退钱", "退货"], ["快递", "物流", "包裹"], ["发票"], ["refund", "tracking number"]):
        rules.append({"kind": "keyword", "category": "risk", "severity": 1, "speaker": "consumer", "terms": terms})
    pools = [
        ("risk", "consumer", RISK_TERMS, 3),
        ("courtesy", "agent", COURTESY_TERMS, 2),
        ("compliance", "agent", COMPLIANCE_TERMS, 4),
    ]
    while len(rules) < count:
        roll = rng.random()
        if roll < 0.25:
            # Product safety phrases: 充电宝鼓包, 电热水壶漏电 ...
            product = rng.choice(PRODUCTS)
            terms = [product + defect for defect in rng.sample(DEFECTS, rng.randrange(2, 6))]
            rules.append({"kind": "phrase", "category": "risk", "severity": 3, "speaker": "consumer", "terms": terms})
            continue
        category, speaker, pool, severity = pools[int(roll * 100) % len(pools)]
        terms = rng.sample(pool, rng.randrange(1, 7))
        # Teams phrase the same concern their own way.
        if rng.random() < 0.4:
            terms.append(rng.choice(pool) + rng.choice(["了", "吗", "的", "啊"]))
        kind = "phrase" if any(len(t) > 3 for t in terms) and rng.random() < 0.5 else "keyword"
        rules.append({"kind": kind, "category": category, "severity": severity, "speaker": speaker, "terms": terms})
    return rules[:count]


def create_rules(count: int, seed: int) -> float:
    """Create ``count`` active rules with qa.services.create_rule; return the seconds it took."""
    from qa.models import Rule
    from qa.services import create_rule

    started = time.perf_counter()
    for number, definition in enumerate(rule_definitions(count, seed), start=1):
        label = definition.pop("label", "")
        name = f"bench {number:03d} {definition['category']} {definition['kind']} {label}".strip()
        create_rule(name=name, active=True, **definition)
    assert Rule.objects.filter(active=True).count() == count
    return time.perf_counter() - started


# --- Seeding -------------------------------------------------------------------------------------


def seed(segments: int, days: int, seed_value: int) -> dict[str, float]:
    """Generate calls until ``segments`` segments, COPY them in; return counts and seconds."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from core.seeding import copy_rows, max_id
    from qa.models import Segment, Transcript
    from tickets.models import Department

    started = time.perf_counter()
    User = get_user_model()
    User.objects.bulk_create(
        [User(username=f"bench-qa-agent-{n:03d}", first_name=f"坐席{n:03d}", is_staff=True) for n in range(200)],
        ignore_conflicts=True,
    )
    agents = list(User.objects.filter(username__startswith="bench-qa-agent-").values_list("pk", flat=True))
    for code, name in [("refunds", "退款组"), ("logistics", "物流组"), ("after-sales", "售后组"), ("vip", "VIP组")]:
        Department.objects.get_or_create(code=f"bench-{code}", defaults={"name": name})
    departments = list(Department.objects.filter(code__startswith="bench-").values_list("pk", flat=True))
    generator = CallGenerator(seed_value, agents, departments)
    # Calls arrive over the last ``days`` days, 08:00-22:00, in order (ids follow time as in production).
    now = timezone.localtime().replace(minute=0, second=0, microsecond=0)
    first_day = (now - timedelta(days=days)).replace(hour=8)
    expected_calls = segments / 43
    next_id = max_id(Transcript) + 1
    written_segments = 0
    calls = 0
    characters = 0
    transcript_fields = ["id", "kind", "source", "agent", "department", "language", "external_id", "started_at",
                         "duration_seconds", "characters", "created_at"]  # fmt: skip
    segment_fields = ["transcript", "seq", "speaker", "start_ms", "end_ms", "text"]
    while written_segments < segments:
        heads, rows = [], []
        for _ in range(2000):
            if written_segments >= segments:
                break
            call = generator.call()
            share = min(calls / expected_calls, 1.0)
            day = first_day + timedelta(days=int(share * days))
            started_at = day + timedelta(seconds=(share * days % 1) * 14 * 3600 + generator.rng.randrange(60))
            chars = call.characters
            heads.append((next_id, "call", "import", call.agent, call.department, "zh", f"{EXTERNAL_PREFIX}{next_id}",
                          started_at, call.segments[-1][2] / 1000, chars, now))  # fmt: skip
            for seq, (speaker, start_ms, end_ms, text) in enumerate(call.segments):
                rows.append((next_id, seq, speaker, start_ms, end_ms, text))
            written_segments += len(call.segments)
            characters += chars
            calls += 1
            next_id += 1
        copy_rows(Transcript, transcript_fields, heads)
        copy_rows(Segment, segment_fields, rows)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('qa_transcript', 'id'), (SELECT max(id) FROM qa_transcript))"
        )
        cursor.execute("VACUUM (ANALYZE) qa_transcript, qa_segment")
    return {"calls": calls, "segments": written_segments, "characters": characters,
            "seconds": time.perf_counter() - started}  # fmt: skip


@dataclass
class Corpus:
    """What is in the database: counts, characters and UTF-8 bytes of the segments' text."""

    transcripts: int
    segments: int
    characters: int
    bytes: int
    ids: list[int]

    @property
    def hours(self) -> float:
        return self.characters / CHARS_PER_MINUTE / 60


def corpus() -> Corpus:
    from django.db import connection

    from qa.models import Transcript

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(sum(char_length(text)), 0), coalesce(sum(octet_length(text)), 0) FROM qa_segment"
        )
        segments, characters, size = cursor.fetchone()
    ids = list(Transcript.objects.order_by("pk").values_list("pk", flat=True))
    return Corpus(len(ids), segments, characters, size, ids)
