"""Service Desk settings: one module, every knob read from the environment (see .env.example).

The data stores (config.settings_stores) and the product's own knobs (config.settings_product) are blocks of
their own, imported here whole: this module is still the only one Django, Celery and the tests point at."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_int, env_list, env_str, secret_key
from core import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.VAR_DIR

SECRET_KEY = secret_key(VAR_DIR)
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

# --- Data stores: PostgreSQL and Redis (cache, channel layer, Celery), embedded under var/ unless URLs are given

from config.settings_stores import *  # noqa: E402,F403

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

# --- The product's knobs: support hours, disputes, live chat, QA, risk rules, the radio ------------

from config.settings_product import *  # noqa: E402,F403

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
