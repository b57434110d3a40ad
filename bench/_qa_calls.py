"""bench/qa.py: customer-service calls as the recogniser would hand them over, generated."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from _qa_figures import CHARS_PER_MINUTE

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
