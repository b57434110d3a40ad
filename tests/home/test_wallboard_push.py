"""The wallboard's numbers reach supervisors' and superusers' /ws/events/ sockets, and nobody else's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from celery import current_app
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from config.asgi import application
from core import roles
from home import tasks
from tickets.models import Department

pytestmark = pytest.mark.usefixtures("transactional_db")


def socket_for(user: User) -> WebsocketCommunicator:
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    return WebsocketCommunicator(application, "/ws/events/", headers=[(b"origin", b"http://127.0.0.1"),
                                                                      (b"cookie", cookie)])  # fmt: skip


async def test_push_reaches_supervisors_and_superusers_but_not_agents(make_user: Callable[..., User]) -> None:
    department = await sync_to_async(Department.objects.create)(code="after-sales", name="售后")
    sockets = {}
    for name, role, extra in (("sup", roles.SUPERVISOR, {}), ("root", None, {"is_superuser": True}),
                              ("agt", roles.AGENT, {})):  # fmt: skip
        user = await sync_to_async(make_user)(name, role, **extra)
        sockets[name] = await sync_to_async(socket_for)(user)
        connected, _code = await sockets[name].connect()
        assert connected
        assert (await sockets[name].receive_json_from(timeout=5))["type"] == "hello"
    await sync_to_async(tasks.push_wallboard)()
    for name in ("sup", "root"):
        frame = await sockets[name].receive_json_from(timeout=5)
        assert frame["type"] == "wallboard"
        assert frame["data"]["departments"] == [
            {"id": department.pk, "name": "售后", "waiting": 0, "longest_wait": 0, "unassigned": 0}
        ]
        assert frame["data"]["agents"] == {"available": 0, "busy": 0, "away": 0}
    assert await sockets["agt"].receive_nothing(timeout=0.5)
    for item in sockets.values():
        await item.disconnect()


def test_the_push_is_on_beats_schedule_every_ten_seconds() -> None:
    entry = current_app.conf.beat_schedule["home.push_wallboard"]
    assert (entry["task"], entry["schedule"]) == ("home.tasks.push_wallboard", 10.0)
