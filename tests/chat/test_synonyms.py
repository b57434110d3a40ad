"""The synonym table in the admin: seeded from the shipped file, read through a cache that a save drops, used by
the bot at once; only supervisors edit it, and an emptied table falls back to the shipped seed."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import User
from django.test import Client

from chat import analysis, knowledge
from chat.models import KnowledgeArticle, Synonym
from chat.understanding import Kind

pytestmark = pytest.mark.django_db
MIGRATION = import_module("chat.migrations.0006_synonyms_and_chosen_answers")
ODD = "凭条怎么弄"  # 凭条 is in no article and in no shipped group


def _articles() -> None:
    KnowledgeArticle.objects.create(title="如何开具发票", answer="在订单详情点击申请开票。", language="zh-hans")
    KnowledgeArticle.objects.create(title="修改收货地址", answer="发货前可在订单详情修改地址。", language="zh-hans")
    knowledge.rebuild_index()


def _seen(text: str) -> tuple[Kind, str]:
    knowledge.reset_searcher()  # this process reads the table now (another one within REFRESH_SECONDS)
    seen = knowledge.understand(text, "zh-hans")
    return seen.kind, seen.candidates[0].article.title if seen.candidates else ""


def test_the_migration_seeds_every_shipped_group_once_merging_groups_named_alike() -> None:
    Synonym.objects.all().delete()
    MIGRATION.seed_synonyms(django_apps, None)
    MIGRATION.seed_synonyms(django_apps, None)  # run twice: no duplicates
    shipped = analysis.seed_synonyms()
    assert Synonym.objects.count() == len({group[0] for group in shipped})
    invoice = Synonym.objects.get(name="发票")
    assert {"开发票", "invoice", "fapiao"} <= set(invoice.words())
    sizes = set(Synonym.objects.get(name="尺码").words())  # two shipped lines start with 尺码
    assert {"尺寸", "合脚", "码数", "大一号"} <= sizes
    assert sum(len(group) for group in shipped) >= 1300  # words and phrases, both languages


def test_a_group_added_in_the_table_is_used_at_once_and_deactivating_it_stops_that() -> None:
    _articles()
    assert _seen(ODD)[0] != Kind.ANSWER
    group = Synonym.objects.create(name=" 凭条 ", terms="发票，  收据\n 小票")
    assert (group.name, group.terms) == ("凭条", "发票, 收据, 小票")
    assert ["凭条", "发票", "收据", "小票"] in (Synonym.active_groups() or [])
    assert _seen(ODD) == (Kind.ANSWER, "如何开具发票")
    group.active = False
    group.save()
    assert _seen(ODD)[0] != Kind.ANSWER


def test_a_group_deleted_from_the_table_no_longer_links_its_words() -> None:
    _articles()
    assert _seen("撤销订单地址")[1] == "修改收货地址"  # warms the cache with the seeded table
    before = _seen("发漂怎么开")
    Synonym.objects.get(name="发票").delete()
    assert all(group[0] != "发票" for group in Synonym.active_groups() or [])
    assert before == (Kind.ANSWER, "如何开具发票")
    assert _seen("我要报销凭证")[0] != Kind.ANSWER  # 报销凭证 meant 发票 only through the deleted group


def test_an_emptied_table_falls_back_to_the_shipped_seed() -> None:
    Synonym.objects.all().delete()
    Synonym.forget_groups()
    assert Synonym.active_groups() is None
    assert knowledge.synonym_groups() == analysis.seed_synonyms()


def test_supervisors_edit_the_synonyms_in_the_admin_agents_only_read_them(
    make_user: Callable[..., User], client_for: Callable[[User], Client], django_assert_num_queries: Any
) -> None:
    boss, agent, business = make_user("boss", "supervisor"), make_user("agent", "agent"), make_user("biz", "business")
    assert client_for(agent).get("/admin/chat/synonym/").status_code == 200
    assert client_for(agent).get("/admin/chat/synonym/add/").status_code == 403
    assert client_for(business).get("/admin/chat/synonym/").status_code == 403
    boss_client = client_for(boss)
    boss_client.get("/admin/chat/synonym/")  # the session and permissions, cached for the counts below
    with django_assert_num_queries(8):  # session, user, permissions (3), counts (2), the page
        assert boss_client.get("/admin/chat/synonym/").status_code == 200
    with django_assert_num_queries(8):  # session, user, permissions (3), counts (2), the page
        assert boss_client.get("/admin/chat/synonym/?q=发").status_code == 200
    for name in ("", "凭条, 发票", "凭条，发票"):
        refused = boss_client.post("/admin/chat/synonym/add/", {"name": name, "terms": "x", "active": "on"})
        assert refused.status_code == 200 and not Synonym.objects.filter(name__startswith="凭条").exists()
    assert not Synonym.objects.filter(name="").exists()
    assert Synonym.active_groups() is not None  # cached now
    done = boss_client.post("/admin/chat/synonym/add/", {"name": "凭条", "terms": "发票, 小票", "active": "on"})
    assert done.status_code == 302
    assert ["凭条", "发票", "小票"] in (Synonym.active_groups() or [])  # the save dropped the cache
    ids = list(Synonym.objects.filter(name="凭条").values_list("pk", flat=True))
    boss_client.post("/admin/chat/synonym/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert all(group[0] != "凭条" for group in Synonym.active_groups() or [])
