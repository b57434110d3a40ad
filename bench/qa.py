"""Benchmark: QA at the source's scale — rules over a day of Chinese calls, the index, and search.

    .venv/bin/python bench/qa.py                      # 1,000,000 segments (~31,000 calls, ~29 M characters)
    .venv/bin/python bench/qa.py --segments 50000     # a quick run

Generates customer-service calls as the recogniser would hand them over (agent and consumer turns at
~200 spoken characters a minute: greetings, order numbers, refund and logistics talk, complaints, the
odd phone number read out, some English) and loads them with COPY into qa_transcript/qa_segment.
Creates 500 active rules of every kind with ``qa.services.create_rule``. Then, end to end:

- evaluation: ``qa.evaluation.evaluate_transcripts`` over every transcript in batches of 500 (reading
  segments from PostgreSQL, writing findings), in one process and in two processes over disjoint id
  ranges, and one call per transcript (what ``save_transcript`` queues) on a sample;
- indexing: the whole index built with ``qa.searching.rebuild`` (and, with --index-variants, other
  writer options), then the worker's steady state: ``index_transcripts`` of 500 transcripts into the
  full index;
- search: ``qa.searching.search`` exactly as the admin's search page calls it (first page, 20 hits,
  newest first, the database lookup, PII masking and highlighting), p50/p95 per kind of query.

Figures are extrapolated to the source's day: 30,000 call-hours, ~360 M characters. Targets (issue 5,
2 cores): evaluation of a day against 500 rules <= 10 min; indexing a day <= 1 h; search p95 <= 100 ms.

Database: DATABASE_URL if set (it must exist; it must hold no transcripts but the bench's), else a
scratch database ``bench_qa`` on the embedded server, dropped at the end unless --keep. The index goes
to SEARCH_INDEX_DIR if set, else to a temporary directory (removed unless --keep).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAY_CHARACTERS = 360_000_000  # 30,000 call-hours at ~200 characters a minute
CHARS_PER_MINUTE = 200
TARGET_EVALUATION_S = 10 * 60
TARGET_INDEXING_S = 60 * 60
TARGET_SEARCH_P95_MS = 100
EXTERNAL_PREFIX = "bench-qa:"  # the bench's transcripts; anything else in the database stops it

# --- Generating calls ----------------------------------------------------------------------------

BRANDS = ["优选商城", "云购", "乐享生活", "好物直营", "极速达", "易购", "鲜到家", "Easybuy"]
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉玲晶慧建国志宇浩然子涵雨欣梓萱一诺"
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "重庆", "苏州", "郑州", "长沙",
          "沈阳", "青岛", "厦门", "昆明", "合肥", "天津", "宁波", "东莞", "佛山", "济南", "哈尔滨", "石家庄", "南宁",
          "贵阳", "福州", "无锡", "温州"]  # fmt: skip
COURIERS = ["顺丰", "中通", "圆通", "韵达", "申通", "京东物流", "邮政", "EMS", "极兔", "德邦"]
PRODUCTS = ["手机壳", "蓝牙耳机", "空气炸锅", "扫地机器人", "羽绒服", "运动鞋", "奶粉", "纸尿裤", "洗衣液",
            "电动牙刷", "笔记本电脑", "充电宝", "行李箱", "面膜", "猫粮", "电饭煲", "四件套", "儿童座椅", "iPad",
            "AirPods Pro", "显示器", "吹风机", "破壁机", "保温杯", "沙发", "床垫", "电热水壶", "口红", "精华液",
            "iPhone 15", "电动车电池", "净水器", "加湿器", "微波炉", "跑步机"]  # fmt: skip
DEFECTS = ["坏了", "漏电", "漏油", "冒烟", "鼓包", "发烫", "死机", "黑屏", "开线", "掉色", "断了", "漏水",
           "有异味", "发霉", "过期了", "变质了", "过敏", "烂脸", "起火", "充不进电", "连不上蓝牙", "异响"]  # fmt: skip
INVOICES = ["增值税专用发票", "电子普通发票", "公司抬头", "个人抬头", "纸质发票"]
DAYS_CN = ["两", "三", "四", "五", "六", "七", "十", "十五", "二十"]
SPOKEN_DIGITS = "零一二三四五六七八九"

# The parts of a call. {slot}s are filled by Slots below.
GREETINGS = [
    "您好，欢迎致电{brand}客服中心，我是{agent_no}号客服{agent_name}，很高兴为您服务，请问有什么可以帮您？",
    "您好，{brand}售后服务，工号{agent_no}，请问有什么可以帮到您？",
    "喂，您好，这里是{brand}客服，请问您遇到了什么问题？",
    "您好，很高兴为您服务，请问有什么可以帮您？",
    "您好，我是客服{agent_name}，请问您是{customer}吗？我们这边看到您提交了一个售后申请。",
]
RUDE_OPENINGS = ["喂，说吧，什么事？", "喂？", "哪位？有什么事？"]
OPENINGS = {
    "refund": [
        "我想问一下我那个退款怎么还没到账啊",
        "我上周申请的退款到现在还没退回来",
        "你好，我要退款，东西根本不能用",
        "我那个订单申请了退货退款，商家一直不处理",
        "你们说{days}天之内退款，现在都{days2}天了还没到",
        "我买的{product}想退掉，怎么操作啊",
        "我想问下我申请的全额退款为什么只退了一部分",
    ],
    "logistics": [
        "我的快递怎么{days}天了还没到啊",
        "物流信息已经三天没更新了，你帮我查一下",
        "快递显示已经签收了，但是我根本没收到",
        "我想改一下收货地址，改成{city}的",
        "你们发的是{courier}吗？我这边查不到物流信息",
        "那个tracking number我查了好几次都查不到",
        "我买的{product}说好今天发货的，怎么还没发",
    ],
    "quality": [
        "我买的{product}用了两天就{defect}",
        "收到的{product}有划痕，外包装也破了",
        "这个{product}跟图片上的不一样，颜色差太多了",
        "我要换货，尺码不对",
        "我买的{product}{defect}了，这是质量问题吧",
        "你们这个{product}是不是假货啊，跟我在专柜买的不一样",
    ],
    "account": [
        "我想开一张发票，要{invoice}",
        "我的会员怎么突然没了，我刚续费了{amount}块",
        "优惠券领了用不了，结算的时候显示不满足条件",
        "我被扣了两次款，一次{amount}，一次{amount}",
        "我想注销账号，怎么弄",
        "我的Apple ID绑定的那个支付方式扣了我{amount}块钱",
        "我的PLUS会员权益怎么用不了了",
        "App一直闪退，登不上去",
    ],
}
ASK_IDENTITY = [
    "好的，麻烦您提供一下订单号",
    "请您报一下下单时预留的手机号码",
    "您好，为了核实您的身份，请提供一下收货人姓名和手机号",
    "好的，您把订单号告诉我一下，我帮您查一下",
    "麻烦您在App里点我的订单，把订单编号念一下",
]
GIVE_IDENTITY = [
    "订单号是{order}",
    "{order}",
    "订单号{order}，你查一下",
    "手机号是{phone}",
    "我手机号{spoken_phone}",
    "收货人是{customer}，电话{phone}",
    "嗯，我找一下，订单号是{order}",
]
AGENT_WORK = {
    "refund": [
        "您的退款已经在处理中了，会在三到五个工作日原路退回",
        "这边已经帮您申请了全额退款，款项会原路退回到您的支付账户",
        "我这边看到您的退款是{date}申请的，目前商家还没有审核",
        "我帮您催促一下商家，{hours}小时内给您回复",
        "退货的运费这块需要您先垫付，签收后给您补偿运费险",
        "根据平台规则，七天无理由退货需要商品不影响二次销售",
        "退款金额是{amount}元，扣除了优惠券抵扣的部分",
        "您寄回的商品仓库已经收到了，退款会在二十四小时内到账",
    ],
    "logistics": [
        "系统显示您的包裹目前在{city}转运中心",
        "显示已经由{courier}揽收，预计{days}天内送达",
        "我帮您联系一下快递员，核实一下派送情况",
        "这边查到快递放在了小区的快递柜，取件码稍后会发到您手机上",
        "您的地址已经帮您修改成{city}了，快递会重新派送",
        "物流这边确实有延误，非常抱歉，我帮您登记了加急",
        "包裹如果确认丢件，我们会给您补发或者全额退款",
    ],
    "quality": [
        "非常抱歉，您可以拍一下照片上传到售后申请里",
        "这个属于质量问题，我们这边可以给您免费换新",
        "我帮您申请退货，快递员会在{days}天内上门取件",
        "我们的商品都是正品，支持专柜验货",
        "这个{product}保修一年，您可以到{city}的售后网点检测",
        "我帮您登记一下，给您申请一张{amount}元的优惠券作为补偿",
    ],
    "account": [
        "电子发票会在确认收货后发送到您的邮箱",
        "您的会员已经帮您恢复了，重新登录一下就可以看到",
        "重复扣款的部分系统会自动退回，一般一到三个工作日",
        "这个优惠券需要满{amount}元才能使用",
        "您可以先把App卸载重装一下试试",
        "注销账号之后订单记录就都查不到了，您确认要注销吗",
    ],
}
AGENT_COMMON = [
    "好的，请您稍等，我帮您查询一下",
    "感谢您的耐心等待",
    "非常抱歉给您带来了不便",
    "您的心情我非常理解",
    "我这边看到您的订单是{date}下单的，金额是{amount}元",
    "这个问题我需要给您升级处理，会有专员在{hours}小时内联系您",
    "您可以在App里点击我的订单，然后申请售后",
    "好的，我已经帮您备注了",
    "嗯，这个情况我了解了",
    "您看这样处理可以吗",
    "sorry，刚才信号不太好，您再说一遍",
]
CONSUMER_COMMON = [
    "那要等多久啊",
    "上次也是这么说的",
    "行吧，那你们快点",
    "好的，谢谢",
    "那运费谁出啊",
    "能不能直接给我退了",
    "我在App上看不到这个入口",
    "我上午打过一次电话了",
    "我是{date}下的单",
    "我现在人在{city}，不在家",
    "我用PayPal付的，能退回去吗",
    "你们发我email吧",
    "那我等你们消息",
    "就是那个{product}嘛",
    "OK，那就这样吧",
]
COMPLAINTS = [
    "我都说了多少遍了，你们到底能不能解决",
    "你们这什么服务态度",
    "我要投诉你，你工号多少",
    "再不处理我就打12315投诉了",
    "我要找你们经理",
    "我已经在微博上发了，要曝光你们",
    "你们这是欺诈，我要找律师起诉你们",
    "太差劲了，以后再也不在你们家买了",
    "我要给差评",
    "退一赔三，你们卖假货",
    "这都第三次打电话了，每次都说在处理",
    "我要去消费者协会投诉你们",
]
AGENT_RUDE = [
    "这个我也没办法",
    "你自己去App上看",
    "不归我们管，你找快递去",
    "我已经跟你说过了",
    "你听不懂吗",
    "爱找谁找谁",
]
AGENT_NONCOMPLIANT = [
    "你加我微信吧，我私下给你处理",
    "我保证明天一定到",
    "绝对没问题，百分之百能退",
    "你把钱转到这个账户，我给你操作",
    "你把收到的验证码告诉我一下",
    "给个五星好评的话，我给你返现{amount}块",
]
AGENT_CLOSING = [
    "请问还有其他可以帮您的吗？",
    "感谢您的来电，祝您生活愉快，再见",
    "稍后会有一条满意度评价短信，麻烦您给个评价",
    "好的，那先这样，有问题您再打过来，再见",
]
CONSUMER_CLOSING = ["没有了，谢谢", "好，再见", "行，拜拜", "嗯嗯好的"]
FILLERS = ["嗯", "好的", "对", "是的", "喂", "喂？听得到吗", "您说", "嗯嗯", "啊", "那个", "就是", "然后呢", "稍等",
           "对对对", "OK", "哦", "这样啊"]  # fmt: skip
ENGLISH = [
    "Hi, I ordered an iPhone case two weeks ago and it still hasn't arrived",
    "The tracking number is SF{digits}",
    "I'd like a refund please, the item is broken",
    "Sorry for the inconvenience, let me check that for you",
    "Your refund will be processed within 3 to 5 business days",
    "Can I speak to your manager? This is the third time I'm calling",
    "OK, thank you, bye",
    "Could you send the invoice to my email",
]


def _chatter_words() -> tuple[list[str], list[float]]:
    """Common Chinese words weighted by frequency (jieba's dictionary), for the talk between the script."""
    import jieba

    words: list[tuple[str, int]] = []
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as handle:
        for line in handle:
            word, freq, *_pos = line.split()
            if all("\u4e00" <= c <= "\u9fff" for c in word):
                words.append((word, int(freq)))
    words.sort(key=lambda item: -item[1])
    top = words[:8_000]
    return [w for w, _f in top], list(accumulate(f**0.75 for _w, f in top))


class Slots(dict[str, str]):
    """Template slots filled on demand, each a fresh random value."""

    def __init__(self, rng: random.Random, agent_no: str, agent_name: str, brand: str, customer: str) -> None:
        super().__init__(agent_no=agent_no, agent_name=agent_name, brand=brand, customer=customer)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        rng = self.rng
        if key == "order":
            kind = rng.random()
            if kind < 0.5:
                return str(rng.randrange(10**11, 10**12))  # 12 digits
            if kind < 0.85:
                return f"{rng.randrange(10**5, 10**6)}-{rng.randrange(10**14, 10**15)}"
            return str(rng.randrange(10**18, 10**19))  # 19 digits
        if key == "phone":
            return f"1{rng.choice('3456789')}{rng.randrange(10**8, 10**9)}"
        if key == "spoken_phone":
            number = f"1{rng.choice('3578')}{rng.randrange(10**8, 10**9)}"
            return "".join(SPOKEN_DIGITS[int(d)] for d in number).replace("一", "幺", rng.randrange(2))
        if key == "amount":
            return rng.choice([f"{rng.randrange(9, 3000)}", f"{rng.randrange(9, 500)}.9", f"{rng.randrange(1, 60)}00"])
        if key in ("days", "days2"):
            return rng.choice(DAYS_CN)
        if key == "hours":
            return rng.choice(["24", "48", "两", "十二"])
        if key == "date":
            return rng.choice([f"{rng.randrange(1, 13)}月{rng.randrange(1, 29)}号", "上周三", "昨天", "前天", "上个月"])
        if key == "digits":
            return str(rng.randrange(10**11, 10**12))
        table = {"city": CITIES, "courier": COURIERS, "product": PRODUCTS, "defect": DEFECTS, "invoice": INVOICES}
        return rng.choice(table[key])


@dataclass
class Call:
    """One generated call: its segments as (speaker, start_ms, end_ms, text), agent and department."""

    agent: int
    department: int
    segments: list[tuple[str, int, int, str]] = field(default_factory=list)

    @property
    def characters(self) -> int:
        return sum(len(s[3]) for s in self.segments)


class CallGenerator:
    """Calls as the recogniser hands them over: turns of realistic length at ~200 characters a minute."""

    def __init__(self, seed: int, agents: list[int], departments: list[int]) -> None:
        self.rng = random.Random(seed)
        self.agents = agents
        self.departments = departments
        self.chatter, self.chatter_weights = _chatter_words()
        self.topics = list(OPENINGS)

    def _chatter(self) -> str:
        rng = self.rng
        words = rng.choices(self.chatter, cum_weights=self.chatter_weights, k=rng.randrange(3, 9))
        return "".join(words)

    def call(self) -> Call:
        rng = self.rng
        agent = rng.choice(self.agents)
        slots = Slots(rng, str(1000 + agent % 9000), rng.choice(["小", ""]) + rng.choice(SURNAMES),
                      rng.choice(BRANDS), rng.choice(SURNAMES) + rng.choice(["先生", "女士"]))  # fmt: skip
        topic = rng.choice(self.topics)
        english = rng.random() < 0.01  # an English-speaking caller
        angry = rng.random() < 0.12
        rude = rng.random() < 0.02
        noncompliant = rng.random() < 0.015
        minutes = min(max(rng.lognormvariate(math.log(4), 0.6), 0.5), 40)
        budget = int(minutes * CHARS_PER_MINUTE)
        turns: list[tuple[str, str]] = []
        spent = 0

        def say(speaker: str, text: str) -> None:
            nonlocal spent
            turns.append((speaker, text))
            spent += len(text)

        def pick(speaker: str, pool: list[str], extra: float = 0.0) -> str:
            """One turn: a few sentences from the pool until a spoken turn's length is reached."""
            target = max(2, int(rng.lognormvariate(math.log(22), 0.7)))
            parts = [rng.choice(pool).format_map(slots)]
            while sum(map(len, parts)) < target and rng.random() < 0.7:
                roll = rng.random()
                if roll < 0.15 + extra:
                    part = self._chatter()
                elif roll < 0.3:
                    part = rng.choice(AGENT_COMMON if speaker == "agent" else CONSUMER_COMMON).format_map(slots)
                else:
                    part = rng.choice(pool).format_map(slots)
                if part not in parts:
                    parts.append(part)
            return "，".join(parts) + rng.choice(["", "。", "。", "？"] if speaker == "consumer" else ["", "。"])

        if english:
            while spent < budget:
                say("agent" if len(turns) % 2 == 0 else "consumer", rng.choice(ENGLISH).format_map(slots))
        else:
            say("agent", rng.choice(RUDE_OPENINGS if rude and rng.random() < 0.5 else GREETINGS).format_map(slots))
            say("consumer", pick("consumer", OPENINGS[topic]))
            say("agent", rng.choice(ASK_IDENTITY))
            say("consumer", rng.choice(GIVE_IDENTITY).format_map(slots))
            while spent < budget:
                roll = rng.random()
                # Turns mostly alternate; the recogniser also splits one speaker's talk at pauses.
                agent_next = (turns[-1][0] == "consumer") == (rng.random() < 0.8)
                if roll < 0.12:
                    say("agent" if agent_next else "consumer", rng.choice(FILLERS))
                elif agent_next:
                    say("agent", pick("agent", AGENT_WORK[topic] + AGENT_COMMON))
                    if rude and rng.random() < 0.3:
                        say("agent", rng.choice(AGENT_RUDE))
                    if noncompliant and rng.random() < 0.3:
                        say("agent", rng.choice(AGENT_NONCOMPLIANT).format_map(slots))
                elif angry and roll < 0.3:
                    say("consumer", pick("consumer", COMPLAINTS))
                else:
                    say("consumer", pick("consumer", OPENINGS[topic] + CONSUMER_COMMON, extra=0.1))
            if rng.random() < 0.92:
                say("agent", rng.choice(AGENT_CLOSING))
                say("consumer", rng.choice(CONSUMER_CLOSING))
        call = Call(agent, rng.choice(self.departments))
        at = rng.randrange(500, 3000)
        for speaker, text in turns:
            spoken = int(len(text) * 60_000 / CHARS_PER_MINUTE * rng.uniform(0.8, 1.25))
            call.segments.append((speaker, at, at + spoken, text))
            at += spoken + rng.randrange(200, 1500)
        return call


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


# --- Evaluation ----------------------------------------------------------------------------------


def reset_findings() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE qa_finding CASCADE")  # only ever on the bench's database (see main)
        cursor.execute("UPDATE qa_transcript SET evaluated_at = NULL")
        cursor.execute("VACUUM (ANALYZE) qa_transcript")


def evaluate_range(ids: list[int], batch: int) -> tuple[float, float, int]:
    """What the worker does: evaluate_transcripts over ``ids`` in batches. (compile s, total s, hits)."""
    from qa import evaluation

    started = time.perf_counter()
    evaluation.active_rules()  # compiles the 500 rules once per process
    compiled = time.perf_counter() - started
    hits = 0
    for start in range(0, len(ids), batch):
        hits += evaluation.evaluate_transcripts(ids[start : start + batch])
    return compiled, time.perf_counter() - started, hits


def evaluate_parallel(ids: list[int], processes: int, batch: int) -> tuple[float, list[str]]:
    """Evaluate disjoint id ranges in ``processes`` processes at once; wall seconds and their reports."""
    share = math.ceil(len(ids) / processes)
    ranges = [ids[i * share : (i + 1) * share] for i in range(processes)]
    started = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker-evaluate", str(part[0]), str(part[-1]), "--batch", str(batch)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for part in ranges
        if part
    ]
    outputs = []
    for worker in workers:
        out, _err = worker.communicate()
        if worker.returncode:
            sys.exit(f"evaluation worker failed ({worker.returncode})")
        outputs.append(out.strip())
    return time.perf_counter() - started, outputs


