"""The satisfaction survey: offered over the consumer's socket when the chat ends, answered once, only by them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import conversation, knowledge, satisfaction, services
from chat.models import ChatSession, Satisfaction
from tests.chat.support import (  # noqa: F401  (_close_sockets is an autouse fixture)
    _close_sockets,
    frames_until,
    open_chat,
    plain_consumer,
    staffed_all_day,
    sync,
)

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(autouse=True)
def _staffed(settings: Any) -> None:
    staffed_all_day(settings)
    knowledge.reset_searcher()
    knowledge.INDEX.clear()


async def _ended_chat() -> tuple[Any, dict[str, Any], dict[str, Any]]:
    consumer = await sync(plain_consumer)()
    socket, ready, _ = await open_chat(consumer.pk)
    await socket.send_json_to({"type": "end", "ref": "e"})
    survey, _ = await frames_until(socket, "survey")
    return socket, ready, survey


async def test_ending_a_chat_offers_the_survey_and_the_answer_is_stored() -> None:
    socket, ready, survey = await _ended_chat()
    assert survey == {"type": "survey", "chat": ready["chat"], "ticket": ready["ticket"]}
    await socket.send_json_to({"type": "rate", "chat": ready["chat"], "score": 4, "comment": " 很快 ", "ref": "r"})
    ack, _ = await frames_until(socket, "ack", match=lambda f: f.get("ref") == "r")
    assert ack == {"type": "ack", "ref": "r", "chat": ready["chat"], "score": 4}
    answers = await sync(lambda: list(Satisfaction.objects.values_list("chat_id", "score", "comment")))()
    assert answers == [(ready["chat"], 4, "很快")]


async def test_a_second_answer_is_refused_and_the_first_stays() -> None:
    socket, ready, _ = await _ended_chat()
    await socket.send_json_to({"type": "rate", "chat": ready["chat"], "score": 5, "ref": "1"})
    await frames_until(socket, "ack", match=lambda f: f.get("ref") == "1")
    await socket.send_json_to({"type": "rate", "chat": ready["chat"], "score": 1, "ref": "2"})
    error, _ = await frames_until(socket, "error", match=lambda f: f.get("ref") == "2")
    assert error["code"] == "already_rated"
    assert await sync(lambda: list(Satisfaction.objects.values_list("score", flat=True)))() == [5]


async def test_a_forged_frame_for_another_consumers_chat_is_refused() -> None:
    socket, _ready, _ = await _ended_chat()
    other = await sync(plain_consumer)()
    theirs, _created = await sync(services.start_chat)(other.pk, "zh-hans")
    await sync(services.end_chat_by_consumer)(other.pk)
    await socket.send_json_to({"type": "rate", "chat": theirs.pk, "score": 1, "ref": "f"})
    error, _ = await frames_until(socket, "error", match=lambda f: f.get("ref") == "f")
    assert error["code"] == "not_found"
    assert await sync(Satisfaction.objects.count)() == 0


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ({"score": 6}, "invalid", "score"),
        ({"score": 0}, "invalid", "score"),
        ({"score": "5"}, "invalid", "score"),
        ({"score": True}, "invalid", "score"),
        ({"score": 3, "comment": 7}, "invalid", "comment"),
        ({"score": 3, "comment": "好" * 501}, "invalid", "comment"),
        ({"score": 3, "chat": "x"}, "missing_field", "chat"),
    ],
)
async def test_bad_answers_are_refused_naming_the_field(frame: dict[str, Any], code: str, field: str) -> None:
    socket, ready, _ = await _ended_chat()
    await socket.send_json_to({"type": "rate", "chat": ready["chat"], "ref": "b", **frame})
    error, _ = await frames_until(socket, "error", match=lambda f: f.get("ref") == "b")
    assert error["code"] == code
    assert f"“{field}”" in error["detail"]
    assert await sync(Satisfaction.objects.count)() == 0


async def test_a_live_chat_cannot_be_rated() -> None:
    consumer = await sync(plain_consumer)()
    socket, ready, _ = await open_chat(consumer.pk)
    await socket.send_json_to({"type": "rate", "chat": ready["chat"], "score": 5, "ref": "l"})
    error, _ = await frames_until(socket, "error", match=lambda f: f.get("ref") == "l")
    assert error["code"] == "not_ended"
    assert await sync(Satisfaction.objects.count)() == 0


def test_the_score_constraint_holds_below_the_service(db: Any) -> None:
    consumer = plain_consumer()
    chat, _ = services.start_chat(consumer.pk, "zh-hans")
    services.end_chat_by_consumer(consumer.pk)
    chat.refresh_from_db()
    assert chat.state == ChatSession.State.ENDED
    with pytest.raises(conversation.ChatError) as refused:
        satisfaction.rate_chat(consumer.pk, chat.pk, 9)
    assert refused.value.error_code == "invalid"
    with pytest.raises(IntegrityError), transaction.atomic():
        Satisfaction.objects.create(chat=chat, score=9, created_at=chat.ended_at or timezone.now())
