"""The channel layer: channels_redis's, receiving a process's messages in batches instead of one at a time, and
sending to a group in two round trips instead of four.

All the sockets of an ASGI process receive through one Redis sorted set (the process's channel), and channels_redis
reads it one message per pass, four round trips in a row (move back what a cancelled pass left in the backup set,
pop one blocking, copy it to the backup, and, before the next pass may start, take it out of the backup again). A
busy event loop makes each of those round trips wait its turn behind every socket's work, and the passes fell behind
what the sockets were sent: with a thousand chat sockets connecting, 32 passes in a minute, while the messages piled
up in Redis and every conversation stalled for forty seconds.

``RedisChannelLayer.receive_single`` here takes everything waiting, up to ``RECEIVE_BATCH`` messages, in one script
that also moves them to the backup set (so a pass cancelled while the reply is on its way loses nothing, as
upstream), puts them in their sockets' buffers in order (the last through its caller, as upstream), and removes
them from the backup in one command. Only when nothing waits does it block, as upstream does. Messages for a
channel outside the process (``send`` to a named channel: Celery's, say) are received as upstream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels_redis.core import RedisChannelLayer as UpstreamLayer

log = logging.getLogger(__name__)
RECEIVE_BATCH = 200

# KEYS[1] the channel, KEYS[2] its backup; ARGV[1] how many. What a cancelled pass left in the backup goes back first
# (in order), then up to ARGV[1] messages move to the backup and are returned, oldest first.
_TAKE = """
local backed_up = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = #backed_up, 1, -2 do
    redis.call('ZADD', KEYS[1], backed_up[i], backed_up[i - 1])
end
redis.call('DEL', KEYS[2])
local taken = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
for i = 1, #taken, 2 do
    redis.call('ZADD', KEYS[2], taken[i + 1], taken[i])
end
return taken
"""


# KEYS the channels' keys; ARGV their messages, their capacities, then now, the messages' expiry and the oldest score
# kept. Upstream's script with its expired-message sweep (a pipeline of its own before it) folded in.
_GROUP_SEND = """
local over_capacity = 0
local count = #KEYS
local now, expiry, oldest = ARGV[2 * count + 1], ARGV[2 * count + 2], ARGV[2 * count + 3]
for i = 1, count do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, oldest)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + count]) then
        redis.call('ZADD', KEYS[i], now, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


class RedisChannelLayer(UpstreamLayer):
    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Upstream's group send in two round trips instead of four: the group's members read with its expired ones
        dropped (one pipeline), then the messages stored by one script (per Redis server) that also drops the
        expired ones first, as upstream's separate pipeline did."""
        assert self.require_valid_group_name(group), "Group name not valid"
        key = self._group_key(group)
        async with self.connection(self.consistent_hash(group)).pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
            pipe.zrange(key, 0, -1)
            _dropped, members = await pipe.execute()
        channel_names = [member.decode("utf8") for member in members]
        by_connection, messages, capacities = self._map_channel_keys_to_connection(channel_names, message)
        for index, keys in by_connection.items():
            now = time.time()
            args = [*(messages[k] for k in keys), *(capacities[k] for k in keys), now, self.expiry,
                    int(now) - int(self.expiry)]  # fmt: skip
            over = await self.connection(index).eval(_GROUP_SEND, len(keys), *keys, *args)
            if over > 0:
                log.info("%s of %s channels over capacity in group %s", over, len(channel_names), group)

    async def receive_single(self, channel: str) -> tuple[Any, dict[str, Any]]:
        if "!" not in channel:
            return await super().receive_single(channel)
        assert self.require_valid_channel_name(channel, receive=True), "Channel name invalid"
        index = self.consistent_hash(channel)
        channel_key = self.prefix + channel
        await self.receive_clean_locks.acquire(channel_key)
        try:
            contents = await self._take(index, channel_key)
            cleaner = asyncio.ensure_future(self._clean_taken(index, channel_key, contents))
            self.receive_cleaners.append(cleaner)

            def _cleanup_done(done: asyncio.Future[None]) -> None:
                self.receive_cleaners.remove(done)
                self.receive_clean_locks.release(channel_key)

            cleaner.add_done_callback(_cleanup_done)
        except BaseException:
            self.receive_clean_locks.release(channel_key)
            raise
        # From here on nothing awaits, and the messages reach their buffers in the order they were sent: all but the
        # last here, the last by the caller (upstream's receive, which puts what this returns in its buffer).
        *earlier, last = (self._addressed(channel, content) for content in contents)
        for to, message in earlier:
            for name in to if isinstance(to, list) else [to]:
                self.receive_buffer[name].put_nowait(message)
        return last

    async def _take(self, index: int, channel_key: str) -> list[bytes]:
        """What waits on the process's channel (at most RECEIVE_BATCH), moved to the backup; blocks while nothing
        does."""
        connection = self.connection(index)
        backup = self._backup_channel_name(channel_key)
        while True:
            taken = await connection.eval(_TAKE, 2, channel_key, backup, RECEIVE_BATCH)
            if taken:
                return [member for member, _score in _pairs(taken)]
            content = await self._brpop_with_clean(index, channel_key, timeout=self.brpop_timeout)
            if content is not None:  # upstream's blocking pop: backed up as well
                return [content]

    async def _clean_taken(self, index: int, channel_key: str, contents: list[bytes]) -> None:
        await self.connection(index).zrem(self._backup_channel_name(channel_key), *contents)

    def _addressed(self, channel: str, content: bytes) -> tuple[Any, dict[str, Any]]:
        message = self.deserialize(content)
        if "__asgi_channel__" in message:
            channel = message.pop("__asgi_channel__")
        return channel, message


def _pairs(flat: list[Any]) -> list[tuple[Any, Any]]:
    """ZPOPMIN's reply as (member, score) pairs, whichever protocol answered (RESP3 nests them, RESP2 is flat)."""
    if flat and isinstance(flat[0], list | tuple):
        return [(pair[0], pair[1]) for pair in flat]
    return list(zip(flat[::2], flat[1::2], strict=True))
