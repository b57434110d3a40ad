"""Malformed frames, floods and isolation: every bad frame is answered with an error and the conversation
carries on; a consumer only ever reaches their own conversation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chat.support import (  # noqa: F401  (_close_sockets is an autouse fixture)
    _close_sockets,
    bot_says,
    consumer_socket,
    frames_until,
    open_chat,
    plain_consumer,
    say,
    staffed_all_day,
    sync,
)
from tickets.models import TicketEvent

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(autouse=True)
def _staffed(settings: Any) -> None:
    staffed_all_day(settings)


def stored(consumer_id: int) -> list[str]:
    return list(
        TicketEvent.objects.filter(ticket__chat__consumer_id=consumer_id, kind="message", author_kind="consumer")
        .order_by("pk")
        .values_list("body", flat=True)
    )


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json at all", "bad_json"),
        ("[1, 2, 3]", "missing_field"),
        ('{"text": "no type"}', "missing_field"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "message"}', "missing_field"),
        ('{"type": "message", "text": 42}', "missing_field"),
        ('{"type": "message", "text": "   "}', "empty_text"),
        ('{"type": "history", "after": "yesterday"}', "missing_field"),
        ('{"type": "history", "after": -1}', "missing_field"),
    ],
)
async def test_a_malformed_frame_gets_an_error_and_the_chat_goes_on(frame: str, code: str) -> None:
    consumer = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(consumer.pk)
    await socket.send_to(text_data=frame)
    error, _ = await frames_until(socket, "error")
    assert error["code"] == code and error["detail"]
    await say(socket, "你好")
    await bot_says(socket)
    assert await sync(stored)(consumer.pk) == ["你好"]
    await socket.disconnect()


async def test_a_binary_frame_gets_an_error(settings: Any) -> None:
    consumer = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(consumer.pk)
    await socket.send_to(bytes_data=b"\x00\x01binary")
    error, _ = await frames_until(socket, "error")
    assert error["code"] == "binary"
    await say(socket, "还在吗")
    await socket.disconnect()


async def test_oversized_text_and_frames_are_refused_and_not_stored(settings: Any) -> None:
    settings.CHAT_MAX_MESSAGE_CHARS = 50
    settings.CHAT_MAX_FRAME_BYTES = 1000
    consumer = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(consumer.pk)
    await socket.send_json_to({"type": "message", "text": "长" * 51, "ref": "long"})
    error, _ = await frames_until(socket, "error")
    assert (error["code"], error["ref"]) == ("too_long", "long")
    await socket.send_json_to({"type": "message", "text": "x" * 40, "padding": "y" * 2000})
    error, _ = await frames_until(socket, "error")
    assert error["code"] == "too_large"
    await say(socket, "长" * 50)
    assert await sync(stored)(consumer.pk) == ["长" * 50]
    await socket.disconnect()


async def test_a_flood_from_one_socket_is_rate_limited(settings: Any) -> None:
    settings.CHAT_RATE_FRAMES = 5
    settings.CHAT_RATE_SECONDS = 60
    consumer = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(consumer.pk)
    for i in range(8):
        await socket.send_json_to({"type": "message", "text": f"刷屏{i}", "ref": i})
    answers: list[tuple[str, str | None, int]] = []
    while len(answers) < 8:
        frame = await socket.receive_json_from(timeout=5)
        if frame["type"] in ("ack", "error"):
            answers.append((frame["type"], frame.get("code"), frame["ref"]))
    assert answers == [("ack", None, i) for i in range(5)] + [("error", "rate_limited", i) for i in range(5, 8)]
    assert await sync(stored)(consumer.pk) == [f"刷屏{i}" for i in range(5)]
    await socket.disconnect()


async def test_a_socket_that_keeps_flooding_is_closed(settings: Any) -> None:
    settings.CHAT_RATE_FRAMES = 2
    settings.CHAT_RATE_SECONDS = 60
    consumer = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(consumer.pk)
    for _ in range(12):
        await socket.send_to(text_data='{"type": "ping"}')
    closed = None
    while closed is None:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            closed = output["code"]
    assert closed == 4429


async def test_a_consumer_only_ever_reaches_their_own_conversation() -> None:
    alice, bob = await sync(plain_consumer)(), await sync(plain_consumer)()
    socket_a, ready_a, _ = await open_chat(alice.pk)
    socket_b, ready_b, _ = await open_chat(bob.pk)
    assert ready_a["chat"] != ready_b["chat"]
    # Frames name no conversation that the server would trust: "chat" in a frame is ignored.
    await socket_a.send_json_to({"type": "message", "text": "我是爱丽丝", "chat": ready_b["chat"], "ref": "x"})
    await frames_until(socket_a, "ack")
    await say(socket_b, "我是鲍勃")
    await bot_says(socket_b)
    await socket_a.send_json_to({"type": "history", "after": 0, "ref": "h"})
    history, before = await frames_until(socket_a, "history", match=lambda f: f.get("ref") == "h")
    texts = [m["text"] for m in history["messages"]] + [str(b) for b in before]
    assert "我是爱丽丝" in texts and not any("鲍勃" in t for t in texts)
    assert await sync(stored)(alice.pk) == ["我是爱丽丝"] and await sync(stored)(bob.pk) == ["我是鲍勃"]
    for s in (socket_a, socket_b):
        await s.disconnect()


async def test_a_token_for_one_consumer_cannot_be_turned_into_another() -> None:
    from chat.tokens import issue_token

    alice, bob = await sync(plain_consumer)(), await sync(plain_consumer)()
    token = issue_token(alice.pk)
    _value, stamp, signature = token.rsplit(":", 2)
    tampered = issue_token(bob.pk).rsplit(":", 2)[0] + f":{stamp}:{signature}"
    assert (await consumer_socket(token=tampered).connect()) == (False, 4401)
