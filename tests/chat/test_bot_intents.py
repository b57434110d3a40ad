"""What a message asks the bot to do (chat.intents), and that a question about refunds is answered
from the knowledge base instead of filing one."""

from __future__ import annotations

import pytest

from chat import intents, knowledge, services
from chat.intents import Intent
from chat.models import KnowledgeArticle
from tests.chat.support import plain_consumer
from tests.crm import factories as f
from tickets.models import RefundRequest, TicketEvent

ASKS = ["不想跟机器聊了", "叫你们客服出来", "人工", "人工！人工！", "人工人工人工", "转人工", "找客服", "我要找客服",
        "真人", "别让机器人回答了",
        "不要机器人", "机器人听不懂，换个人", "有没有人工客服", "客服", "客服！客服！", "人呢？", "human",
        "agent please", "I want to talk to a real person", "can I talk to someone", "get me a person"]  # fmt: skip


@pytest.mark.parametrize("text", ASKS)
def test_an_explicit_ask_for_a_person_hands_off(text: str) -> None:
    found = intents.detect(text)
    assert found is not None and found.intent == Intent.HANDOFF


@pytest.mark.parametrize("text", ["我要投诉", "你们就是骗子", "this is a scam"])
def test_a_complaint_hands_off_as_anger(text: str) -> None:
    found = intents.detect(text)
    assert found is not None and found.intent == Intent.ANGER


def test_a_repeated_ask_is_marked_repeated() -> None:
    assert intents.ask_for_person("人工！人工！") == intents.Detected(Intent.HANDOFF, "人工", repeated=True)
    assert intents.ask_for_person("转人工") == intents.Detected(Intent.HANDOFF, "转人工", repeated=False)


@pytest.mark.parametrize("text", ["客服电话是多少", "发票怎么开", "人多吗", "工作人员态度好"])
def test_words_that_merely_mention_service_do_not_hand_off(text: str) -> None:
    assert intents.detect(text) is None


def test_admin_phrases_extend_the_seed_list() -> None:
    assert intents.detect("叫小二来") is None
    assert intents.detect("叫小二来", ["小二"]) == intents.Detected(Intent.HANDOFF, "小二")


@pytest.mark.parametrize(
    "text", ["我要退款", "申请退款", "帮我退款吧", "退款 T2026A1B2C3", "I want a refund", "refund my order"]
)
def test_a_refund_request_is_a_refund_intent(text: str) -> None:
    assert intents.detect(text) == intents.Detected(Intent.REFUND, "refund")


@pytest.mark.parametrize(
    "text",
    ["退款多久到账", "退款什么时候到", "我要退款多久能到账", "refund how long", "how long does a refund take",
     "能退款吗", "退款 T2026A1B2C3 什么时候到"],
)  # fmt: skip
def test_a_question_about_refunds_is_not_a_refund_request(text: str) -> None:
    assert intents.detect(text) is None


def test_order_tracking_needs_an_explicit_ask() -> None:
    assert intents.detect("我的快递到哪了") == intents.Detected(Intent.ORDER_STATUS, "orders")
    assert intents.detect("where is my order") == intents.Detected(Intent.ORDER_STATUS, "orders")
    assert intents.detect("快递多久能到") is None
    assert intents.detect("多久发货") is None


@pytest.mark.django_db
def test_asking_how_long_a_refund_takes_is_answered_and_files_nothing() -> None:
    KnowledgeArticle.objects.create(title="退款多久到账", answer="退款审核通过后原路退回，银行卡 1–3 个工作日。",
                                    language="zh-hans")  # fmt: skip
    knowledge.rebuild_index()
    knowledge.reset_searcher()
    who = plain_consumer()
    f.order(who, f.merchant(), "99.00", status="delivered")
    chat, _created = services.start_chat(who.pk, "zh-hans")
    services.consumer_message(who.pk, "zh-hans", "退款多久到账")
    said = TicketEvent.objects.filter(ticket_id=chat.ticket_id, author_kind="bot").order_by("-pk").first()
    assert said is not None and said.body == "退款审核通过后原路退回，银行卡 1–3 个工作日。"
    assert said.data["intent"] == "article"
    assert RefundRequest.objects.count() == 0