def worker_evaluate(first: int, last: int, batch: int) -> None:
    from qa.models import Transcript

    ids = list(Transcript.objects.filter(pk__gte=first, pk__lte=last).order_by("pk").values_list("pk", flat=True))
    cpu = cpu_seconds()
    compiled, seconds, hits = evaluate_range(ids, batch)
    cpu = cpu_seconds() - cpu
    print(f"{cpu:.3f}|{len(ids):,} transcripts, {hits:,} hits, {seconds:.1f} s (compile {compiled:.2f} s)")


def count_findings() -> int:
    from qa.models import Finding

    return Finding.objects.count()


@dataclass
class Row:
    """One line of the results table."""

    what: str
    seconds: float
    cpu: float  # CPU seconds of the bench's processes (PostgreSQL's are not counted)
    characters: int
    bytes: int
    note: str = ""

    def cells(self) -> tuple[str, ...]:
        rate = self.characters / self.seconds
        mb = self.bytes / self.seconds / 1e6
        scale = DAY_CHARACTERS / self.characters
        return (self.what, f"{self.seconds:,.1f}", f"{self.cpu:,.1f}", f"{rate / 1e3:,.1f}", f"{mb:,.3f}",
                _duration(self.seconds * scale), _duration(self.cpu * scale), self.note)  # fmt: skip


