"""Personal numbers a consumer writes in a chat reach agents' consoles masked, and supervisors' whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.chat.support import (  # noqa: F401  (_close_sockets is an autouse fixture)
    _close_sockets,
    agent_socket,
    frames_until,
    make_agent,
    open_chat,
    plain_consumer,
    say,
    session_cookie,
    staffed_all_day,
    sync,
)

pytestmark = pytest.mark.usefixtures("transactional_db")

SAID = "我的手机13912345678 身份证110101199003071234 卡号6222020200112233445 一三八一二三四五六七八"
MASKED = "我的手机139****5678 身份证110***********1234 卡号**** **** **** 3445 138****5678"


@pytest.fixture(autouse=True)
def _staffed(settings: Any) -> None:
    staffed_all_day(settings)


async def console(user: User) -> Any:
    socket = agent_socket(await sync(session_cookie)(user))
    connected, code = await socket.connect()
    assert connected, code
    await frames_until(socket, "hello")
    await frames_until(socket, "queue")
    return socket


@pytest.mark.parametrize(("role", "expected"), [("agent", MASKED), ("supervisor", SAID)])
async def test_numbers_in_a_chat_reach_the_console_masked_unless_the_role_may_see_them(
    make_user: Callable[..., User], role: str, expected: str
) -> None:
    user = await sync(make_agent)(make_user, f"{role}-pii", role)
    desk = await console(user)
    who = await sync(plain_consumer)()
    socket, ready, _history = await open_chat(who.pk)
    await say(socket, SAID, ref="1")
    await say(socket, "转人工", ref="2")
    # The queue's summary quotes the consumer's words ...
    queue, _ = await frames_until(desk, "queue", match=lambda f: f["new"] == ready["chat"])
    [item] = queue["items"]
    assert f"“{expected}”" in item["summary"]
    # ... the chat's snapshot on accepting holds them ...
    await desk.send_json_to({"type": "accept", "chat": ready["chat"], "ref": "acc"})
    snapshot, _ = await frames_until(desk, "chat")
    assert expected in [m["text"] for m in snapshot["messages"]]
    # ... and so does a new message relayed live.
    await say(socket, "再说一遍：13912345678", ref="3")
    told, _ = await frames_until(desk, "message", match=lambda f: f["message"]["from"] == "consumer")
    assert told["message"]["text"] == ("再说一遍：13912345678" if role == "supervisor" else "再说一遍：139****5678")
    await socket.disconnect()
    await desk.disconnect()


async def test_the_consumer_sees_their_own_words_whole() -> None:
    who = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(who.pk)
    await say(socket, SAID, ref="1")
    await socket.disconnect()
    again, _ready, history = await open_chat(who.pk)
    assert SAID in [m["text"] for m in history]
    await again.disconnect()
