"""Service Desk settings: one file, every knob read from the environment (see .env.example)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from django.utils.translation import gettext_lazy as _
from redis.exceptions import ConnectionError as RedisConnectionError

from core import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.VAR_DIR


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict[str, object]:
    """postgres://user:password@host:port/name?sslmode=require (host may be a socket dir: ?host=/path)."""
    parts = urlparse(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"DATABASE_URL must be a postgres:// URL, not {parts.scheme}://")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = query.pop("host", None) or unquote(parts.hostname or "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "OPTIONS": query,
    }


def _secret_key() -> str:
    # Without SECRET_KEY, keep one random key per checkout under var/ so sessions survive restarts.
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    key_file = VAR_DIR / "secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    # Before django.contrib.admin, so that core's admin/base_site.html (language switch) wins.
    "core",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API docs' assets, served locally instead of from a CDN
    "channels",
    "django_celery_beat",
    # Ours, bottom to top (core is above): a lower app never imports a higher one (docs/ARCHITECTURE.md).
    "crm",
    "merchants",
    "tickets",
    "chat",
    "qa",
    "radio",
    "home",  # the admin's index, a home per role: reads every app below it
]

MIDDLEWARE = [
    # Outermost: errors under /api/ are JSON and a busy database a 503, whatever made them (core/middleware.py).
    "core.middleware.ApiErrorMiddleware",
    "core.middleware.RefuseControlCharactersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data stores: PostgreSQL and Redis, embedded under var/ unless URLs are given -------------

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
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        # As the channel layer's (below): a pooled connection that a Redis restart killed is retried once.
        "OPTIONS": {"retry_on_error": [RedisConnectionError]},
    }
}

CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
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

# --- Auth --------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# --- Language and time -------------------------------------------------------------------------

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# Staffed hours of the service desk, local time: SLA clocks run only inside them.
SUPPORT_HOURS = env_str("SUPPORT_HOURS", "09:00-21:00")
SUPPORT_WEEKDAYS = env_str("SUPPORT_WEEKDAYS", "0-6")  # Monday is 0
# 极速维权: hours a merchant has to answer a dispute opened by a consumer whose tier has instant disputes;
# unanswered by then, it is decided for the consumer (tickets/disputes.py, every minute).
INSTANT_DISPUTE_HOURS = env_int("INSTANT_DISPUTE_HOURS", 24)

# --- Live chat (chat/, docs/chat-protocol.md) ---------------------------------------------------

# Seconds a consumer's chat token stays valid after it is issued.
CHAT_TOKEN_MAX_AGE = env_int("CHAT_TOKEN_MAX_AGE", 86400)
# The platform's key for POST /api/chat/tokens/ (header "Authorization: Api-Key <key>"); empty: staff only.
CHAT_PLATFORM_API_KEY = env_str("CHAT_PLATFORM_API_KEY")
# The department whose queue new chats enter.
CHAT_DEPARTMENT = env_str("CHAT_DEPARTMENT", "after-sales")
# A person takes over after this many bot misses in a row.
CHAT_BOT_MISSES = env_int("CHAT_BOT_MISSES", 2)
# A question consumers answered themselves in "猜你想问" becomes a wording of the article they chose once this
# many different consumers chose it (never fewer than 2: one consumer alone cannot teach the bot).
CHAT_CHOICE_LEARN_CONSUMERS = max(2, env_int("CHAT_CHOICE_LEARN_CONSUMERS", 2))
# A chat accepted but not answered within this many seconds goes back to the queue.
CHAT_ACCEPT_TIMEOUT = env_int("CHAT_ACCEPT_TIMEOUT", 120)
# A chat with the bot alone and silent for this many minutes is resolved.
CHAT_IDLE_MINUTES = env_int("CHAT_IDLE_MINUTES", 30)
# Longest message text in characters, and longest WebSocket frame in bytes.
CHAT_MAX_MESSAGE_CHARS = env_int("CHAT_MAX_MESSAGE_CHARS", 2000)
CHAT_MAX_FRAME_BYTES = env_int("CHAT_MAX_FRAME_BYTES", 16384)
# Frames one socket may send per window of seconds; beyond it they are refused with an error.
CHAT_RATE_FRAMES = env_int("CHAT_RATE_FRAMES", 10)
CHAT_RATE_SECONDS = env_int("CHAT_RATE_SECONDS", 10)
# Largest image a consumer or an agent may send in a chat (JPEG, PNG, WebP or GIF, sniffed from its bytes).
CHAT_ATTACHMENT_MAX_MB = env_int("CHAT_ATTACHMENT_MAX_MB", 5)
# Pixels at most in a chat image (width × height): a small file that would decode to gigabytes is refused.
CHAT_ATTACHMENT_MAX_PIXELS = env_int("CHAT_ATTACHMENT_MAX_PIXELS", 40_000_000)
# A socket relays at most one "typing" frame per this many seconds; more are dropped, never stored.
CHAT_TYPING_SECONDS = env_int("CHAT_TYPING_SECONDS", 3)
# Threads (each with its own database connection) per ASGI process for the chat sockets' database work.
CHAT_DB_THREADS = env_int("CHAT_DB_THREADS", 12)

