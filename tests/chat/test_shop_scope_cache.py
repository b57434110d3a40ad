"""A shop's bot reads its articles' scope from the cache: an answer in a shop's chat reads no article table, and
any change of an article (its shop, its state, a new one, a deleted one) is seen by the next answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from pytest_django import DjangoAssertNumQueries

from chat import knowledge, services
from chat.models import ChatSession, HandoffPhrase, KnowledgeArticle
from tests.chat.support import plain_consumer
from tests.crm import factories as f
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db


def _last_bot_answer(consumer_id: int) -> str:
    chat = ChatSession.objects.get(consumer_id=consumer_id)
    return str(TicketEvent.objects.filter(ticket_id=chat.ticket_id, author_kind="bot").latest("pk").body)


def test_a_bot_answer_in_a_shops_chat_costs_six_queries_and_reads_no_article_table(
    django_assert_num_queries: DjangoAssertNumQueries, django_capture_on_commit_callbacks: Any
) -> None:
    shop = f.merchant("SHOP-Q", name="店铺Q")
    KnowledgeArticle.objects.create(shop=shop, title="如何开具发票", questions="发票怎么开", answer="店铺Q开票。")
    KnowledgeArticle.objects.create(title="如何开具发票", questions="发票怎么开", answer="平台开票。")
    knowledge.rebuild_index()
    who = plain_consumer()
    services.start_chat(who.pk, "zh-hans", shop_id=shop.pk)
    HandoffPhrase.active_phrases()
    knowledge.ranker()
    services.consumer_message(who.pk, "zh-hans", "发票怎么开")  # the first answer fills the scopes' cache
    # savepoint, the locked chat with its ticket's status, the message, the bot's answer, the chat, release
    with django_assert_num_queries(6) as counted, django_capture_on_commit_callbacks(execute=True):
        services.consumer_message(who.pk, "zh-hans", "发票怎么开")
    assert [q["sql"] for q in counted.captured_queries if '"chat_knowledgearticle"' in q["sql"]] == []
    assert _last_bot_answer(who.pk) == "店铺Q开票。"


def test_the_cached_scope_follows_every_change_of_an_article() -> None:
    a, b = f.merchant("SHOP-A", name="店铺A"), f.merchant("SHOP-B", name="店铺B")
    article = KnowledgeArticle.objects.create(shop=a, title="尺码", answer="A的尺码表。")
    assert knowledge.scope_ids(a.pk) == {article.pk} and knowledge.scope_ids(b.pk) == frozenset()
    # Moved to another shop: the first shop's cached list must not keep it (its chats would rank another's article).
    article.shop = b
    article.save()
    assert (knowledge.scope_ids(a.pk), knowledge.scope_ids(b.pk)) == (frozenset(), {article.pk})
    article.active = False
    article.save(update_fields=["active"])
    assert knowledge.scope_ids(b.pk) == frozenset()
    platform = KnowledgeArticle.objects.create(title="发票", answer="平台开票。")
    assert knowledge.scope_ids(None) == {platform.pk}
    platform.delete()
    assert knowledge.scope_ids(None) == frozenset() and knowledge.scope_ids(b.pk) == frozenset()
    # A bulk change the model does not see is picked up when the article is re-indexed (the admin queues it).
    KnowledgeArticle.objects.filter(pk=article.pk).update(active=True)
    assert knowledge.scope_ids(b.pk) == frozenset()
    knowledge.index_article(article.pk)
    assert knowledge.scope_ids(b.pk) == {article.pk}


def test_the_scopes_are_read_from_the_cache_until_an_article_changes(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    shop = f.merchant("SHOP-C", name="店铺C")
    KnowledgeArticle.objects.create(shop=shop, title="尺码", answer="C的尺码表。")
    with django_assert_num_queries(1):
        knowledge.scope_ids(shop.pk)
    with django_assert_num_queries(0):
        knowledge.scope_ids(shop.pk)
    KnowledgeArticle.objects.create(shop=shop, title="发票", answer="C开票。")
    with django_assert_num_queries(1):
        assert len(knowledge.scope_ids(shop.pk)) == 2


def test_a_scope_change_made_in_another_process_is_seen_by_the_next_read_here(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    shop = f.merchant("SHOP-D", name="店铺D")
    first = KnowledgeArticle.objects.create(shop=shop, title="尺码", answer="D的尺码表。")
    assert knowledge.scope_ids(shop.pk) == {first.pk}
    with django_assert_num_queries(0):  # the lists of the current version are kept in this process
        assert knowledge.scope_ids(shop.pk) == {first.pk}
    (second,) = KnowledgeArticle.objects.bulk_create([KnowledgeArticle(shop=shop, title="发票", answer="D开票。")])
    # What another process's change does here: it drops the scopes' version in the shared Redis.
    cache.delete(KnowledgeArticle.SCOPE_VERSION_KEY)
    with django_assert_num_queries(1):
        assert knowledge.scope_ids(shop.pk) == {first.pk, second.pk}
