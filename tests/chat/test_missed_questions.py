"""The supervisors' missed-questions page: what the bot could not answer in the last 7 days, grouped by
normalised text with counts, newest first, at a fixed number of queries; teaching a wording from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import services
from chat.models import KnowledgeArticle
from chat.selectors import missed_questions, normalised_question
from merchants.models import MerchantMembership
from tests.chat.support import plain_consumer
from tests.crm import factories as f
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db
URL = "/admin/chat/knowledgearticle/missed/"


def _ask(*texts: str) -> None:
    consumer = plain_consumer()
    services.start_chat(consumer.pk, "zh-hans")
    for text in texts:
        services.consumer_message(consumer.pk, "zh-hans", text)


def test_misses_are_grouped_by_normalised_text_with_counts_newest_first() -> None:
    _ask("冰箱能寄吗？", "这是啥")  # two misses in a row: the second hands off, and counts as a miss too
    _ask("冰箱能寄吗", "你好")  # a greeting is no miss
    _ask("ＷＨＡＴ is this?!")
    old = TicketEvent.objects.filter(data__question="这是啥").get()
    groups = missed_questions(timezone.now() - timedelta(days=7))
    assert [(g["question"], g["count"]) for g in groups] == [
        ("ＷＨＡＴ is this?!", 1),
        ("冰箱能寄吗", 2),
        ("这是啥", 1),
    ]
    assert groups[0]["key"] == normalised_question("what is this") == "whatisthis"
    TicketEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    assert "这是啥" not in [g["question"] for g in missed_questions(timezone.now() - timedelta(days=7))]


def test_the_page_lists_the_misses_at_a_fixed_number_of_queries(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    KnowledgeArticle.objects.create(title="如何开具发票", answer="……", language="zh-hans")
    client = client_for(make_user("boss", "supervisor"))
    _ask("冰箱能寄吗")
    client.get(URL)  # warm (session, content types)
    with CaptureQueriesContext(connection) as few:
        page = client.get(URL)
    assert page.status_code == 200 and page.content.decode().count('class="count"') == 1
    for n in range(6):
        _ask(f"第{n}个奇怪的问题呀")
    KnowledgeArticle.objects.create(title="如何修改收货地址", answer="……", language="zh-hans")
    with CaptureQueriesContext(connection) as many:
        page = client.get(URL)
    html = page.content.decode()
    assert html.count('class="count"') == 7 and "冰箱能寄吗" in html and "如何修改收货地址" in html
    assert len(many.captured_queries) == len(few.captured_queries)


def test_only_supervisors_see_the_page(make_user: Callable[..., User], client_for: Callable[[User], Client]) -> None:
    assert client_for(make_user("agent", "agent")).get(URL).status_code == 403
    assert client_for(make_user("business", "business")).get(URL).status_code == 403
    shop = make_user("shop", "merchant_staff")
    shop.user_permissions.add(Permission.objects.get(codename="view_missed_questions"))
    MerchantMembership.objects.create(user=shop, merchant=f.merchant())
    assert client_for(shop).get(URL).status_code == 403
    assert Client().get(URL).status_code == 302  # to the login page
    listing = client_for(make_user("boss", "supervisor")).get("/admin/chat/knowledgearticle/")
    assert URL in listing.content.decode()


def test_a_supervisor_teaches_a_missed_question_to_an_article(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    article = KnowledgeArticle.objects.create(title="如何开具发票", answer="……", language="zh-hans")
    client = client_for(make_user("boss", "supervisor"))
    done = client.post(URL, {"question": "报销的票咋弄", "article": str(article.pk)}, follow=True)
    assert done.redirect_chain == [(URL, 302)]
    assert "已添加到" in done.content.decode()
    article.refresh_from_db()
    assert article.questions == "报销的票咋弄"


@pytest.mark.parametrize("article", ["", "abc", "999999999", "1" * 30])
def test_teaching_without_a_real_article_changes_nothing(
    make_user: Callable[..., User], client_for: Callable[[User], Client], article: str
) -> None:
    real = KnowledgeArticle.objects.create(title="如何开具发票", answer="……", language="zh-hans")
    done = client_for(make_user("boss", "supervisor")).post(URL, {"question": "报销的票咋弄", "article": article},
                                                            follow=True)  # fmt: skip
    assert done.status_code == 200 and "请选择一个知识条目" in done.content.decode()
    real.refresh_from_db()
    assert real.questions == ""


def test_an_agent_cannot_post_to_the_page(make_user: Callable[..., User], client_for: Callable[[User], Client]) -> None:
    article = KnowledgeArticle.objects.create(title="如何开具发票", answer="……", language="zh-hans")
    refused = client_for(make_user("agent", "agent")).post(URL, {"question": "x", "article": str(article.pk)})
    assert refused.status_code == 403
    article.refresh_from_db()
    assert article.questions == ""


def test_phone_numbers_in_missed_questions_are_masked_for_those_who_may_not_see_them(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    _ask("我手机13812345678冰箱能寄吗")
    lead = make_user("lead", "agent")
    lead.user_permissions.add(Permission.objects.get(codename="view_missed_questions"))
    masked = client_for(lead).get(URL).content.decode()
    assert "13812345678" not in masked and "冰箱能寄吗" in masked
    assert "13812345678" in client_for(make_user("boss", "supervisor")).get(URL).content.decode()
