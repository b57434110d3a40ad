"""The Redis channel layer: a cancelled receive stops, so a closed socket's consumer ends.

With a socket timeout, redis-py writes through ``asyncio.wait_for``, which on Python 3.11 can swallow a
cancellation that arrives as the write completes; channels_redis's receive then loops on its blocking
pop for ever. That hung CI in a refused socket's teardown (tests/core/test_realtime.py).
"""

from __future__ import annotations

import asyncio
import random
import time

from channels.layers import get_channel_layer
from django.conf import settings


def test_the_channel_layer_pool_has_no_socket_timeout() -> None:
    layer = get_channel_layer()
    assert layer is not None
    pool = layer.create_pool(0)
    assert pool.connection_kwargs["socket_timeout"] is None
    assert pool.connection_kwargs["socket_keepalive"] is True
    hosts: list[dict[str, object]] = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    assert hosts[0]["socket_timeout"] is None


async def test_a_cancelled_receive_always_stops() -> None:
    # Before the fix one of the first ~100 cancels, landing while a fresh connection says hello, was
    # swallowed (seen at the 8th, 22nd and 75th); each cancel here must take effect within 2 s.
    layer = get_channel_layer()
    assert layer is not None
    rng = random.Random(7)
    for attempt in range(200):
        channel = await layer.new_channel()
        receive = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(rng.random() * 0.02)
        receive.cancel()
        done, _pending = await asyncio.wait({receive}, timeout=2)
        assert receive in done, f"receive #{attempt} ignored its cancellation"
        await layer.close_pools()  # the next receive opens a fresh connection, as a new socket's would


async def test_a_backlog_is_received_in_batches_in_order_and_once() -> None:
    """A busy process's backlog (core.channel_layer): every socket gets all its messages, in the order sent, once,
    and the process's set and its backup are empty after; a group message reaches each of its local members."""
    layer = get_channel_layer()
    assert layer is not None
    channels = [await layer.new_channel() for _ in range(3)]
    await layer.group_add("batch-test", channels[0])
    await layer.group_add("batch-test", channels[1])
    for n in range(150):
        await layer.send(channels[n % 3], {"type": "m", "n": n})
    await layer.group_send("batch-test", {"type": "g"})
    got: dict[str, list[object]] = {c: [] for c in channels}
    for channel in channels:
        while len(got[channel]) < 50 + (channel != channels[2]):
            message = await asyncio.wait_for(layer.receive(channel), timeout=5)
            got[channel].append(message.get("n", "group"))
    for i, channel in enumerate(channels):
        assert got[channel][:50] == list(range(i, 150, 3))
        assert got[channel][50:] == ([] if i == 2 else ["group"])
    key = layer.prefix + layer.non_local_name(channels[0])
    connection = layer.connection(0)
    assert await connection.zcard(key) == 0
    await asyncio.sleep(0.1)  # the backup's cleaner runs after the pass
    assert await connection.zcard(layer._backup_channel_name(key)) == 0
    await layer.group_discard("batch-test", channels[0])
    await layer.group_discard("batch-test", channels[1])
    await layer.close_pools()


async def test_what_a_cancelled_pass_left_in_the_backup_is_received() -> None:
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    key = layer.prefix + layer.non_local_name(channel)
    await layer.send(channel, {"type": "m", "n": 1})
    connection = layer.connection(0)
    # As a pass cancelled while its reply was on the way leaves it: out of the set, only in the backup.
    member, score = (await connection.zpopmin(key))[0]
    await connection.zadd(layer._backup_channel_name(key), {member: score})
    await layer.send(channel, {"type": "m", "n": 2})
    assert [(await asyncio.wait_for(layer.receive(channel), timeout=5))["n"] for _ in range(2)] == [1, 2]
    await layer.close_pools()


async def test_a_group_send_reaches_live_members_within_capacity_only() -> None:
    """The two-round-trip group send (core.channel_layer) keeps upstream's rules: members past the group's expiry are
    dropped, a channel at its capacity gets nothing more, and the others get the message once."""
    layer = get_channel_layer()
    assert layer is not None
    live, stale, full = [await layer.new_channel() for _ in range(3)]
    for channel in (live, stale, full):
        await layer.group_add("send-test", channel)
    connection = layer.connection(0)
    group_key = layer._group_key("send-test")
    await connection.zadd(group_key, {stale: 1})  # joined long before the group's expiry
    named = "send-test-named"  # a channel outside this process (Celery's kind): a key of its own
    await layer.group_add("send-test", named)
    await layer.group_send("send-test", {"type": "g", "n": 1})
    assert await connection.zscore(group_key, stale) is None
    assert (await asyncio.wait_for(layer.receive(live), timeout=5))["n"] == 1
    assert (await asyncio.wait_for(layer.receive(named), timeout=5))["n"] == 1
    assert (await asyncio.wait_for(layer.receive(full), timeout=5))["n"] == 1
    capacity = layer.get_capacity(named)
    await connection.zadd(layer.prefix + named, {f"filler-{n}".encode(): time.time() for n in range(capacity - 2)})
    for n in range(5):
        await layer.group_send("send-test", {"type": "g", "n": n})
    assert await connection.zcard(layer.prefix + named) == capacity  # the rest was dropped, as upstream drops it
    await connection.delete(layer.prefix + named)
    for channel in (live, full, named):
        await layer.group_discard("send-test", channel)
    await layer.close_pools()
