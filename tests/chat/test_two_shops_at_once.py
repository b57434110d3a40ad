"""Two shops' chats at the same time, over real sockets: each consumer's bot answers from its own shop, each
handoff reaches its own shop's staff, replies go both ways at once, and no frame of one shop's chat or queue ever
reaches the other shop's console or consumer; the platform's agents see neither chat until one is escalated."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from chat.models import ChatSession
from tests.chat.support import (  # noqa: F401  (_close_sockets is an autouse fixture)
    BACKLOG,
    _close_sockets,
    bot_says,
    frames_until,
    make_agent,
    say,
    staffed_all_day,
    sync,
)
from tests.chat.test_shop_chat import console, shop_agent, shop_chat, shops

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(autouse=True)
def _staffed(settings: Any) -> None:
    staffed_all_day(settings)


def _chat_ids(value: Any) -> Iterator[int]:
    """Every chat a frame names: its "chat" and "new" fields, at any depth (queue items, chat snapshots)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("chat", "new") and isinstance(inner, int):
                yield inner
            else:
                yield from _chat_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _chat_ids(inner)


async def everything(socket: WebsocketCommunicator, *, quiet: float = 1.0) -> list[dict[str, Any]]:
    """The frames this socket still holds: those passed over by earlier waits, then all that come within ``quiet``."""
    frames = list(BACKLOG.pop(id(socket), []))
    # receive_nothing waits without cancelling the socket (a receive that times out would close it).
    while not await socket.receive_nothing(timeout=quiet):
        frames.append(await socket.receive_json_from())
    return frames


async def test_two_shops_chat_at_once_and_nothing_crosses(make_user: Callable[..., User]) -> None:
    a, b = await sync(shops)()
    staff_a = await sync(shop_agent)(make_user, "staff-a", a)
    staff_b = await sync(shop_agent)(make_user, "staff-b", b)
    desk_a, desk_b = await console(staff_a), await console(staff_b)
    desk_p = await console(await sync(make_agent)(make_user, "platform"))
    (socket_a, ready_a, _who_a), (socket_b, ready_b, _who_b) = await asyncio.gather(shop_chat(a), shop_chat(b))
    chat_a, chat_b = ready_a["chat"], ready_b["chat"]
    assert (ready_a["shop"]["code"], ready_b["shop"]["code"]) == ("SHOP-A", "SHOP-B")

    # Both ask at once: each bot answers from its own shop.
    await asyncio.gather(say(socket_a, "发票怎么开", ref="a1"), say(socket_b, "发票怎么开", ref="b1"))
    answers = await asyncio.gather(bot_says(socket_a), bot_says(socket_b))
    assert [m["text"] for m in answers] == ["店铺A的发票：联系店铺A客服。", "店铺B的发票：联系店铺B客服。"]

    # Both ask for a person at once: each desk's queue holds its own chat only; the platform's holds neither.
    await asyncio.gather(say(socket_a, "转人工", ref="a2"), say(socket_b, "转人工", ref="b2"))
    queue_a, _ = await frames_until(desk_a, "queue", match=lambda q: [i["chat"] for i in q["items"]] == [chat_a])
    queue_b, _ = await frames_until(desk_b, "queue", match=lambda q: [i["chat"] for i in q["items"]] == [chat_b])
    assert queue_a["new"] in (chat_a, None) and queue_b["new"] in (chat_b, None)  # never the other shop's chat

    # Each shop's staff take their chat and answer, at the same time; each consumer hears their own shop only.
    await asyncio.gather(desk_a.send_json_to({"type": "accept", "chat": chat_a, "ref": "a"}),
                         desk_b.send_json_to({"type": "accept", "chat": chat_b, "ref": "b"}))  # fmt: skip
    await asyncio.gather(frames_until(desk_a, "chat", match=lambda c: c["chat"] == chat_a),
                         frames_until(desk_b, "chat", match=lambda c: c["chat"] == chat_b))  # fmt: skip
    await asyncio.gather(
        desk_a.send_json_to({"type": "reply", "chat": chat_a, "text": "店铺A客服在此", "ref": "ra"}),
        desk_b.send_json_to({"type": "reply", "chat": chat_b, "text": "店铺B客服在此", "ref": "rb"}),
    )
    heard = await asyncio.gather(
        frames_until(socket_a, "message", match=lambda m: m["message"]["from"] == "agent"),
        frames_until(socket_b, "message", match=lambda m: m["message"]["from"] == "agent"),
    )
    assert [frame["message"]["text"] for frame, _ in heard] == ["店铺A客服在此", "店铺B客服在此"]
    await asyncio.gather(say(socket_a, "好的谢谢A", ref="a3"), say(socket_b, "好的谢谢B", ref="b3"))
    await asyncio.gather(
        frames_until(desk_a, "message", match=lambda m: m["message"]["text"] == "好的谢谢A"),
        frames_until(desk_b, "message", match=lambda m: m["message"]["text"] == "好的谢谢B"),
    )

    # Every other frame each socket received (those waited for above were its own): none names the other shop's
    # chat or says its words.
    sockets = {"desk_a": desk_a, "desk_b": desk_b, "desk_p": desk_p, "socket_a": socket_a, "socket_b": socket_b}
    received = await asyncio.gather(*(everything(s) for s in sockets.values()))
    seen = dict(zip(sockets, received, strict=True))
    for name, other_chat, other_words in (("desk_a", chat_b, "店铺B"), ("desk_b", chat_a, "店铺A"),
                                          ("socket_a", chat_b, "店铺B"), ("socket_b", chat_a, "店铺A")):  # fmt: skip
        assert other_chat not in set(_chat_ids(seen[name])), name
        assert other_words not in str(seen[name]), name
    assert set(_chat_ids(seen["desk_p"])) == set()  # the platform's agents saw neither chat
    assert "店铺A" not in str(seen["desk_p"]) and "店铺B" not in str(seen["desk_p"])

    # Shop B's consumer asks for the platform (平台介入): now the platform's queue shows that chat, and only it.
    await socket_b.send_json_to({"type": "escalate", "ref": "e"})
    queue_p, _ = await frames_until(desk_p, "queue", match=lambda q: q["items"])
    assert ([i["chat"] for i in queue_p["items"]], queue_p["new"]) == ([chat_b], chat_b)
    await frames_until(desk_b, "chat.closed", match=lambda c: c["chat"] == chat_b)
    later_a = await everything(desk_a)
    assert chat_b not in set(_chat_ids(later_a))
    stored = await sync(ChatSession.objects.in_bulk)([chat_a, chat_b])
    assert (stored[chat_a].agent_id, stored[chat_a].escalated_at) == (staff_a.pk, None)
    assert stored[chat_b].escalated_at is not None and stored[chat_b].state == "waiting"
