"""The live chat's demo data: a bilingual knowledge base, proactive rules, chats waiting for the morning."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from chat.models import ChatSession, KnowledgeArticle, ProactiveRule

pytestmark = pytest.mark.django_db


def test_demo_live_chat_has_a_bilingual_knowledge_base_rules_and_chats_waiting_for_the_morning() -> None:
    call_command("seed_demo", quiet=True, stdout=StringIO(), seed=1)
    languages = set(KnowledgeArticle.objects.values_list("language", flat=True))
    assert languages == {"zh-hans", "en"} and KnowledgeArticle.objects.count() >= 15
    assert set(ProactiveRule.objects.values_list("condition", flat=True)) >= {"late_delivery", "refund_review"}
    chats = list(
        ChatSession.objects.filter(shop__isnull=True).select_related("ticket", "consumer__tier").order_by("pk")
    )
    assert ChatSession.objects.filter(shop__isnull=False).count() == 2  # a chat with each of two shops
    assert [(c.consumer.tier.name, c.state, c.ticket.channel) for c in chats] == [  # type: ignore[union-attr]
        ("88VIP", "waiting", "chat"), ("普通会员", "waiting", "chat"), ("银牌会员", "waiting", "chat"),
    ]  # fmt: skip
    assert [c.handoff_reason for c in chats] == ["priority", "asked", "anger"]
    assert all(c.callback for c in chats)  # left at night: the morning's agents call back
