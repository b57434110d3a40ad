"""How many PostgreSQL connections the processes `serve` starts may hold, and whether the server has them.

The web process keeps a pool of up to DB_POOL_MAX connections (settings DB_POOL_*). A Celery process runs
one task at a time and keeps one plain connection, no pool: a pool's threads would not survive the fork
of Celery's prefork workers. The sum must fit in the server's max_connections less the slots it keeps
for superusers, or a busy moment ends in "too many clients".
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.conf import settings
from django.db import connection

# Connections one Celery process holds: its one thread's.
CELERY_CONNECTIONS = 1


def celery_environment() -> dict[str, str]:
    return {**os.environ, "DB_POOL_MAX": "0"}


def web_environment() -> dict[str, str]:
    """Daphne's thread pool for synchronous work agrees with the pool: no more threads than connections."""
    environment = dict(os.environ)
    environment.setdefault("ASGI_THREADS", str(max(settings.DB_POOL_MAX, 1)))
    return environment


def connections_needed(celery_processes: int) -> dict[str, int]:
    return {"web": settings.DB_POOL_MAX, "celery": celery_processes * CELERY_CONNECTIONS}


def connections_available() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def release_connections() -> None:
    """The supervisor itself needs no connection while its children run: close them and its pool."""
    connection.close()
    close_pool = getattr(connection, "close_pool", None)  # PostgreSQL's wrapper has one
    if close_pool is not None:
        close_pool()


def shortfall(needed: Mapping[str, int], available: int) -> str | None:
    """A message naming the settings to change when the pools could exceed the server, else None."""
    total = sum(needed.values())
    if settings.DB_POOL_MAX <= 0 or total <= available:
        return None
    parts = ", ".join(f"{name} {count}" for name, count in needed.items())
    return (
        f"The connection pools may hold {total} PostgreSQL connections ({parts}) but the server allows"
        f" {available}: lower DB_POOL_MAX or raise max_connections (EMBEDDED_PG_MAX_CONNECTIONS)."
    )
