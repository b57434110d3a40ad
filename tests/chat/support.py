"""Helpers for the live-chat tests: real sockets on the real Redis channel layer, real sessions, real tokens."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from chat import knowledge
from chat.models import KnowledgeArticle
from chat.tokens import issue_token
from config.asgi import application
from crm.models import Consumer, CreditTier
from tests.crm import factories as f
from tickets.models import AgentProfile

ORIGIN = b"http://127.0.0.1"
# Every socket a test opens, so that a failing test still closes them (a socket left receiving would hold
# the channel layer's receive lock for an event loop that is gone, and fail the tests after it).
OPEN: list[WebsocketCommunicator] = []
BACKLOG: dict[int, list[dict[str, Any]]] = {}


@pytest.fixture(autouse=True)
async def _close_sockets() -> AsyncIterator[None]:
    # A fresh channel-layer object per test: the Redis layer keeps a receive lock bound to the event loop
    # that first received, and each test has a loop of its own.
    channel_layers.backends.clear()
    BACKLOG.clear()
    yield
    while OPEN:
        socket = OPEN.pop()
        with contextlib.suppress(Exception):
            await socket.disconnect()


def consumer_socket(consumer_id: int | None = None, *, token: str | None = None, lang: str = "zh-hans",
                    after: int | None = None, origin: bytes = ORIGIN) -> WebsocketCommunicator:  # fmt: skip
    if token is None:
        assert consumer_id is not None
        token = issue_token(consumer_id)
    query = f"token={token}&lang={lang}" + (f"&after={after}" if after is not None else "")
    socket = WebsocketCommunicator(application, f"/ws/chat/?{query}", headers=[(b"origin", origin)])
    OPEN.append(socket)
    return socket


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def agent_socket(cookie: str | None, *, origin: bytes = ORIGIN) -> WebsocketCommunicator:
    headers = [(b"origin", origin)]
    if cookie:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    socket = WebsocketCommunicator(application, "/ws/chat/agent/?lang=en", headers=headers)
    OPEN.append(socket)
    return socket


async def frames_until(socket: WebsocketCommunicator, kind: str, *, timeout: float = 15,
                       match: Any = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    """The first ``kind`` frame (for which ``match(frame)`` holds), and the frames before it that did not match.

    Frames passed over stay available to later calls: the order in which a socket's own answers (``ack``) and
    the frames pushed through the channel layer arrive is not fixed.
    """
    backlog = BACKLOG.setdefault(id(socket), [])
    wanted = lambda frame: frame.get("type") == kind and (match is None or match(frame))  # noqa: E731
    for i, frame in enumerate(backlog):
        if wanted(frame):
            del backlog[i]
            return frame, list(backlog[:i])
    before = list(backlog)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {kind!r} frame; got {[b.get('type') for b in before]}: {before[-3:]}")
        frame = await socket.receive_json_from(timeout=remaining)
        if wanted(frame):
            return frame, before
        before.append(frame)
        backlog.append(frame)


async def bot_says(socket: WebsocketCommunicator, *, timeout: float = 15) -> dict[str, Any]:
    frame, _ = await frames_until(socket, "message", timeout=timeout, match=lambda f: f["message"]["from"] == "bot")
    return frame["message"]


async def say(socket: WebsocketCommunicator, text: str, ref: str = "r") -> dict[str, Any]:
    await socket.send_json_to({"type": "message", "text": text, "ref": ref})
    ack, _ = await frames_until(socket, "ack", match=lambda f: f.get("ref") == ref)
    # Messages older than this one are answers to earlier ones: later lookups start from here.
    backlog = BACKLOG.setdefault(id(socket), [])
    backlog[:] = [f for f in backlog if not (f.get("type") == "message" and f["message"]["id"] < ack["id"])]
    return ack


async def open_chat(consumer_id: int, **kwargs: Any) -> tuple[WebsocketCommunicator, dict[str, Any], list[Any]]:
    socket = consumer_socket(consumer_id, **kwargs)
    connected, code = await socket.connect()
    assert connected, code
    ready, _ = await frames_until(socket, "ready")
    history, _ = await frames_until(socket, "history")
    return socket, ready, history["messages"]


def staffed_all_day(settings: Any) -> None:
    settings.SUPPORT_HOURS = "00:00-24:00"
    settings.SUPPORT_WEEKDAYS = "0-6"


def night_all_day(settings: Any) -> None:
    """No weekday staffed but tomorrow's: whatever the hour of the test, nobody is on duty."""
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).weekday()
    settings.SUPPORT_HOURS = "09:00-21:00"
    settings.SUPPORT_WEEKDAYS = str(tomorrow)


def plain_consumer(**fields: Any) -> Consumer:
    fields.setdefault("tier", CreditTier.objects.get(name="普通会员"))
    return f.consumer(**fields)


def vip_consumer(**fields: Any) -> Consumer:
    return f.consumer(tier=CreditTier.objects.get(name="88VIP"), **fields)


def knowledge_base() -> None:
    KnowledgeArticle.objects.create(
        title="如何开具发票", questions="发票怎么开\n可以开增值税发票吗", language="zh-hans",
        answer="在“我的订单”中点击“申请开票”，填写抬头和税号即可，电子发票 1 个工作日内发到邮箱。",
    )  # fmt: skip
    KnowledgeArticle.objects.create(
        title="修改收货地址", questions="地址填错了\n怎么改地址", language="zh-hans",
        answer="订单发货前可在订单详情页修改收货地址；已发货的请联系快递改派。",
    )  # fmt: skip
    KnowledgeArticle.objects.create(
        title="How do I get an invoice?", questions="invoice for my order\nVAT invoice", language="en",
        answer="Open the order and choose “Request invoice”; the e-invoice arrives by email within one working day.",
    )  # fmt: skip
    knowledge.rebuild_index()


def make_agent(make_user: Any, name: str, role: str = "agent", *, capacity: int = 5, available: bool = True) -> User:
    user = make_user(name, role)
    AgentProfile.objects.update_or_create(user=user, defaults={"available": available, "chat_capacity": capacity})
    return user


sync = sync_to_async
