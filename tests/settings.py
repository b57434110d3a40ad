"""Test settings: the production settings, run over plain HTTP with a cheap password hasher.

Each pytest-xdist worker gets its own Redis database (and key prefix), so workers sharing one Redis
never see each other's cache entries, channel groups, Celery queues or broadcast replies (kombu
scopes its fanout channels by database number). Their PostgreSQL databases are separate already.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
os.environ["REDIS_KEY_PREFIX"] = f"test-{_worker}"
for _name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
    os.environ.setdefault(_name, "0")

from config import settings as _base  # noqa: E402
from config.settings import *  # noqa: E402,F403

# Database 0 is the running product's; test workers use 1, 2, ... (TEST_REDIS_DB_BASE moves them, so
# that two test runs can share one Redis).
_db = int(os.environ.get("TEST_REDIS_DB_BASE", "1")) + int(_worker.removeprefix("gw") or 0)
REDIS_URL = urlparse(_base.REDIS_URL)._replace(path=f"/{_db}").geturl()
CACHES = {"default": {**_base.CACHES["default"], "LOCATION": REDIS_URL}}
# The production layer's settings (capacity, pool size, read timeout), on this worker's Redis database.
_layer = _base.CHANNEL_LAYERS["default"]
CHANNEL_LAYERS = {
    "default": {
        **_layer,
        "CONFIG": {
            **_layer["CONFIG"],
            "hosts": [{**host, "address": REDIS_URL} for host in _layer["CONFIG"]["hosts"]],
            "prefix": "test:asgi",
        },
    }
}
CELERY_BROKER_URL = REDIS_URL
# Each xdist worker has its own search indexes (a test that needs an empty one clears it).
SEARCH_INDEX_DIR = _base.VAR_DIR / "test-index" / f"{os.environ.get('TEST_REDIS_DB_BASE', '1')}-{_worker}"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests render templates without a collectstatic run first: static files come from the finders.
STORAGES = {**_base.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