# --- Tickets: the satisfaction survey of a ticket resolved outside chat (tickets/surveys.py) -------

# The address consumers reach the product at: the survey links they are given start with it.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
# A survey link works for this many days after the ticket was resolved.
TICKET_SURVEY_DAYS = env_int("TICKET_SURVEY_DAYS", 7)

# --- QA: recordings and transcripts (qa/transcription.py, docs/transcript-format.md) ------------

# What turns a recording into a transcript: one dotted path for every language, or per language
# ("zh=qa.speech.funasr.FunASRBackend,en=qa.transcription.PocketsphinxBackend,*=..."; "*" is the rest).
# Backends: the offline English recogniser; qa.speech.funasr.FunASRBackend (a FunASR runtime server);
# qa.speech.openai_api.OpenAITranscriptionBackend (an OpenAI-compatible /v1/audio/transcriptions server);
# qa.transcription.ImportedTranscriptsBackend where transcripts are produced elsewhere and imported.
QA_TRANSCRIPTION_BACKEND = env_str("QA_TRANSCRIPTION_BACKEND", "qa.transcription.PocketsphinxBackend")
# The network recognisers (docs/speech.md): where they listen, how long one file may take, how often
# an engine that is unreachable or drops the connection is tried before the recording fails.
QA_FUNASR_URL = env_str("QA_FUNASR_URL", "ws://127.0.0.1:10095")
QA_FUNASR_LANGUAGES = env_list("QA_FUNASR_LANGUAGES", "zh")
QA_FUNASR_SSL_VERIFY = env_bool("QA_FUNASR_SSL_VERIFY", True)
QA_FUNASR_HOTWORDS = env_list("QA_FUNASR_HOTWORDS", "")
QA_OPENAI_ASR_URL = env_str("QA_OPENAI_ASR_URL", "http://127.0.0.1:8000/v1")
QA_OPENAI_ASR_KEY = env_str("QA_OPENAI_ASR_KEY", "")
QA_OPENAI_ASR_MODEL = env_str("QA_OPENAI_ASR_MODEL", "whisper-1")
QA_ASR_TIMEOUT = env_int("QA_ASR_TIMEOUT", 900)
QA_ASR_ATTEMPTS = env_int("QA_ASR_ATTEMPTS", 3)
# Seconds one recording may take to transcribe before it is marked failed (keep it under the broker's
# one-hour visibility timeout, after which an unfinished task is handed to another worker).
QA_TRANSCRIPTION_TIME_LIMIT = env_int("QA_TRANSCRIPTION_TIME_LIMIT", 3000)
# Who speaks on the left and right channels of a stereo recording.
QA_STEREO_SPEAKERS = env_list("QA_STEREO_SPEAKERS", "agent,consumer")
# Largest recording accepted for upload, in megabytes.
QA_RECORDING_MAX_MB = env_int("QA_RECORDING_MAX_MB", 500)

# --- Malicious reviewers (crm/risk.py); shown on the risk patterns' backtest page -----------------------