def cpu_seconds() -> float:
    """CPU time of this process, of its children that have ended, and of its PostgreSQL backend."""
    import psutil
    from django.db import connection

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = psutil.Process(cursor.fetchone()[0]).cpu_times()
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + backend.user + backend.system


def load() -> str:
    return "load average " + " ".join(f"{n:.1f}" for n in os.getloadavg())


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def print_rows(title: str, rows: list[Row], target: str) -> None:
    width = max(len(row.what) for row in rows)
    print(f"\n{title} — target: {target}")
    columns = ("wall s", 8), ("CPU s", 8), ("k chars/s", 10), ("MB/s", 7), ("day, wall", 10), ("day, CPU", 9)
    print(f"{'':{width}} " + " ".join(f"{name:>{w}}" for name, w in columns) + "  notes")
    for row in rows:
        c = row.cells()
        print(f"{c[0]:{width}} {c[1]:>8} {c[2]:>8} {c[3]:>10} {c[4]:>7} {c[5]:>10} {c[6]:>9}  {c[7]}")
    print(
        "(day: scaled to 360 M characters. CPU: of the bench's processes and their PostgreSQL backends together;"
        " on a box of its own with N busy processes a day takes about day-CPU / N)"
    )


def run_evaluation(args: argparse.Namespace, data: Corpus) -> list[Row]:
    rows = []
    for processes in args.eval_processes:
        reset_findings()
        cpu = cpu_seconds()
        if processes == 1:
            compiled, seconds, hits = evaluate_range(data.ids, args.batch)
            note = f"{hits:,} hits, {count_findings():,} findings; rules compiled in {compiled:.2f} s"
        else:
            seconds, reports = evaluate_parallel(data.ids, processes, args.batch)
            note = f"{count_findings():,} findings; " + "; ".join(r.split("|", 1)[1] for r in reports)
        cpu = cpu_seconds() - cpu
        if processes > 1:  # the workers' own figures, with their PostgreSQL backends
            cpu = sum(float(r.split("|", 1)[0]) for r in reports)
        rows.append(Row(f"evaluate_transcripts, {processes} process(es), batches of {args.batch}", seconds, cpu,
                        data.characters, data.bytes, note))  # fmt: skip
        print(f"  evaluation, {processes} process(es): {seconds:.1f} s, CPU {cpu:.1f} s ({note}; {load()})", flush=True)
    # One call per transcript, as save_transcript queues it (qa.tasks.evaluate_transcript), on a sample.
    from django.db import connection

    from qa import evaluation

    sample = data.ids[:: max(1, len(data.ids) // args.per_call_sample)][: args.per_call_sample]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM qa_finding WHERE transcript_id = ANY(%s)", [sample])
        cursor.execute(
            "SELECT coalesce(sum(char_length(text)), 0), coalesce(sum(octet_length(text)), 0) FROM qa_segment"
            " WHERE transcript_id = ANY(%s)",
            [sample],
        )
        characters, size = cursor.fetchone()
    started, cpu = time.perf_counter(), cpu_seconds()
    for transcript_id in sample:
        evaluation.evaluate_transcripts([transcript_id])
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    rows.append(Row("evaluate_transcripts([id]) per call, 1 process", seconds, cpu, characters, size,
                    f"{len(sample):,} transcripts sampled, {seconds / len(sample) * 1000:.1f} ms each"))  # fmt: skip
    return rows


# --- Indexing ------------------------------------------------------------------------------------

# name -> (transcripts per writer, writer options); "rebuild" is qa.searching.rebuild as it stands.
INDEX_VARIANTS: dict[str, tuple[int, dict[str, Any]]] = {
    "rebuild": (1000, {"limitmb": 256}),
    "batch5000": (5000, {"limitmb": 512}),
    "one-writer": (0, {"limitmb": 512}),
    "procs2": (5000, {"procs": 2, "limitmb": 256}),
    "procs2-multisegment": (5000, {"procs": 2, "multisegment": True, "limitmb": 256}),
}


def index_segments() -> tuple[int, int]:
    """Documents and segments (Whoosh's, not ours) in the index."""
    from qa.searching import INDEX

    ix = INDEX.index()
    return ix.doc_count(), len(ix._segments())


def run_indexing(args: argparse.Namespace, data: Corpus) -> list[Row]:
    from qa import searching

    rows = []
    for name in args.index_variants:
        batch, options = INDEX_VARIANTS[name]
        started, cpu = time.perf_counter(), cpu_seconds()
        if name == "rebuild":
            written = searching.rebuild(data.ids)
        else:
            searching.INDEX.clear()
            step = batch or len(data.ids)
            written = 0
            for start in range(0, len(data.ids), step):
                written += searching.index_transcripts(data.ids[start : start + step], fresh=True,
                                                       writer_options=options)  # fmt: skip
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        docs, parts = index_segments()
        assert written == docs == data.segments, (written, docs, data.segments)
        label = "rebuild()" if name == "rebuild" else f"index_transcripts(fresh=True) x {batch or len(data.ids)}"
        note = f"{options}, {parts} index segment(s), {_size(searching.INDEX.path) / 2**20:,.0f} MiB on disk"
        rows.append(Row(f"{label} [{name}]", seconds, cpu, data.characters, data.bytes, note))
        print(f"  indexing [{name}]: {seconds:.1f} s, CPU {cpu:.1f} s ({note}; {load()})", flush=True)
    # The search worker's steady state: batches of 500 transcripts into the full index, replacing what
    # is there (delete by transcript, add, commit with Whoosh's merge policy).
    from django.db import connection

    sample = data.ids[len(data.ids) // 2 :][: 500 * args.steady_batches]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(char_length(text)), 0), coalesce(sum(octet_length(text)), 0) FROM qa_segment"
            " WHERE transcript_id = ANY(%s)",
            [sample],
        )
        characters, size = cursor.fetchone()
    started, cpu = time.perf_counter(), cpu_seconds()
    for start in range(0, len(sample), 500):
        searching.index_transcripts(sample[start : start + 500])
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    docs, parts = index_segments()
    assert docs == data.segments, (docs, data.segments)
    rows.append(Row("index_transcripts(500 ids) into the full index", seconds, cpu, characters, size,
                    f"{math.ceil(len(sample) / 500)} batch(es), {seconds / math.ceil(len(sample) / 500):.1f} s each; "
                    f"{parts} index segment(s) after"))  # fmt: skip
    return rows


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# --- Search --------------------------------------------------------------------------------------


TERM_QUERIES = ["退款", "物流", "快递", "投诉", "发票", "地址", "赔偿", "售后", "签收", "换货", "会员", "运费", "经理",
                "律师", "抱歉", "差评"]  # fmt: skip
PHRASE_QUERIES = ['"全额退款"', '"说了多少遍"', '"七天无理由退货"', '"物流信息"', '"原路退回"', '"工作日"',
                  '"我要投诉你"', '"质量问题"', '"转运中心"', '"充电宝鼓包"', '"加我微信"', '"不在家"']  # fmt: skip
BOOLEAN_QUERIES = ["退款 AND NOT 运费", "投诉 AND 经理", "快递 OR 物流", "(退款 OR 退货) AND NOT 质量", "发票 NOT 电子",
                   "差评 AND 退款", '"全额退款" AND NOT 优惠券', "律师 OR 起诉 OR 12315"]  # fmt: skip
FILTERED_QUERIES = ["退款", '"全额退款"', "抱歉", "快递", "优惠券", "微信"]
ENGLISH_QUERIES = ["refund", "iPhone", "tracking", "PayPal", "email", "manager", "sorry", '"tracking number"']


def query_sets() -> dict[str, list[tuple[str, Any]]]:
    """The kinds of query a supervisor types on the search page, with the page's filters."""
    from django.utils import timezone

    from qa.searching import Filters

    none = Filters()
    today = timezone.localdate()
    week = Filters(speaker="agent", since=today - timedelta(days=7), until=today)
    return {
        "term": [(q, none) for q in TERM_QUERIES],
        "phrase": [(q, none) for q in PHRASE_QUERIES],
        "boolean": [(q, none) for q in BOOLEAN_QUERIES],
        "filtered (agent, last 7 days)": [(q, week) for q in FILTERED_QUERIES],
        "english": [(q, none) for q in ENGLISH_QUERIES],
    }


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]  # nearest rank


def breakdown(text: str, filters: Any) -> dict[str, float]:
    """search()'s steps timed one by one (ms), to see where the time goes."""
    from qa import searching
    from qa.models import Segment

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    parsed = searching.parse(text)
    t1 = time.perf_counter()
    with searching.INDEX.searcher() as searcher:
        t2 = time.perf_counter()
        results = searcher.search_page(parsed, 1, pagelen=20, filter=searching._filter_query(filters),
                                       sortedby="date", reverse=True)  # fmt: skip
        found = [(int(hit["id"]), hit.fields()) for hit in results]
        _total = results.total
        t3 = time.perf_counter()
    t4 = time.perf_counter()
    texts = dict(Segment.objects.filter(pk__in=[i for i, _f in found]).values_list("id", "text"))
    t5 = time.perf_counter()
    phrases = searching._phrases(parsed)
    for value in texts.values():
        searching.highlight(searching.mask_pii(value), phrases)
    t6 = time.perf_counter()
    times.update(parse=t1 - t0, open=t2 - t1, search=t3 - t2, close=t4 - t3, db=t5 - t4, highlight=t6 - t5)
    return {k: v * 1000 for k, v in times.items()}


def run_search(args: argparse.Namespace) -> list[tuple[str, ...]]:
    from qa import searching

    table: list[tuple[str, ...]] = []
    profiles: dict[str, cProfile.Profile] = {}
    for kind, queries in query_sets().items():
        for text, filters in queries:  # warm up: the OS cache, Django's connection, Whoosh's imports
            searching.search(text, filters)
        times, totals, parts = [], [], []
        began = time.perf_counter()
        for n in range(args.queries):
            if n >= 50 and time.perf_counter() - began > args.kind_seconds:
                break  # enough samples of a slow kind; the table says how many
            text, filters = queries[n % len(queries)]
            started = time.perf_counter()
            page = searching.search(text, filters, page=1, per_page=20, mask=True)
            times.append((time.perf_counter() - started) * 1000)
            totals.append(page.total)
        for text, filters in queries:
            parts.append(breakdown(text, filters))
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for text, filters in queries:
                searching.search(text, filters)
            profile.disable()
            profiles[kind] = profile
        p95 = percentile(times, 0.95)
        steps = {key: statistics.mean(p[key] for p in parts) for key in parts[0]}
        table.append((kind, f"{len(times)}", f"{statistics.median(times):.1f}", f"{p95:.1f}", f"{max(times):.1f}",
                      f"{statistics.median(totals):,.0f}", f"{max(totals):,}",
                      " ".join(f"{k} {v:.1f}" for k, v in steps.items()),
                      "met" if p95 <= TARGET_SEARCH_P95_MS else "MISSED"))  # fmt: skip
        print(f"  search [{kind}]: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms", flush=True)
    for kind, profile in profiles.items():
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        print(f"\n--- profile: {kind} ---\n{out.getvalue()}")
    return table


def print_search(table: list[tuple[str, ...]], queries: int) -> None:
    print(f"\nSearch: qa.searching.search(), first page of 20, newest first, {queries} queries per kind after a "
          f"warm-up — target: p95 <= {TARGET_SEARCH_P95_MS} ms")  # fmt: skip
    header = ("kind", "n", "p50 ms", "p95 ms", "max ms", "hits p50", "hits max", "mean ms per step", "")
    widths = [max(len(r[i]) for r in [*table, header]) for i in range(len(header))]
    for row in [header, *table]:
        print(
            " ".join(
                f"{c:{w}}" if i in (0, 7) else f"{c:>{w}}" for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


# --- Main ----------------------------------------------------------------------------------------


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=1_000_000, help="Segments to generate (default 1,000,000).")
    parser.add_argument("--rules", type=int, default=500, help="Active rules (default 500).")
    parser.add_argument("--days", type=int, default=30, help="The calls' dates spread over this many days.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stages", default="seed,evaluate,index,search")
    parser.add_argument("--eval-processes", default="1,2", help="Evaluate with these many processes, e.g. 1,2.")
    parser.add_argument("--batch", type=int, default=500, help="Transcripts per evaluate_transcripts call.")
    parser.add_argument("--per-call-sample", type=int, default=1000, help="Transcripts evaluated one per call.")
    parser.add_argument("--index-variants", default="rebuild", help=f"Any of {', '.join(INDEX_VARIANTS)}; the "
                        "last one built is searched.")  # fmt: skip
    parser.add_argument("--steady-batches", type=int, default=4, help="index_transcripts(500 ids) batches.")
    parser.add_argument("--queries", type=int, default=300, help="Timed searches per kind.")
    parser.add_argument("--kind-seconds", type=float, default=300, help="Stop a kind of search after this long "
                        "(once 50 are timed).")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="cProfile one round of each kind of search.")
    parser.add_argument("--reuse", action="store_true", help="Use the calls and rules already in the database.")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database and the index.")
    parser.add_argument("--worker-evaluate", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_evaluate:
        setup_django()
        first, last = args.worker_evaluate
        worker_evaluate(first, last, args.batch)
        return
    args.eval_processes = [int(n) for n in args.eval_processes.split(",") if n]
    args.index_variants = [v for v in args.index_variants.split(",") if v]
    unknown = set(args.index_variants) - set(INDEX_VARIANTS)
    if unknown:
        sys.exit(f"--index-variants: unknown {', '.join(sorted(unknown))}")
    stages = set(args.stages.split(","))

    import psycopg

    from core import embedded

    admin = None
    scratch = None
    if not os.environ.get("DATABASE_URL"):
        embedded.start_postgres()
        socket_dir = embedded.pg_socket_dir()
        scratch = "bench_qa"
        admin = psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True)
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [scratch]).fetchone()
        if not (exists and args.reuse):
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{scratch}"')
        os.environ["DATABASE_URL"] = f"postgresql://postgres@/{scratch}?host={socket_dir}"
    index_dir = None
    if not os.environ.get("SEARCH_INDEX_DIR"):
        index_dir = tempfile.mkdtemp(prefix="bench-qa-index-")
        os.environ["SEARCH_INDEX_DIR"] = index_dir
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0", "--skip-checks"], check=True)
    setup_django()
    from django.db import connection
    from django.db.models import Count

    from qa.models import Rule, Transcript

    try:
        if Transcript.objects.exclude(external_id__startswith=EXTERNAL_PREFIX).exists():
            sys.exit(
                f"{connection.settings_dict['NAME']} holds transcripts the bench did not make; use another database."
            )
        have = Transcript.objects.exists()
        if have and not args.reuse:
            sys.exit(f"{connection.settings_dict['NAME']} already holds the bench's calls: pass --reuse, or drop it.")
        print(f"database {connection.settings_dict['NAME']}, index {os.environ['SEARCH_INDEX_DIR']}")
        if "seed" in stages and not have:
            made = seed(args.segments, args.days, args.seed)
            print(f"  generated and copied {made['calls']:,.0f} calls, {made['segments']:,.0f} segments, "
                  f"{made['characters']:,.0f} characters in {made['seconds']:.1f} s", flush=True)  # fmt: skip
        if not Rule.objects.filter(active=True).exists():
            seconds = create_rules(args.rules, args.seed)
            print(f"  created {args.rules} active rules with create_rule in {seconds:.1f} s", flush=True)
        data = corpus()
        rules = Rule.objects.filter(active=True).count()
        kinds = dict(Rule.objects.filter(active=True).values_list("kind").annotate(n=Count("id")).order_by())
        print(f"\n{data.transcripts:,} calls, {data.segments:,} segments, {data.characters:,} characters "
              f"({data.bytes / 2**20:,.0f} MiB of UTF-8, {data.hours:,.0f} call-hours at {CHARS_PER_MINUTE} "
              f"characters a minute = {data.characters / DAY_CHARACTERS:.1%} of a day); {rules} active rules {kinds}",
              flush=True)  # fmt: skip
        results: list[tuple[str, list[Row], str]] = []
        if "evaluate" in stages:
            results.append(("Rule evaluation (PostgreSQL in, findings out)", run_evaluation(args, data),
                            f"a day <= {TARGET_EVALUATION_S // 60} min"))  # fmt: skip
        if "index" in stages:
            results.append(("Indexing (PostgreSQL in, Whoosh index out)", run_indexing(args, data),
                            f"a day <= {TARGET_INDEXING_S // 60} min"))  # fmt: skip
        search_table = run_search(args) if "search" in stages else None
        for title, rows, target in results:
            print_rows(title, rows, target)
        if search_table:
            docs, parts = index_segments()
            print(f"\n(index: {docs:,} documents in {parts} Whoosh segment(s))")
            print_search(search_table, args.queries)
    finally:
        from django.db import connections

        connections.close_all()
        if index_dir and not args.keep:
            shutil.rmtree(index_dir, ignore_errors=True)
        if admin is not None and scratch and not args.keep:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


if __name__ == "__main__":
    main()
