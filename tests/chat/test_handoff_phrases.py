"""Handoff phrases as an admin-editable list: seeded generously, read through a cache that a save drops,
repeated asks counted, and the built-in phrases still in force when the table is empty."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import User
from django.test import Client

from chat import intents, services
from chat.intents import Intent
from chat.models import ChatSession, HandoffPhrase
from tests.chat.support import plain_consumer

pytestmark = pytest.mark.django_db
MIGRATION = import_module("chat.migrations.0005_handoff_phrases_and_learning")


def _state_after(text: str) -> str:
    consumer = plain_consumer()
    services.start_chat(consumer.pk, "zh-hans")
    services.consumer_message(consumer.pk, "zh-hans", text)
    return ChatSession.objects.get(consumer=consumer).state


def test_the_seed_holds_the_everyday_asks_in_both_languages() -> None:
    HandoffPhrase.objects.all().delete()
    MIGRATION.seed_phrases(django_apps, None)
    MIGRATION.seed_phrases(django_apps, None)  # run twice: no duplicates
    seeded = set(HandoffPhrase.objects.filter(active=True).values_list("phrase", flat=True))
    assert {"人工", "转人工", "找客服", "真人", "人工客服", "别让机器人回答了", "我要投诉", "human", "agent",
            "real person", "talk to someone"} <= seeded  # fmt: skip
    assert HandoffPhrase.objects.count() == len(seeded) == sum(len(p) for p in MIGRATION.SEED.values())


def test_a_phrase_added_in_the_table_hands_off_at_once_and_deactivating_it_stops_that() -> None:
    assert _state_after("叫小二来") == "bot"  # also fills the cache with the list as it was
    phrase = HandoffPhrase.objects.create(phrase="  叫小二 ", language="zh-hans")
    assert phrase.phrase == "叫小二"
    assert HandoffPhrase.active_phrases().count("叫小二") == 1
    assert _state_after("叫小二来") == "waiting"
    phrase.active = False
    phrase.save()
    assert _state_after("叫小二来") == "bot"


def test_a_deleted_phrase_no_longer_hands_off() -> None:
    phrase = HandoffPhrase.objects.create(phrase="摇人", language="zh-hans")
    assert _state_after("摇人") == "waiting"
    phrase.delete()
    assert "摇人" not in HandoffPhrase.active_phrases()
    assert _state_after("摇人") == "bot"


def test_a_repeated_ask_of_a_table_phrase_counts_as_repeated() -> None:
    HandoffPhrase.objects.create(phrase="小二", language="zh-hans")
    found = intents.detect("小二！小二！", HandoffPhrase.active_phrases())
    assert found == intents.Detected(Intent.HANDOFF, "小二", repeated=True)
    assert _state_after("人工！人工！") == "waiting"


def test_the_built_in_phrases_work_with_an_empty_table() -> None:
    HandoffPhrase.objects.all().delete()
    HandoffPhrase.forget_phrases()
    assert HandoffPhrase.active_phrases() == ()
    for text in ("转人工", "人工！人工！", "找客服", "别让机器人回答了", "real person"):
        assert _state_after(text) == "waiting", text


def test_supervisors_edit_the_phrases_in_the_admin_and_agents_may_not(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    boss, agent = make_user("boss", "supervisor"), make_user("agent", "agent")
    url = "/admin/chat/handoffphrase/add/"
    assert client_for(agent).get(url).status_code == 403
    assert client_for(agent).get("/admin/chat/handoffphrase/").status_code == 403
    refused = client_for(boss).post(url, {"phrase": "", "language": "zh-hans", "active": "on"})
    assert refused.status_code == 200 and not HandoffPhrase.objects.filter(phrase="").exists()
    done = client_for(boss).post(url, {"phrase": "找小二", "language": "zh-hans", "active": "on"})
    assert done.status_code == 302
    assert "找小二" in HandoffPhrase.active_phrases()
    ids = list(HandoffPhrase.objects.filter(phrase="找小二").values_list("pk", flat=True))
    client_for(boss).post("/admin/chat/handoffphrase/", {"action": "delete_selected", "_selected_action": ids,
                                                         "post": "yes"})  # fmt: skip
    assert "找小二" not in HandoffPhrase.active_phrases()
