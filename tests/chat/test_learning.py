"""Learn a wording: a consumer's question attached to an article becomes another wording of it, the index is
brought up to date after the commit, and the bot answers that question at once. Only those allowed may."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import current_app
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from chat import conversation, desk, knowledge, learning, services
from chat.models import ChatSession, KnowledgeArticle
from chat.understanding import Kind
from tests.chat.support import plain_consumer
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db
ODD = "单位报销要的那张纸在哪弄"  # no word of it in the article: the bot cannot know it means an invoice


@pytest.fixture
def eager() -> Iterator[None]:
    was = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = was


def _article() -> KnowledgeArticle:
    article = KnowledgeArticle.objects.create(title="如何开具发票", questions="发票怎么开", language="zh-hans",
                                              answer="在“我的订单”中点击“申请开票”。")  # fmt: skip
    KnowledgeArticle.objects.create(title="如何修改收货地址", answer="发货前可在订单详情修改地址。", language="zh-hans")
    knowledge.rebuild_index()
    return article


def test_a_learnt_wording_is_appended_reindexed_and_answered_at_once(
    eager: None, make_user: Callable[..., User], django_capture_on_commit_callbacks: Any
) -> None:
    article = _article()
    assert knowledge.understand(ODD, "zh-hans").kind != Kind.ANSWER
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert learning.add_wording(article, f"  {ODD} \n", make_user("sup", "supervisor")) is True
    assert len(callbacks) == 1  # the index task, after the commit
    article.refresh_from_db()
    assert article.questions == f"发票怎么开\n{ODD}"
    knowledge.reset_searcher()  # this process sees the re-indexed article (another one within REFRESH_SECONDS)
    seen = knowledge.understand(ODD, "zh-hans")
    assert (seen.kind, seen.candidates[0].article.id) == (Kind.ANSWER, article.pk)


def test_a_wording_the_article_already_has_is_not_added_twice(make_user: Callable[..., User]) -> None:
    article = _article()
    agent = make_user("agent", "agent")
    assert learning.add_wording(article, "发票怎么开", agent) is False
    assert learning.add_wording(article, "如何开具发票", agent) is False  # the title itself
    assert learning.add_wording(article, "ＡＢＣ发票", agent) is True
    assert learning.add_wording(article, "abc发票", agent) is False  # width and case folded
    article.refresh_from_db()
    assert article.questions == "发票怎么开\nＡＢＣ发票"


@pytest.mark.parametrize("text", ["", "   \n ", "长" * 201])
def test_an_empty_or_overlong_wording_is_refused(make_user: Callable[..., User], text: str) -> None:
    article = _article()
    with pytest.raises(ValidationError):
        learning.add_wording(article, text, make_user("sup", "supervisor"))
    article.refresh_from_db()
    assert article.questions == "发票怎么开"


@pytest.mark.parametrize("role", [None, "business", "merchant_staff"])
def test_a_user_without_the_permission_cannot_add_a_wording(make_user: Callable[..., User], role: str | None) -> None:
    article = _article()
    user = make_user("someone", role)
    with pytest.raises(conversation.ChatError) as refused:
        learning.add_wording(article, ODD, user)
    assert refused.value.error_code == "forbidden"
    article.refresh_from_db()
    assert article.questions == "发票怎么开"


def test_merchant_staff_teach_only_their_own_shops_articles(make_user: Callable[..., User]) -> None:
    from merchants.models import MerchantMembership
    from tests.crm import factories as f

    platform, own_shop, other_shop = _article(), f.merchant(), f.merchant()
    own = KnowledgeArticle.objects.create(shop=own_shop, title="本店发票", questions="", answer="本店的发票。")
    other = KnowledgeArticle.objects.create(shop=other_shop, title="别家发票", questions="", answer="别家的发票。")
    user = make_user("shop", "merchant_staff")
    MerchantMembership.objects.create(user=user, merchant=own_shop)
    for article in (platform, other):
        with pytest.raises(conversation.ChatError) as refused:
            learning.add_wording(article, ODD, User.objects.get(pk=user.pk))
        assert refused.value.error_code == "forbidden"
    assert learning.add_wording(own, ODD, User.objects.get(pk=user.pk)) is True
    assert (KnowledgeArticle.objects.get(pk=other.pk).questions, KnowledgeArticle.objects.get(pk=own.pk).questions) == (
        "", ODD)  # fmt: skip


def test_an_inactive_article_learns_nothing(make_user: Callable[..., User]) -> None:
    article = _article()
    KnowledgeArticle.objects.filter(pk=article.pk).update(active=False)
    with pytest.raises(conversation.ChatError) as refused:
        learning.add_wording(article, ODD, make_user("sup", "supervisor"))
    assert refused.value.error_code == "bad_article"


def test_learning_from_a_chat_takes_the_consumers_words_from_a_chat_the_agent_held(
    make_user: Callable[..., User],
) -> None:
    article = _article()
    agent, other = make_user("agent", "agent"), make_user("other", "agent")
    consumer = plain_consumer()
    chat, _created = services.start_chat(consumer.pk, "zh-hans")
    asked = services.consumer_message(consumer.pk, "zh-hans", ODD)
    services.request_human(consumer.pk)
    desk.accept_chat(chat.pk, agent)
    desk.resolve_chat(chat.pk, agent)  # resolved: the agent may still teach from it
    bot_said = TicketEvent.objects.filter(ticket_id=chat.ticket_id, author_kind="bot").latest("pk")
    for who, message, code in ((other, asked.pk, "not_yours"), (agent, bot_said.pk, "bad_message"),
                               (agent, 10**9, "bad_message")):  # fmt: skip
        with pytest.raises(conversation.ChatError) as refused:
            learning.learn_from_chat(chat.pk, message, article.pk, who)
        assert refused.value.error_code == code
    with pytest.raises(conversation.ChatError):
        learning.learn_from_chat(chat.pk, asked.pk, 10**9, agent)
    article.refresh_from_db()
    assert article.questions == "发票怎么开"
    assert learning.learn_from_chat(chat.pk, asked.pk, article.pk, agent) is True
    article.refresh_from_db()
    assert article.questions == f"发票怎么开\n{ODD}"
    assert ChatSession.objects.get(pk=chat.pk).state == "ended"
