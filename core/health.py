"""Health of the processes the product depends on: PostgreSQL, Redis, the Celery worker and beat."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from celery import current_app
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

HEARTBEAT_KEY = "core:heartbeat"
# Beat sends a heartbeat every 30 s; older than this and beat (or every worker) is considered down.
HEARTBEAT_STALE_SECONDS = 120


def record_heartbeat() -> str:
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_KEY, now, timeout=None)
    return now


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure to reach the database is "down", with the reason
        return {"ok": False, "error": str(exc).strip()[:200]}
    return {"ok": True}


def check_redis() -> dict[str, Any]:
    try:
        cache.set("core:ping", "pong", timeout=10)
        ok = cache.get("core:ping") == "pong"
    except Exception as exc:
        return {"ok": False, "error": str(exc).strip()[:200]}
    return {"ok": ok}


def check_celery(timeout: float = 1.0) -> dict[str, Any]:
    """A broadcast ping answered by at least one worker; returns at the first answer."""
    try:
        replies = current_app.control.ping(timeout=timeout, limit=1)
    except Exception as exc:
        return {"ok": False, "error": str(exc).strip()[:200]}
    return {"ok": bool(replies)}


def check_beat(now: datetime | None = None) -> dict[str, Any]:
    """Beat's heartbeat, run by a worker, is recent. Informational: a fresh start has none yet."""
    last = cache.get(HEARTBEAT_KEY)
    if last is None:
        return {"ok": False, "last_heartbeat": None}
    age = ((now or timezone.now()) - datetime.fromisoformat(last)).total_seconds()
    return {"ok": age <= HEARTBEAT_STALE_SECONDS, "last_heartbeat": last}


def check_all() -> dict[str, Any]:
    database = check_database()
    redis = check_redis()
    celery = check_celery() if redis["ok"] else {"ok": False, "error": "redis is down"}
    beat = check_beat() if redis["ok"] else {"ok": False, "last_heartbeat": None}
    return {
        # Beat is reported, not required: the verdict is database, Redis and the worker.
        "status": "ok" if database["ok"] and redis["ok"] and celery["ok"] else "down",
        "database": database,
        "redis": redis,
        "celery": celery,
        "beat": beat,
    }