# A burst: at least RISK_BURST_REVIEWS negative reviews across RISK_BURST_SHOPS shops within RISK_BURST_DAYS,
# looked for in the last RISK_BURST_LOOKBACK_DAYS.
RISK_BURST_REVIEWS = env_int("RISK_BURST_REVIEWS", 5)
RISK_BURST_SHOPS = env_int("RISK_BURST_SHOPS", 4)
RISK_BURST_DAYS = env_int("RISK_BURST_DAYS", 7)
RISK_BURST_LOOKBACK_DAYS = env_int("RISK_BURST_LOOKBACK_DAYS", 90)
# Leverage: RISK_LEVERAGE_ORDERS orders where a refund was asked within RISK_LEVERAGE_DAYS of a negative review.
RISK_LEVERAGE_ORDERS = env_int("RISK_LEVERAGE_ORDERS", 3)
RISK_LEVERAGE_DAYS = env_int("RISK_LEVERAGE_DAYS", 3)
# Copied texts: the same negative text (at least RISK_DUPLICATE_MIN_CHARS characters once spaces and
# punctuation are gone) RISK_DUPLICATE_COPIES times to RISK_DUPLICATE_SHOPS shops.
RISK_DUPLICATE_COPIES = env_int("RISK_DUPLICATE_COPIES", 3)
RISK_DUPLICATE_SHOPS = env_int("RISK_DUPLICATE_SHOPS", 2)
RISK_DUPLICATE_MIN_CHARS = env_int("RISK_DUPLICATE_MIN_CHARS", 2)
# How far back the leverage and copied-text rules look, and the risk patterns (extortion, abuse): a year, so
# that an extortion review just outside half a year is still seen.
RISK_LOOKBACK_DAYS = env_int("RISK_LOOKBACK_DAYS", 180)
RISK_PATTERN_LOOKBACK_DAYS = env_int("RISK_PATTERN_LOOKBACK_DAYS", 365)
# A consumer's pattern score (the weights of the patterns their reviews match, summed) that raises a flag,
# and the score at which an open (not yet decided) extortion flag already holds instant refunds.
RISK_PATTERN_MIN_SCORE = env_int("RISK_PATTERN_MIN_SCORE", 5)
RISK_HOLD_EXTORTION_SCORE = env_int("RISK_HOLD_EXTORTION_SCORE", 8)

# --- The Nine O'Clock Radio (radio/) -----------------------------------------------------------

# When the morning digests are built, local time (HH:MM in TIME_ZONE); installed into django-celery-beat
# once, after which the admin's Periodic tasks owns the schedule.
RADIO_DIGEST_TIME = env_str("RADIO_DIGEST_TIME", "08:30")
# The espeak-ng executable (a name on PATH or a path); missing, digests have no audio and the page says so.
RADIO_ESPEAK_NG = env_str("RADIO_ESPEAK_NG", "espeak-ng")
# Speaking rate in English words per minute (Chinese is read at 4/3 of it, in syllables), and how many items
# of a digest are read aloud (the page shows all).
RADIO_SPEECH_WPM = env_int("RADIO_SPEECH_WPM", 150)
RADIO_AUDIO_ITEMS = env_int("RADIO_AUDIO_ITEMS", 8)
# The recording is stored as MP3 at this constant bit rate (kbit/s; mono speech at 22 kHz): 48 is a seventh
# of the WAV espeak-ng gives, and every phone's browser plays it.
RADIO_MP3_KBPS = env_int("RADIO_MP3_KBPS", 48)
# Items of each channel shown on the digest page before "all N items".
RADIO_PAGE_ITEMS = env_int("RADIO_PAGE_ITEMS", 10)

# --- Files -------------------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT: Path | None = VAR_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
SEARCH_INDEX_DIR = Path(env_str("SEARCH_INDEX_DIR") or VAR_DIR / "index")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- HTTPS and other production hardening: on unless DEBUG, each one overridable --------------

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz is probed over plain HTTP by load balancers and process supervisors.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"

# --- API ---------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: a view reads or writes only what the user's role holds the model permission for.
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.ModelPermissions"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    # One size limit, a bounded JSON depth and no NUL for every parser (core/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser", "core.parsers.FormParser", "core.parsers.MultiPartParser"],
    # Every error is JSON with a code and a message (core/api.py).
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
# Largest request body any API parser reads (413 past it), and Django's limit for form fields likewise;
# uploaded files have limits of their own (QA_RECORDING_MAX_MB).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Deepest nesting of arrays and objects accepted in a JSON body.
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 32)
SPECTACULAR_SETTINGS = {
    "TITLE": "Service Desk API",
    "DESCRIPTION": "Customer-service CRM and ticketing for a marketplace.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation declares the errors core.api answers with (core/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.schema.declare_errors"],
    # Several models have a "kind" or "status": name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "crm.models.Order.Status",
        "OrderDisputeEnum": "crm.models.Order.Dispute",
        "RiskFlagKindEnum": "crm.models.RiskFlag.Kind",
        "RiskFlagStatusEnum": "crm.models.RiskFlag.Status",
        "TicketKindEnum": "tickets.models.TicketKind",
        "TicketStatusEnum": "tickets.models.Ticket.Status",
        "TicketEventKindEnum": "tickets.models.TicketEvent.Kind",
        "TicketSLAStateEnum": "tickets.models.Ticket.SLAState",
        "RefundDecisionEnum": "tickets.models.RefundRequest.Decision",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"pgserver": {"level": "WARNING"}},
}
