"""The staff events socket over the real Redis channel layer, authenticated by a real session."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client

from config.asgi import application
from core import realtime
from core.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture
def session_of(make_user: Callable[..., User]) -> Callable[[str, str], str]:
    def login(username: str, role: str) -> str:
        client = Client()
        client.force_login(make_user(username, role))
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    return login


def socket(session: str | None = None, origin: bytes = b"http://127.0.0.1") -> WebsocketCommunicator:
    headers = [(b"origin", origin)]
    if session:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
    return WebsocketCommunicator(application, "/ws/events/", headers=headers)


async def test_anonymous_socket_is_refused() -> None:
    connected, code = await socket().connect()
    assert (connected, code) == (False, CLOSE_UNAUTHENTICATED)


async def test_a_forged_session_is_refused() -> None:
    connected, code = await socket("not-a-session").connect()
    assert (connected, code) == (False, CLOSE_UNAUTHENTICATED)


async def test_a_user_without_a_role_is_refused(make_user: Callable[..., User]) -> None:
    def login() -> str:
        client = Client()
        client.force_login(make_user("no-role"))
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    connected, code = await socket(await sync_to_async(login)()).connect()
    assert (connected, code) == (False, CLOSE_FORBIDDEN)


async def test_a_logged_in_non_staff_user_is_refused(make_user: Callable[..., User]) -> None:
    def login() -> str:
        client = Client()
        client.force_login(make_user("shopper", "agent", is_staff=False))
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    connected, code = await socket(await sync_to_async(login)()).connect()
    assert (connected, code) == (False, CLOSE_UNAUTHENTICATED)


async def test_foreign_origin_is_refused(session_of: Callable[[str, str], str]) -> None:
    session = await sync_to_async(session_of)("agent-x", "agent")
    connected, _code = await socket(session, origin=b"http://evil.example").connect()
    assert connected is False


async def test_staff_receive_events_for_their_role_only_after_commit(session_of: Callable[[str, str], str]) -> None:
    agent = socket(await sync_to_async(session_of)("agent-rt", "agent"))
    supervisor = socket(await sync_to_async(session_of)("supervisor-rt", "supervisor"))
    assert (await agent.connect())[0] and (await supervisor.connect())[0]
    assert await agent.receive_json_from() == {"type": "hello", "data": {"user": "agent-rt", "roles": ["agent"]}}
    await supervisor.receive_json_from()

    def rolled_back_then_committed() -> None:
        try:
            with transaction.atomic():
                realtime.send_event(realtime.role_group("agent"), "queue.changed", {"waiting": 99})
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        with transaction.atomic():
            realtime.send_event(realtime.role_group("agent"), "queue.changed", {"waiting": 3})

    await sync_to_async(rolled_back_then_committed)()
    assert await agent.receive_json_from(timeout=5) == {"type": "queue.changed", "data": {"waiting": 3}}
    assert await agent.receive_nothing(timeout=0.3)
    assert await supervisor.receive_nothing(timeout=0.3)
    await agent.disconnect()
    await supervisor.disconnect()


async def test_client_frames_get_an_error_not_a_crash(session_of: Callable[[str, str], str]) -> None:
    events = socket(await sync_to_async(session_of)("agent-frames", "agent"))
    await events.connect()
    await events.receive_json_from()
    await events.send_json_to({"type": "anything"})
    assert (await events.receive_json_from())["data"]["code"] == "read_only"
    await events.send_to(text_data="not json")
    assert (await events.receive_json_from())["data"]["code"] == "bad_frame"
    await events.send_to(bytes_data=b"\x00\x01")
    assert (await events.receive_json_from())["data"]["code"] == "bad_frame"
    await events.disconnect()
