"""Health of the processes the product depends on: PostgreSQL, Redis, the Celery worker and beat."""

from __future__ import annotations

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
    try:
        replies = current_app.control.ping(timeout=timeout)
    except Exception as exc:
        return {"ok": False, "workers": 0, "error": str(exc).strip()[:200]}
    workers = sorted(name for reply in replies for name in reply)
    try:
        last_heartbeat = cache.get(HEARTBEAT_KEY)
    except Exception:
        last_heartbeat = None
    return {"ok": bool(workers), "workers": len(workers), "last_heartbeat": last_heartbeat}


def check_all() -> dict[str, Any]:
    database = check_database()
    redis = check_redis()
    celery = check_celery() if redis["ok"] else {"ok": False, "workers": 0, "error": "redis is down"}
    return {
        "status": "ok" if database["ok"] and redis["ok"] and celery["ok"] else "down",
        "database": database,
        "redis": redis,
        "celery": celery,
    }
