from __future__ import annotations

import os
import subprocess
import sys

import pytest
from channels_redis import core as channels_redis
from django.conf import settings
from django.core.cache.backends import redis as django_redis
from django.utils.module_loading import import_string

from config.env import database_from_url
from core import embedded


def test_database_url_is_parsed_including_a_socket_host() -> None:
    assert database_from_url("postgres://sd:p%40ss@db.internal:5433/servicedesk?sslmode=require") == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "servicedesk",
        "USER": "sd",
        "PASSWORD": "p@ss",
        "HOST": "db.internal",
        "PORT": "5433",
        "OPTIONS": {"sslmode": "require"},
    }
    assert database_from_url("postgresql://postgres@/app?host=/run/pg")["HOST"] == "/run/pg"


def test_a_non_postgres_database_url_is_refused() -> None:
    with pytest.raises(ValueError, match="postgres://"):
        database_from_url("sqlite:///db.sqlite3")


def test_stores_are_postgresql_and_redis_only() -> None:
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "core.channel_layer.RedisChannelLayer"  # batched receive
    assert issubclass(
        import_string(str(settings.CHANNEL_LAYERS["default"]["BACKEND"])), channels_redis.RedisChannelLayer
    )
    assert settings.CACHES["default"]["BACKEND"] == "core.cache.RedisCache"  # Django's, one client per process
    assert issubclass(import_string(str(settings.CACHES["default"]["BACKEND"])), django_redis.RedisCache)
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert settings.CELERY_BEAT_SCHEDULER == "core.beat:CodeDefaultsScheduler"


def test_embedded_redis_port_is_stable_for_a_checkout() -> None:
    assert embedded.redis_port() == embedded.redis_port()
    assert 20000 <= embedded.redis_port() < 30000


def test_an_over_long_socket_path_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setattr(embedded, "pg_socket_dir", lambda: embedded.Path("/" + "x" * 120))
    with pytest.raises(embedded.EmbeddedServerError, match="DATABASE_URL"):
        embedded.database_settings()


def test_check_deploy_is_clean_in_production_mode() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "k" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
        "ALLOWED_HOSTS": "desk.example.com",
    }
    # The browser harness may have set DJANGO_ALLOW_ASYNC_UNSAFE in this worker; production never does.
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
