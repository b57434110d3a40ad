"""The cache backend: Django's Redis cache, with one Redis client and connection pool per server for the whole process.

Django makes a cache object per thread, and under ASGI per context: each chat socket got one of its own, with a pool
of its own, so every socket opened a Redis connection (1,000 sockets held 1,000 more), and every cache call built a
``redis.Redis`` around the pool, which cost more CPU than the round trip it made. A ``redis.Redis`` and its pool are
safe to share between threads (each command takes a connection from the pool), so this backend keeps one of each
per server and option set, for every cache object of the process.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_CLIENTS: dict[tuple[str, str], Any] = {}  # (server, options) -> the process's redis.Redis for it
_LOCK = threading.Lock()


class _SharedClient(RedisCacheClient):
    def __init__(self, servers: Any, **options: Any) -> None:
        super().__init__(servers, **options)
        self._options_key = repr(sorted(options.items()))

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        upstream: Any = self  # Django's private attributes, which its stubs do not declare
        index = upstream._get_connection_pool_index(write)
        known = (upstream._servers[index], self._options_key)
        client = _CLIENTS.get(known)
        if client is None:
            with _LOCK:
                client = _CLIENTS.get(known)
                if client is None:
                    client = _CLIENTS[known] = upstream._client(connection_pool=upstream._get_connection_pool(write))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedClient
