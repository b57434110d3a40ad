"""``core.cache``: every cache object of the process — one per thread, and under ASGI one per socket's context —
talks to Redis through the same client and pool, so a thousand sockets do not open a thousand connections."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache, caches


def client() -> Any:
    backend: Any = caches["default"]
    return backend._cache.get_client()


def test_threads_share_one_client_and_pool() -> None:
    cache.set("shared-client", 1)
    seen: list[Any] = []

    def use() -> None:
        assert caches["default"].get("shared-client") == 1
        seen.append((caches["default"], client()))

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(cache_object) for cache_object, _client in seen}) == 4  # Django's own: one per thread
    assert {id(c) for _cache, c in seen} == {id(client())}  # the client, and with it the pool: one
    assert client().connection_pool is seen[0][1].connection_pool


def test_sockets_contexts_share_it_too() -> None:
    async def socket() -> Any:
        return await sync_to_async(client, thread_sensitive=False)()

    async def many() -> list[Any]:
        return await asyncio.gather(*(asyncio.create_task(socket(), context=contextvars.Context()) for _ in range(5)))

    assert {id(c) for c in asyncio.run(many())} == {id(client())}


def test_it_still_caches_and_forgets() -> None:
    cache.set_many({"a": [1, 2], "b": "二"})
    assert cache.get_many(["a", "b", "c"]) == {"a": [1, 2], "b": "二"}
    cache.delete("a")
    assert cache.get("a") is None and cache.get("b") == "二"
