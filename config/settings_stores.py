"""The data stores' settings: PostgreSQL (with its connection pool), Redis (cache and channel layer) and Celery.

Embedded under var/ unless DATABASE_URL and REDIS_URL are given; imported by config.settings."""

from __future__ import annotations

from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from config.env import database_from_url, env_bool, env_int, env_str
from core import embedded

DATABASE_URL = env_str("DATABASE_URL")
_database = database_from_url(DATABASE_URL) if DATABASE_URL else embedded.database_settings()
# Each process keeps a bounded pool of connections (psycopg_pool through Django): a request waits up to
# DB_POOL_TIMEOUT seconds for one, then gets 503 with Retry-After (core/api.py). Every process that
# uses the database has a pool of its own, so pool size x processes must stay under PostgreSQL's
# max_connections: `serve` checks it at start. DB_POOL_MAX=0 turns pooling off (one connection per
# thread, kept DB_CONN_MAX_AGE seconds).
DB_POOL_MIN = env_int("DB_POOL_MIN", 2)
DB_POOL_MAX = env_int("DB_POOL_MAX", 20)
DB_POOL_TIMEOUT = float(env_str("DB_POOL_TIMEOUT", "10"))
DB_POOL_RETRY_AFTER = env_int("DB_POOL_RETRY_AFTER", 2)
if DB_POOL_MAX > 0:
    _given = _database.get("OPTIONS")
    _options: dict[str, object] = dict(_given) if isinstance(_given, dict) else {}
    _options["pool"] = {
        "min_size": min(DB_POOL_MIN, DB_POOL_MAX),
        "max_size": DB_POOL_MAX,
        "timeout": DB_POOL_TIMEOUT,
    }
    _database["OPTIONS"] = _options
DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        **_database,
        # A pool and persistent connections exclude each other (the pool keeps them).
        "CONN_MAX_AGE": 0 if DB_POOL_MAX > 0 else env_int("DB_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL") or embedded.redis_url(0)
# True where this process manages the embedded servers (manage.py services / serve).
EMBEDDED_DATABASE = not DATABASE_URL
EMBEDDED_REDIS = not env_str("REDIS_URL")
# Separates the keys of processes that share one Redis (e.g. parallel test workers).
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "sd")

CACHES = {
    "default": {
        "BACKEND": "core.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        # As the channel layer's (below): a pooled connection that a Redis restart killed is retried once.
        "OPTIONS": {"retry_on_error": [RedisConnectionError]},
    }
}

CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "core.channel_layer.RedisChannelLayer",  # channels_redis's, receiving in batches
        # A process's sockets share one Redis list per process, and a message to a full list is dropped
        # silently: the capacity must cover a busy process's backlog (hundreds of chat sockets), not one socket's.
        "CONFIG": {
            # redis-py's async pool refuses (not waits) past max_connections, which defaults to 100: too few
            # for an ASGI process holding a thousand sockets.
            # No socket timeout: with one, redis-py writes through asyncio.wait_for, which on Python 3.11 can
            # swallow a cancellation that lands as the write completes; the layer's receive() then loops on
            # its 5 s blocking pop for ever, and a closed socket's consumer never ends (a leaked task and
            # connection per such close; in tests, a loop teardown that hangs). The blocking pop has its own
            # server-side timeout, and keepalive notices a peer that is gone.
            # After a Redis restart the pool's idle connections are dead ("Connection closed by server" at
            # their first use): redis-py retries a command once on a fresh connection when told to, which
            # channels_redis's pools are not by default (the first socket after a restart failed). A
            # command cut off in flight may so run twice; chat frames carry ids, and clients drop repeats.
            "hosts": [
                {
                    "address": REDIS_URL,
                    "max_connections": env_int("CHANNEL_LAYER_MAX_CONNECTIONS", 2000),
                    "socket_timeout": None,
                    "socket_keepalive": True,
                    "retry_on_error": [RedisConnectionError],
                }
            ],
            "prefix": f"{REDIS_KEY_PREFIX}:asgi",
            "capacity": env_int("CHANNEL_LAYER_CAPACITY", 10000),
        },
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None  # tasks write their results to PostgreSQL rows, not to a backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_KEY_PREFIX}:"}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = env_str("TIME_ZONE", "Asia/Shanghai")
CELERY_BEAT_SCHEDULER = "core.beat:CodeDefaultsScheduler"  # django-celery-beat, installing code defaults once
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Speech recognition is the expensive work: it has its own queue, so it scales out on worker machines
# of its own (`celery worker -Q transcription`). The Whoosh indexes have one writer: their updates go
# through the `search` queue, consumed by exactly one single-process worker (`serve` starts it).
CELERY_TASK_ROUTES = {
    "*.tasks.transcribe_*": {"queue": "transcription"},
    "*.tasks.index_*": {"queue": "search"},
}
