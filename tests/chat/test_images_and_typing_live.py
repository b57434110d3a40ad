"""Images and the typing indicator over real sockets on the real Redis channel layer: an image sent over HTTP
reaches the other side's socket as a message after commit; a typing frame is relayed to the other side, at most
once per window, and never stored."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from chat.tokens import issue_token
from tests.chat.support import (  # noqa: F401  (_close_sockets is an autouse fixture)
    BACKLOG,
    _close_sockets,
    agent_socket,
    frames_until,
    make_agent,
    open_chat,
    plain_consumer,
    session_cookie,
    staffed_all_day,
    sync,
)
from tickets.models import TicketEvent

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(autouse=True)
def _setup(settings: Any, tmp_path: Path) -> None:
    staffed_all_day(settings)
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHAT_TYPING_SECONDS = 3


def png(color: str = "green") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, format="PNG")
    return out.getvalue()


async def console(user: User) -> Any:
    socket = agent_socket(await sync(session_cookie)(user))
    connected, code = await socket.connect()
    assert connected, code
    await frames_until(socket, "hello")
    await frames_until(socket, "queue")
    return socket


async def held_chat(make_user: Callable[..., User]) -> tuple[Any, Any, int, str, User]:
    """A consumer's socket and an agent's console holding the consumer's chat."""
    agent = await sync(make_agent)(make_user, "live-img-agent")
    who = await sync(plain_consumer)()
    token = issue_token(who.pk)
    socket, ready, _history = await open_chat(who.pk, token=token)
    desk = await console(agent)
    await socket.send_json_to({"type": "handoff", "ref": "h"})
    await frames_until(socket, "ack", match=lambda f: f.get("ref") == "h")
    await desk.send_json_to({"type": "accept", "chat": ready["chat"], "ref": "a"})
    await frames_until(desk, "ack", match=lambda f: f.get("ref") == "a")
    await frames_until(desk, "chat", match=lambda f: f["chat"] == ready["chat"])
    return socket, desk, ready["chat"], token, agent


def consumer_upload(token: str, key: str) -> Any:
    image = SimpleUploadedFile("p.png", png(), content_type="image/png")
    return Client().post(
        "/api/chat/attachments/", {"image": image, "key": key}, HTTP_AUTHORIZATION=f"Chat-Token {token}"
    )


def agent_upload(agent: User, chat_id: int, key: str) -> Any:
    client = Client()
    client.force_login(agent)
    image = SimpleUploadedFile("p.png", png("blue"), content_type="image/png")
    return client.post("/api/chat/console/attachments/", {"chat": chat_id, "image": image, "key": key})


async def frames_for(socket: Any, seconds: float) -> list[dict[str, Any]]:
    """Every frame the socket has had passed over (the backlog) or receives within ``seconds``. Waits with
    ``receive_nothing``: a receive that times out would cancel the socket's application."""
    backlog = BACKLOG.setdefault(id(socket), [])
    got, backlog[:] = list(backlog), []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if not await socket.receive_nothing(timeout=0.05, interval=0.01):
            got.append(await socket.receive_json_from())
    return got


def stored_events(chat_id: int) -> int:
    return TicketEvent.objects.filter(ticket__chat__pk=chat_id).count()


# --- images -------------------------------------------------------------------------------------------------


async def test_a_consumers_image_reaches_the_agents_console_and_their_own_tabs(make_user: Callable[..., User]) -> None:
    socket, desk, chat_id, token, _agent = await held_chat(make_user)
    response = await sync(consumer_upload)(token, "c1")
    assert response.status_code == 201, response.content
    sent = response.json()
    on_desk, _ = await frames_until(desk, "message", match=lambda f: f["message"]["id"] == sent["id"])
    assert on_desk["chat"] == chat_id
    attachment = on_desk["message"]["data"]["attachment"]
    assert attachment == {"type": "image/png", "width": 64, "height": 48, "size": len(png()),
                          "url": f"/api/chat/attachments/{sent['id']}/"}  # fmt: skip
    echo, _ = await frames_until(socket, "message", match=lambda f: f["message"]["id"] == sent["id"])
    assert echo["message"]["from"] == "consumer" and echo["message"]["data"]["attachment"] == attachment
    # The retry is answered from the store and sends nothing to anyone.
    again = await sync(consumer_upload)(token, "c1")
    assert again.status_code == 200 and again.json()["id"] == sent["id"]
    later = await frames_for(desk, 1.0)
    assert [f for f in later if f.get("type") == "message"] == []


