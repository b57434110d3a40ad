from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db.utils import OperationalError
from django.test import Client, override_settings
from django.utils import timezone

from core import health, tasks

DOWN_REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


def test_healthz_is_green_when_database_redis_and_a_worker_answer(celery_worker: object) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True}
    assert body["redis"] == {"ok": True}
    assert body["celery"] == {"ok": True}


@pytest.mark.django_db
def test_healthz_is_503_when_no_celery_worker_answers() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["celery"] == {"ok": False}
    assert response.json()["database"] == {"ok": True}


@pytest.mark.django_db
def test_healthz_is_503_when_redis_is_down() -> None:
    with override_settings(CACHES=DOWN_REDIS):
        response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["redis"]["ok"] is False
    assert body["celery"]["ok"] is False


def test_database_check_reports_the_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", refuse)
    assert health.check_database() == {"ok": False, "error": "connection refused"}


@pytest.mark.django_db
def test_healthz_hides_error_details_from_anonymous_callers() -> None:
    with override_settings(CACHES=DOWN_REDIS):
        body = Client().get("/healthz").json()
    assert "error" not in body["redis"]


def test_healthz_accepts_only_get(db: None) -> None:
    assert Client().post("/healthz").status_code == 405


def test_heartbeat_task_run_by_a_real_worker_is_recorded(celery_worker: object) -> None:
    assert cache.get(health.HEARTBEAT_KEY) is None
    tasks.heartbeat.delay()
    deadline = time.monotonic() + 10
    while cache.get(health.HEARTBEAT_KEY) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.get(health.HEARTBEAT_KEY) is not None


def test_beat_is_reported_stale_when_its_heartbeat_is_old(db: None) -> None:
    health.record_heartbeat()
    assert health.check_beat()["ok"] is True
    later = timezone.now() + timedelta(seconds=health.HEARTBEAT_STALE_SECONDS + 1)
    assert health.check_beat(now=later)["ok"] is False
