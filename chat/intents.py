"""What a consumer's message asks the bot to *do*, as pure functions of the text: hand over to a person,
file a refund, show the orders. Everything else is a question for the knowledge base.

An action that moves money or files something runs only on an explicit request ("我要退款", "申请退款",
"refund order X"), never on a question about it ("退款多久到账" is answered from the knowledge base).
The consumer's confirmation of such a request is a separate step (the chat's confirmation frame).

The phrase lists here are built in and always apply; the admin-editable handoff list (``chat.models.HandoffPhrase``,
read through its cached ``active_phrases``) is passed in by the caller (``knowledge.understand``), so that this
module stays pure: a phrase of the table counts exactly like a built-in one, repeated asks included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from chat.analysis import fold


class Intent(StrEnum):
    HANDOFF = "handoff"
    ANGER = "anger"
    REFUND = "refund"
    ORDER_STATUS = "order_status"


# Said in so many words: the consumer wants a person. Any one of these hands off.
HANDOFF_ZH = (
    "转人工", "人工客服", "人工服务", "找人工",
    "人工", "真人", "活人", "转接", "找客服", "要客服", "叫客服", "接客服", "转客服", "联系客服", "客服小姐姐",
    "客服小哥", "机器人听不懂", "别让机器人", "不要机器人", "不想和机器人", "不想跟机器人", "不跟机器人",
    "不和机器人", "别用机器人", "不想跟机器", "不想和机器", "不跟机器", "不和机器", "别跟机器", "客服出来",
    "叫你们客服", "换个人", "换人", "跟人说话", "和人说话", "跟人聊", "找个人", "叫个人",
    "叫你们经理", "叫经理", "找经理", "你们经理", "找你们领导", "人呢", "有人吗", "有没有人",
)  # fmt: skip
HANDOFF_EN = (
    "human", "humans", "agent", "agents", "real person", "a person", "operator", "representative", "rep",
    "talk to someone", "speak to someone", "talk to somebody", "speak to somebody", "customer service",
    "customer support", "live chat", "live person", "someone real", "not a bot", "stop the bot", "no bot",
    "not a robot", "manager", "supervisor",
)  # fmt: skip
# Weak on their own (客服 is also in "客服电话是多少"); they hand off when repeated or said alone.
HANDOFF_WEAK = ("客服", "人", "客服人员")
ANGER_ZH = ("投诉", "垃圾", "骗子", "气死", "太差", "差劲", "愤怒", "举报", "12315", "工商", "坑人", "欺骗", "无语",
            "曝光", "消协")  # fmt: skip
ANGER_EN = ("complain", "complaint", "angry", "furious", "terrible", "worst", "scam", "fraud", "ridiculous",
            "unacceptable", "disgusting", "rip off", "ripoff")  # fmt: skip

# A refund *request*: the consumer asks for it to happen.
REFUND_REQUEST_ZH = (
    "我要退款", "要退款", "想退款", "申请退款", "帮我退款", "给我退款", "帮忙退款", "给我退钱", "我要退钱",
    "把钱退给我", "钱退给我", "退款吧", "马上退款", "立即退款", "直接退款", "办理退款",
    "我要退货退款", "申请退货退款", "退了吧",
)  # fmt: skip
REFUND_REQUEST_EN = (
    "i want a refund", "i'd like a refund", "i would like a refund", "want my money back", "give me my money back",
    "refund me", "refund my order", "refund this order", "refund order", "request a refund", "please refund",
    "refund please", "issue a refund", "process a refund", "get a refund for",
)  # fmt: skip
# Words that turn a mention of refunds into a question about them (timing, progress, rules, where the money goes).
ABOUT_ZH = ("多久", "多长时间", "几天", "什么时候", "啥时候", "到账", "到帐", "进度", "怎么", "如何", "规则", "流程",
            "能不能", "可以吗", "能退吗", "吗", "为什么", "哪里", "去哪", "多少")  # fmt: skip
ABOUT_EN = ("how long", "when", "how do", "how can", "how to", "where", "why", "status of", "can i", "rules", "policy")
REFUND_WORDS = ("退款", "退钱", "refund")

ORDER_STATUS_ZH = ("到哪了", "到哪儿了", "到哪里了", "查物流", "查快递", "查一下物流", "查下物流", "物流信息", "查订单",
                   "查询订单", "我的订单", "订单状态", "订单到哪")  # fmt: skip
ORDER_STATUS_EN = ("where is my order", "where's my order", "where is my package", "where is my parcel",
                   "track my order", "track my package", "tracking number", "order status")  # fmt: skip

ORDER_NO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{5,31}")
_PUNCTUATION = re.compile(r"[\s!！?？,，.。~～…、;；:：\"“”'‘’()（）\[\]【】]+")


@dataclass(frozen=True)
class Detected:
    """An intent found in a message; ``repeated`` when the ask came more than once (人工！人工！)."""

    intent: Intent
    phrase: str
    repeated: bool = False


def _latin(text: str, phrase: str) -> int:
    if phrase not in text:  # most phrases, most messages: no regex to run
        return 0
    return len(re.findall(rf"(?<![a-z']){re.escape(phrase)}(?![a-z])", text))


def _count(text: str, zh: Iterable[str], en: Iterable[str]) -> tuple[str, int]:
    """The phrase found most often in ``text`` (longest first on ties) and how often; ("", 0) if none."""
    best, times = "", 0
    for phrase in sorted(zh, key=len, reverse=True):
        n = text.count(phrase)
        if n > times:
            best, times = phrase, n
    for phrase in sorted(en, key=len, reverse=True):
        n = _latin(text, phrase)
        if n > times:
            best, times = phrase, n
    return best, times


def ask_for_person(text: str, phrases: Iterable[str] = (), weak: Iterable[str] = HANDOFF_WEAK) -> Detected | None:
    """An explicit ask for a person: a handoff phrase (the seed plus ``phrases``), or a weak word (客服)
    repeated or said on its own. Anger and complaints (我要投诉) are asks too, with their own intent."""
    folded = fold(text)
    bare = _PUNCTUATION.sub("", folded)
    extra = [fold(p) for p in phrases]
    phrase, times = _count(folded, ANGER_ZH, ANGER_EN)
    if times:
        return Detected(Intent.ANGER, phrase, times > 1)
    phrase, times = _count(folded, (*HANDOFF_ZH, *[p for p in extra if not p.isascii()]),
                           (*HANDOFF_EN, *[p for p in extra if p.isascii()]))  # fmt: skip
    if times:
        return Detected(Intent.HANDOFF, phrase, times > 1)
    for word in weak:
        if bare and (bare == word or bare == word * (len(bare) // len(word))):
            return Detected(Intent.HANDOFF, word, len(bare) > len(word))
    return None


def asks_for_refund(text: str) -> bool:
    """An explicit request to refund (我要退款, 申请退款, "refund order X"), not a question about refunds."""
    folded = fold(text)
    if _count(folded, REFUND_REQUEST_ZH, REFUND_REQUEST_EN)[1]:
        question = _count(folded, [w for w in ABOUT_ZH if w not in ("吗",)], ABOUT_EN)[1]
        return not question
    # "退款 T2026..." — the one-tap button's words, or a consumer naming the order to refund.
    mentions = any(word in folded for word in REFUND_WORDS)
    if mentions and ORDER_NO.search(text) and any(ch.isdigit() for ch in text):
        return not _count(folded, ABOUT_ZH, ABOUT_EN)[1]
    return False


def asks_for_orders(text: str) -> bool:
    """An explicit ask to see one's orders or where a parcel is (我的快递到哪了, "track my order")."""
    return bool(_count(fold(text), ORDER_STATUS_ZH, ORDER_STATUS_EN)[1])


def detect(text: str, handoff_phrases: Iterable[str] = ()) -> Detected | None:
    """The action a message explicitly asks for, or None: then it is a question for the knowledge base."""
    person = ask_for_person(text, handoff_phrases)
    if person is not None:
        return person
    if asks_for_refund(text):
        return Detected(Intent.REFUND, "refund")
    if asks_for_orders(text):
        return Detected(Intent.ORDER_STATUS, "orders")
    return None
