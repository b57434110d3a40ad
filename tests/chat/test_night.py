"""Night mode: outside staffed hours the bot answers exactly as by day; the night notice and the callback
promise come only with a handoff."""

from __future__ import annotations

from typing import Any

import pytest

from chat import services
from chat.models import ChatSession
from tests.chat.support import knowledge_base, night_all_day, plain_consumer, staffed_all_day
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db


def _conversation(consumer_id: int, *texts: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Ask ``texts`` in a new chat; what was said on the chat's timeline (who, text, data), after the greeting."""
    chat, _created = services.start_chat(consumer_id, "zh-hans")
    for text in texts:
        services.consumer_message(consumer_id, "zh-hans", text)
    events = TicketEvent.objects.filter(ticket_id=chat.ticket_id, kind="message").order_by("pk")
    return [(e.author_kind, e.body, {k: v for k, v in e.data.items() if k != "article"}) for e in events]


def test_at_night_the_bot_greets_and_answers_a_question_exactly_as_by_day(settings: Any) -> None:
    knowledge_base()
    staffed_all_day(settings)
    day = _conversation(plain_consumer(display_name="小明").pk, "发票怎么开", "谢谢")
    night_all_day(settings)
    night_consumer = plain_consumer(display_name="小明")
    night = _conversation(night_consumer.pk, "发票怎么开", "谢谢")
    assert night == day
    assert [said[2].get("intent") for said in night if said[0] == "bot"] == ["greeting", "article", "thanks"]
    assert not any("09:00-21:00" in text for _who, text, _data in night)
    chat = ChatSession.objects.get(consumer=night_consumer)
    assert (chat.state, chat.callback) == ("bot", False)


def test_at_night_only_a_handoff_brings_the_notice_and_the_callback_promise(settings: Any) -> None:
    knowledge_base()
    night_all_day(settings)
    consumer = plain_consumer()
    said = _conversation(consumer.pk, "发票怎么开", "转人工")
    notices = [(text, data) for who, text, data in said if who == "system"]
    assert len(notices) == 1
    text, data = notices[0]
    assert data == {"code": "callback"} and "09:00-21:00" in text
    chat = ChatSession.objects.get(consumer=consumer)
    assert (chat.state, chat.callback, chat.queue_rank) == ("waiting", True, ChatSession.RANK_CALLBACK)


def test_by_day_a_handoff_queues_without_a_callback_promise(settings: Any) -> None:
    staffed_all_day(settings)
    consumer = plain_consumer()
    said = _conversation(consumer.pk, "转人工")
    assert [data.get("code") for who, _text, data in said if who == "system"] == ["queued"]
    assert ChatSession.objects.get(consumer=consumer).callback is False
