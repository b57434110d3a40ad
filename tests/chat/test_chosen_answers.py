""" "猜你想问" remembered: a tap on an offered title answers with that article and counts as a hit; the choice is
stored once per consumer, and becomes a wording of the article only when different consumers agree."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import current_app
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import choices, knowledge, services
from chat.models import ChatSession, ChosenAnswer, KnowledgeArticle
from chat.understanding import Kind
from crm.models import Consumer
from tests.chat.support import plain_consumer
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db
URL = "/admin/chat/knowledgearticle/missed/"
VAGUE = "跨境那个怎么弄"  # both articles hold 跨境 and nothing else of it: the bot offers both


@pytest.fixture
def eager() -> Iterator[None]:
    was = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = was


@pytest.fixture
def articles() -> tuple[KnowledgeArticle, KnowledgeArticle]:
    duty = KnowledgeArticle.objects.create(
        title="海外购商品要交关税吗",
        language="zh-hans",
        answer="跨境商品的进口税由平台代收代缴，含在结算页的“税费”里。",
    )
    name = KnowledgeArticle.objects.create(
        title="跨境购物为什么要实名认证", language="zh-hans", answer="按海关规定，购买跨境商品要提供订购人的身份证号。"
    )
    knowledge.rebuild_index()
    return duty, name


def _bot_said(consumer: Consumer) -> TicketEvent:
    chat = ChatSession.objects.get(consumer=consumer, state__in=["bot", "waiting", "active"])
    return TicketEvent.objects.filter(ticket_id=chat.ticket_id, author_kind="bot").latest("pk")


def _ask_and_tap(consumer: Consumer, question: str, title: str) -> TicketEvent:
    services.start_chat(consumer.pk, "zh-hans")
    services.consumer_message(consumer.pk, "zh-hans", question)
    offered = _bot_said(consumer)
    assert offered.data["intent"] == "suggest" and title in offered.data["suggestions"]
    services.consumer_message(consumer.pk, "zh-hans", title)
    return _bot_said(consumer)


def test_a_tap_answers_with_the_chosen_article_counts_as_a_hit_and_is_stored(
    articles: tuple[KnowledgeArticle, KnowledgeArticle],
) -> None:
    _duty, name = articles
    consumer = plain_consumer()
    services.start_chat(consumer.pk, "zh-hans")
    services.consumer_message(consumer.pk, "zh-hans", "量子计算机的原理")  # a miss first
    assert ChatSession.objects.get(consumer=consumer).bot_misses == 1
    answer = _ask_and_tap(consumer, VAGUE, name.title)
    assert (answer.body, answer.data["intent"], answer.data["article"]) == (name.answer, "article", name.pk)
    chat = ChatSession.objects.get(consumer=consumer)
    assert chat.bot_misses == 0 and chat.state == "bot"
    assert "offer" not in chat.summary  # a tap is good for one message only
    row = ChosenAnswer.objects.get()
    assert (row.question, row.question_key, row.article_id, row.consumer_id, row.learnt) == (
        VAGUE, VAGUE, name.pk, consumer.pk, False)  # fmt: skip
    name.refresh_from_db()
    assert name.questions == ""  # one consumer teaches nothing


def test_one_consumer_tapping_again_and_again_cannot_teach_the_bot(
    eager: None, articles: tuple[KnowledgeArticle, KnowledgeArticle]
) -> None:
    _duty, name = articles
    consumer = plain_consumer()
    for question in (VAGUE, f"{VAGUE}？", f" {VAGUE}!! "):
        _ask_and_tap(consumer, question, name.title)
    assert ChosenAnswer.objects.count() == 1
    name.refresh_from_db()
    assert name.questions == ""
    assert knowledge.understand(VAGUE, "zh-hans").kind == Kind.OFFER


def test_two_consumers_choosing_the_same_article_teach_it_the_question(
    eager: None, articles: tuple[KnowledgeArticle, KnowledgeArticle], django_capture_on_commit_callbacks: Any
) -> None:
    _duty, name = articles
    _ask_and_tap(plain_consumer(), VAGUE, name.title)
    with django_capture_on_commit_callbacks(execute=True):  # the index task, after the commit
        _ask_and_tap(plain_consumer(), f"{VAGUE}？", name.title)  # the same question, once normalised
    name.refresh_from_db()
    assert name.questions == f"{VAGUE}？"  # in the words of the consumer who made it two
    assert list(ChosenAnswer.objects.values_list("learnt", flat=True)) == [True, True]
    knowledge.reset_searcher()  # this process sees the re-indexed article (another one within REFRESH_SECONDS)
    seen = knowledge.understand(VAGUE, "zh-hans")
    assert (seen.kind, seen.candidates[0].article.id) == (Kind.ANSWER, name.pk)
    # A third consumer who agrees adds nothing more.
    chat, _created = services.start_chat(plain_consumer().pk, "zh-hans")
    assert choices.remember_choice(chat, VAGUE, name.pk, timezone.now()) is False
    name.refresh_from_db()
    assert name.questions == f"{VAGUE}？"
    assert ChosenAnswer.objects.count() == 3


def test_consumers_who_disagree_teach_only_the_article_most_of_them_chose(
    eager: None, articles: tuple[KnowledgeArticle, KnowledgeArticle]
) -> None:
    duty, name = articles
    _ask_and_tap(plain_consumer(), VAGUE, duty.title)
    _ask_and_tap(plain_consumer(), VAGUE, name.title)
    duty.refresh_from_db()
    name.refresh_from_db()
    assert (duty.questions, name.questions) == ("", "")  # one each: nobody leads
    _ask_and_tap(plain_consumer(), VAGUE, name.title)
    duty.refresh_from_db()
    name.refresh_from_db()
    assert (duty.questions, name.questions) == ("", VAGUE)


@override_settings(CHAT_CHOICE_LEARN_CONSUMERS=3)
def test_the_number_of_consumers_who_must_agree_is_a_setting(
    eager: None, articles: tuple[KnowledgeArticle, KnowledgeArticle]
) -> None:
    _duty, name = articles
    for _ in range(2):
        _ask_and_tap(plain_consumer(), VAGUE, name.title)
    name.refresh_from_db()
    assert name.questions == ""
    _ask_and_tap(plain_consumer(), VAGUE, name.title)
    name.refresh_from_db()
    assert name.questions == VAGUE


def test_a_title_typed_when_nothing_was_offered_is_an_ordinary_question(
    articles: tuple[KnowledgeArticle, KnowledgeArticle],
) -> None:
    _duty, name = articles
    consumer = plain_consumer()
    services.start_chat(consumer.pk, "zh-hans")
    services.consumer_message(consumer.pk, "zh-hans", VAGUE)
    services.consumer_message(consumer.pk, "zh-hans", "谢谢")  # the offer is gone with this message
    services.consumer_message(consumer.pk, "zh-hans", name.title)
    said = _bot_said(consumer)
    assert (said.data["intent"], said.data["article"]) == ("article", name.pk)  # answered by the knowledge base
    assert "chosen" not in said.data
    assert ChosenAnswer.objects.count() == 0


def test_a_tap_on_an_article_no_longer_indexed_is_not_remembered(
    articles: tuple[KnowledgeArticle, KnowledgeArticle],
) -> None:
    _duty, name = articles
    consumer = plain_consumer()
    services.start_chat(consumer.pk, "zh-hans")
    services.consumer_message(consumer.pk, "zh-hans", VAGUE)
    KnowledgeArticle.objects.filter(pk=name.pk).update(active=False)
    knowledge.rebuild_index()
    services.consumer_message(consumer.pk, "zh-hans", name.title)
    assert ChosenAnswer.objects.count() == 0
    assert _bot_said(consumer).data.get("article") != name.pk


def test_suggested_wordings_list_what_one_consumer_chose_until_it_is_learnt(
    eager: None, articles: tuple[KnowledgeArticle, KnowledgeArticle], django_assert_num_queries: object
) -> None:
    _duty, name = articles
    _ask_and_tap(plain_consumer(), VAGUE, name.title)
    with django_assert_num_queries(1):  # type: ignore[operator]
        rows = choices.suggested_wordings()
    assert [(r["question"], r["article_id"], r["article__title"], r["consumers"]) for r in rows] == [
        (VAGUE, name.pk, name.title, 1)]  # fmt: skip
    _ask_and_tap(plain_consumer(), VAGUE, name.title)
    assert choices.suggested_wordings() == []


def test_a_question_learnt_for_one_article_is_not_taught_to_another_chosen_as_often(
    articles: tuple[KnowledgeArticle, KnowledgeArticle],
) -> None:
    duty, name = articles
    chats = [services.start_chat(plain_consumer().pk, "zh-hans")[0] for _ in range(4)]
    now = timezone.now()
    assert [choices.remember_choice(chat, VAGUE, duty.pk, now) for chat in chats[:2]] == [False, True]
    assert [choices.remember_choice(chat, VAGUE, name.pk, now) for chat in chats[2:]] == [False, False]
    duty.refresh_from_db()
    name.refresh_from_db()
    assert (duty.questions, name.questions) == (VAGUE, "")


def test_a_learnt_choice_never_carries_the_consumers_numbers(
    articles: tuple[KnowledgeArticle, KnowledgeArticle],
) -> None:
    _duty, name = articles
    chats = [services.start_chat(plain_consumer().pk, "zh-hans")[0] for _ in range(2)]
    for chat in chats:
        choices.remember_choice(chat, "跨境那个怎么弄 13812345678", name.pk, timezone.now())
    name.refresh_from_db()
    assert "13812345678" not in name.questions and name.questions.startswith("跨境那个怎么弄 138")


def test_the_missed_questions_page_offers_what_consumers_chose_as_a_one_click_wording(
    articles: tuple[KnowledgeArticle, KnowledgeArticle],
    make_user: Callable[..., User],
    client_for: Callable[[User], Client],
) -> None:
    duty, name = articles
    client = client_for(make_user("boss", "supervisor"))
    _ask_and_tap(plain_consumer(), VAGUE, name.title)
    client.get(URL)  # warm (session, content types)
    with CaptureQueriesContext(connection) as few:
        page = client.get(URL)
    html = page.content.decode()
    assert page.status_code == 200 and 'id="chosen"' in html and f'name="article" value="{name.pk}"' in html
    _ask_and_tap(plain_consumer(), "跨境的那个东西", duty.title)
    with CaptureQueriesContext(connection) as many:
        html = client.get(URL).content.decode()
    assert html.count('name="article" value="') == 2
    assert len(many.captured_queries) == len(few.captured_queries)
    done = client.post(URL, {"question": VAGUE, "article": name.pk})
    assert done.status_code == 302
    name.refresh_from_db()
    assert name.questions == VAGUE
    assert client_for(make_user("agent", "agent")).get(URL).status_code == 403
