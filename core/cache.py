"""The cache backend: Django's Redis cache, with one Redis client per server kept instead of one made per call.

Django's ``RedisCacheClient`` builds a ``redis.Redis`` around its pooled connections for every cache call, and
building one costs more CPU than the round trip it makes: a chat message reads the cache once (the bot's handoff
phrases and knowledge scopes), and the client's construction was a quarter of that read. A ``redis.Redis`` is
safe to share (its connections come from the pool per command), so the client is kept with its pool.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _KeptClient(RedisCacheClient):
    def __init__(self, servers: Any, **options: Any) -> None:
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _KeptClient