async def test_an_agents_image_reaches_the_consumer(make_user: Callable[..., User]) -> None:
    socket, desk, chat_id, _token, agent = await held_chat(make_user)
    response = await sync(agent_upload)(agent, chat_id, "a1")
    assert response.status_code == 201, response.content
    sent = response.json()
    received, _ = await frames_until(socket, "message", match=lambda f: f["message"]["id"] == sent["id"])
    message = received["message"]
    assert (message["from"], message["name"], message["text"]) == ("agent", "live-img-agent", "[图片]")
    assert message["data"]["attachment"]["url"] == f"/api/chat/attachments/{sent['id']}/"
    own, _ = await frames_until(desk, "message", match=lambda f: f["message"]["id"] == sent["id"])
    assert own["message"]["data"]["attachment"]["type"] == "image/png"


# --- typing ---------------------------------------------------------------------------------------------------


async def test_the_consumers_typing_reaches_the_agent_once_per_window_and_is_not_stored(
    make_user: Callable[..., User],
) -> None:
    socket, desk, chat_id, _token, _agent = await held_chat(make_user)
    before = await sync(stored_events)(chat_id)
    for _ in range(3):  # a keystroke each: one is relayed, the others fall within the window
        await socket.send_json_to({"type": "typing"})
    relayed, _ = await frames_until(desk, "typing")
    assert relayed == {"type": "typing", "chat": chat_id, "from": "consumer"}
    later = await frames_for(desk, 1.5)
    assert [f for f in later if f.get("type") == "typing"] == []
    assert [f for f in await frames_for(socket, 0.3) if f.get("type") in ("error", "typing")] == []
    assert await sync(stored_events)(chat_id) == before


async def test_the_agents_typing_reaches_the_consumer_and_is_not_stored(
    make_user: Callable[..., User], settings: Any
) -> None:
    socket, desk, chat_id, _token, _agent = await held_chat(make_user)
    before = await sync(stored_events)(chat_id)
    await desk.send_json_to({"type": "typing", "chat": chat_id})
    relayed, _ = await frames_until(socket, "typing")
    assert relayed == {"type": "typing", "chat": chat_id, "from": "agent", "name": "live-img-agent"}
    await desk.send_json_to({"type": "typing", "chat": chat_id})  # within the window: dropped
    assert [f for f in await frames_for(socket, 1.0) if f.get("type") == "typing"] == []
    settings.CHAT_TYPING_SECONDS = 0  # a window of nothing: every frame goes through
    await desk.send_json_to({"type": "typing", "chat": chat_id})
    await frames_until(socket, "typing")
    assert await sync(stored_events)(chat_id) == before


async def test_an_agents_typing_in_a_chat_they_do_not_hold_is_refused(make_user: Callable[..., User]) -> None:
    socket, _desk, chat_id, _token, _agent = await held_chat(make_user)
    other = await console(await sync(make_agent)(make_user, "nosy-agent"))
    await other.send_json_to({"type": "typing", "chat": chat_id, "ref": "t"})
    error, _ = await frames_until(other, "error", match=lambda f: f.get("ref") == "t")
    assert error["code"] == "not_yours"
    assert [f for f in await frames_for(socket, 1.0) if f.get("type") == "typing"] == []


async def test_typing_to_the_bot_goes_nowhere_and_says_nothing(make_user: Callable[..., User]) -> None:
    agent = await sync(make_agent)(make_user, "idle-agent")
    desk = await console(agent)
    who = await sync(plain_consumer)()
    socket, ready, _history = await open_chat(who.pk)
    before = await sync(stored_events)(ready["chat"])
    await socket.send_json_to({"type": "typing"})
    assert [f for f in await frames_for(socket, 0.5) if f.get("type") in ("error", "typing")] == []
    assert [f for f in await frames_for(desk, 0.5) if f.get("type") == "typing"] == []
    assert await sync(stored_events)(ready["chat"]) == before
