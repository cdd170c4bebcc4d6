"""Settings, read from the environment only.

With nothing set the app runs embedded: SQLite and the in-memory channel layer.
`DATABASE_URL` and `REDIS_URL` switch it to PostgreSQL and Redis.
"""

import logging
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# A deployment must bring its own secret. Only a DEBUG (developer) run may fall back to a
# throwaway key: the reference backend fell back to a public default and anyone could mint
# tokens for it.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (and JWT_SIGNING_KEY if it should differ) "
            "in the environment, or DEBUG=1 for a local development run."
        )
    SECRET_KEY = "django-insecure-local-development-only-never-deploy-this-key"
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default=SECRET_KEY)

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "orders.apps.OrdersConfig",
    "realtime.apps.RealtimeConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "restaurant.logs.RequestLogMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "restaurant.middleware.sync_middleware_chain",  # last: see its docstring
]

ROOT_URLCONF = "restaurant.urls"

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

WSGI_APPLICATION = "restaurant.wsgi.application"
ASGI_APPLICATION = "restaurant.asgi.application"

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (daphne's sync pool, the event publisher, tests) share one file: WAL
    # lets readers run beside the writer, IMMEDIATE transactions take the write lock up
    # front (no deadlock on lock upgrade), and writers wait instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )
    # A file, not shared-cache memory, for the test database: shared-cache table locks
    # ignore the busy timeout and fail threads that overlap. One per test process.
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", str(Path(tempfile.gettempdir()) / f"restaurant_test_{os.getpid()}.sqlite3")
    )
else:
    # One test database per test process, so that two runs on one server do not collide.
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", f"test_{DATABASES['default']['NAME']}_{os.getpid()}"
    )
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=3)
    )
    if env.bool("DB_POOL", default=True):
        # Under the ASGI server every request runs in a context of its own (a thread of its
        # own under Django's ASGI handler, a fresh copy of the loop's context on the thread
        # pool: restaurant.threaded_http), so Django's per-context connection is never
        # reused: each request connected anew, ~30% of an item move's time (BENCHMARKS.md).
        # A pool shared by the process's threads is reused.
        # CONN_HEALTH_CHECKS makes the pool check a connection before handing it out.
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django refuses a pool with persistent connections
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
            # Waiting longer for a connection than for a new one to open: the database is
            # away or saturated; the request is answered 503 rather than left hanging.
            "timeout": env.float("DB_POOL_TIMEOUT", default=3.0),
            # After an outage the pool retries with doubling delays; giving an attempt up
            # after a few seconds starts the next at 1 s again, so it is back within ~2 s of
            # the database (psycopg_pool's default, 5 min, let delays grow past a minute).
            "reconnect_timeout": env.float("DB_POOL_RECONNECT_TIMEOUT", default=5.0),
        }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "orders.User"

# Realtime's fast path: the only code that uses servers' and libraries' non-public attributes
# (direct frame writes, lean per-socket state, one Redis client for the cache), all in realtime/internals.py. Off: public
# Channels, ASGI and python-socketio APIs only (slower fan-out, more memory per socket).
REALTIME_FAST_PATH = env.bool("REALTIME_FAST_PATH", default=True)
REDIS_URL = env.str("REDIS_URL", default="")


def _redis_db_url(url: str, db: int) -> str:
    """The same Redis server as `url`, another logical database.

    The cache lives in its own database so that clearing it never touches channel-layer keys.
    """
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": env.str(
                "CHANNEL_LAYER_BACKEND", default="channels_redis.pubsub.RedisPubSubChannelLayer"
            ),
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNEL_PREFIX", default="asgi")},
        }
    }
    if CHANNEL_LAYERS["default"]["BACKEND"].endswith("core.RedisChannelLayer"):
        CHANNEL_LAYERS["default"]["CONFIG"].update(
            # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s that
            # RedisChannelLayer blocks in BZPOPMIN: an idle socket's receive then times out
            # and the consumer dies. Reads must outlast the blocking pop.
            hosts=[{"address": REDIS_URL, "socket_timeout": 30}],
            # Seconds after which the layer forgets a group member; sockets re-join every
            # half of it (realtime.streams).
            group_expiry=env.int("CHANNEL_GROUP_EXPIRY", default=86400),
        )
    CACHES = {
        "default": {
            "BACKEND": (
                "realtime.internals.SharedClientRedisCache" if REALTIME_FAST_PATH
                else "django.core.cache.backends.redis.RedisCache"
            ),
            "LOCATION": env.str("CACHE_URL", default=_redis_db_url(REDIS_URL, 1)),
            "KEY_PREFIX": "restaurant",
            # Every REST request reads the cache (revoked logins): a Redis that stops
            # answering must fail fast (and open, restaurant.revocation), not hang requests.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Without collectstatic (tests, a first run) whitenoise serves straight from the finders.
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/admin/login/"

# --- Sign-in and request limits (restaurant.throttling, restaurant.bodylimit) ---------------

# How many reverse proxies in front of the app append to X-Forwarded-For. The client address
# (login throttles, DRF's throttles) is the entry the outermost of them wrote; with 0 the
# header is ignored and the TCP peer is the client. Never more than really sit in front:
# every entry beyond them is whatever the client chose to send.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Password attempts (every surface together) per account and per client address. Generous
# enough for a shift of tablets logging in behind one address at once.
LOGIN_THROTTLE_ACCOUNT = env.str(
    "LOGIN_THROTTLE_ACCOUNT", default=env.str("LOGIN_THROTTLE_EMAIL", default="10/min")
)
LOGIN_THROTTLE_ADDRESS = env.str(
    "LOGIN_THROTTLE_ADDRESS", default=env.str("LOGIN_THROTTLE_IP", default="30/min")
)
# Password checks (PBKDF2 at Django's default cost, ~230 ms of CPU each) running at once in
# one process; more wait their turn (restaurant.password_checks). 1 leaves the other cores
# to the event loop and the other requests while a shift logs in at once.
LOGIN_PASSWORD_CHECKS = env.int("LOGIN_PASSWORD_CHECKS", default=1)
AUTHENTICATION_BACKENDS = [
    "restaurant.throttling.LoginThrottleBackend",
    # Never reached by a counted attempt; listed for sessions that name it (see its docstring).
    "django.contrib.auth.backends.ModelBackend",
]
# Threads serving Django's sync views under the ASGI server (restaurant.threaded_http); 0:
# Django's ASGI handler, a thread per request.
HTTP_THREADS = env.int("HTTP_THREADS", default=64)
# The largest request body any path accepts (JSON API, forms, the admin): larger ones are
# answered 413 before they are read (restaurant.bodylimit, restaurant.parsers). Django's own
# form limit is the same number.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

# --- REST API -------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # JWT first: its WWW-Authenticate header is what makes DRF answer 401, not 403.
        "restaurant.tenancy.StaffJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["restaurant.tenancy.IsRestaurantStaff"],
    "DEFAULT_RENDERER_CLASSES": ["djangorestframework_camel_case.render.CamelCaseJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["restaurant.parsers.CamelCaseJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "restaurant.pagination.PageNumberPagination",
    "DEFAULT_SCHEMA_CLASS": "orders.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "restaurant.problems.exception_handler",
    # The client address of DRF's own throttles, read as restaurant.throttling reads it.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

JSON_CAMEL_CASE = {"JSON_UNDERSCOREIZE": {"no_underscore_before_number": True}}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("ACCESS_TOKEN_LIFETIME", default=900)),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=env.int("REFRESH_TOKEN_LIFETIME", default=7 * 24 * 3600)
    ),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "userId",
    "CHECK_USER_IS_ACTIVE": True,
    # A password change invalidates every token issued before it.
    "CHECK_REVOKE_TOKEN": True,
    "LEEWAY": 0,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Restaurant ordering API",
    "DESCRIPTION": "REST API for POS tablets, kitchen displays and integrations. The wire "
    "contract (REST, events, both socket protocols, problem types) is the repository's "
    "`docs/contract.md`; the sockets are described in `docs/realtime.md` and `docs/socketio.md`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "CAMELIZE_NAMES": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "drf_spectacular.contrib.djangorestframework_camel_case.camelize_serializer_fields",
        "orders.api.schema.describe_api",  # tag descriptions, the problem types
    ],
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "ItemStatusEnum": "orders.models.ItemStatus",
        "TableSessionStatusEnum": "orders.models.TableSessionStatus",
        "RoleEnum": "orders.models.Role",
        "AllergenEnum": "orders.models.Allergen",
        "PriorityEnum": "orders.models.Priority",
    },
}

# Browser clients on other origins (a POS web app) call the API with bearer tokens, never
# cookies: the allowlist comes from the environment and credentials are never allowed, so no
# origin is ever reflected with credentials.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = False
CORS_URLS_REGEX = r"^/api/.*$"  # /socket.io/ answers CORS itself (realtime.socketio)
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "last-event-id",
]
CORS_EXPOSE_HEADERS = ["idempotent-replayed", "retry-after"]

IDEMPOTENCY_KEY_TTL = timedelta(hours=env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24))

# --- Security -------------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=31536000)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

_UVICORN_ACCESS_LOG = bool(logging.getLogger("uvicorn.access").handlers) or "uvicorn" not in sys.modules
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Every record: secrets blanked (tokens, passwords, Authorization), request ids added.
    "filters": {
        "redact": {"()": "restaurant.logs.RedactSecrets"},
        "request_ids": {"()": "restaurant.logs.RequestIds"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler", "formatter": "plain",
            "filters": ["request_ids", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # A 4xx is already in the request's own line (restaurant.logs); Django's warning
        # ("Not Found: /favicon.ico") would be a second one. 5xx errors keep their traceback.
        "django.request": {"level": "ERROR"},
        # uvicorn's own handlers print URLs with their query strings unfiltered: its lines
        # go through ours instead (Django configures logging after uvicorn has).
        "uvicorn": {"handlers": ["console"], "propagate": False},
        "uvicorn.error": {"handlers": [], "propagate": True},
        # Unless uvicorn was told --no-access-log (`make run`: the app's line is the request
        # line), which leaves the logger without handlers before Django configures logging.
        "uvicorn.access": {"handlers": ["console"] if _UVICORN_ACCESS_LOG else [], "propagate": False},
        # A line per webhook request; the delivery log in the admin already has each attempt.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# --- Realtime -------------------------------------------------------------------------------

# Origins allowed to open WebSockets besides the app's own (same host). Never "*" in production.
WS_ALLOWED_ORIGINS = env.list("WS_ALLOWED_ORIGINS", default=[])
if "*" in WS_ALLOWED_ORIGINS and not DEBUG:
    raise ImproperlyConfigured("WS_ALLOWED_ORIGINS may not contain '*' with DEBUG off.")
# Seconds a socket without handshake credentials has to send {"type": "auth", ...}.
WS_AUTH_TIMEOUT = env.float("WS_AUTH_TIMEOUT", default=5.0)
# Seconds between heartbeats through the channel layer; a socket that hears none for three
# intervals subscribes again and fills what it missed from the outbox. 0 turns them off.
WS_HEARTBEAT_INTERVAL = env.float("WS_HEARTBEAT_INTERVAL", default=5.0)
# Events are kept this long for resuming clients; `manage.py prune_events` deletes older ones.
EVENT_RETENTION = timedelta(hours=env.float("EVENT_RETENTION_HOURS", default=24))
# The relay sweep: every INTERVAL seconds, publish events left unpublished for GRACE seconds.
OUTBOX_SWEEP = env.bool("OUTBOX_SWEEP", default=True)
OUTBOX_SWEEP_INTERVAL = env.float("OUTBOX_SWEEP_INTERVAL", default=2.0)
OUTBOX_SWEEP_GRACE = env.float("OUTBOX_SWEEP_GRACE", default=2.0)

# --- Webhooks (realtime/webhooks, Procfile `webhooks`; docs/integrations.md) ---------------

# Deliver to private, loopback, link-local, reserved and metadata addresses too (tests, a
# receiver inside the deployment's own network). Never on for a shared deployment.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=not DEBUG)
# Seconds: connecting, and each read or write of one attempt (the answer is cut at 2 KiB).
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=5.0)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
# Retries: exponential from BASE seconds, capped at MAX, with jitter, for RETRY_FOR; after that
# the endpoint is marked failing and waits for a manager.
WEBHOOK_RETRY_FOR = timedelta(hours=env.float("WEBHOOK_RETRY_HOURS", default=24))
WEBHOOK_RETRY_BASE = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=5.0)
WEBHOOK_RETRY_MAX = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
# Endpoints one worker delivers to at once (threads), how often an idle worker looks for work,
# and how long a worker's claim on an endpoint lasts unless renewed (a dead worker's lapses).
WEBHOOK_WORKER_THREADS = env.int("WEBHOOK_WORKER_THREADS", default=8)
WEBHOOK_POLL_INTERVAL = env.float("WEBHOOK_POLL_INTERVAL", default=0.5)
WEBHOOK_LEASE_SECONDS = env.float("WEBHOOK_LEASE_SECONDS", default=60.0)
# Delivered deliveries and their attempts are deleted from the log after this (workers prune).
WEBHOOK_LOG_RETENTION = timedelta(days=env.float("WEBHOOK_LOG_RETENTION_DAYS", default=30))

# --- Station printers (realtime/printers, Procfile `printers`; docs/integrations.md) --------

# Ports a printer may be reached on (raw ESC/POS, JetDirect 9100 and neighbours); loopback
# printers only for tests.
PRINTER_PORTS = [int(port) for port in env.list("PRINTER_PORTS", default=[str(p) for p in range(9100, 9110)])]
PRINTER_ALLOW_LOOPBACK = env.bool("PRINTER_ALLOW_LOOPBACK", default=False)
PRINTER_TIMEOUT = env.float("PRINTER_TIMEOUT", default=5.0)
PRINTER_RETRY_BASE = env.float("PRINTER_RETRY_BASE_SECONDS", default=2.0)
PRINTER_RETRY_MAX = env.float("PRINTER_RETRY_MAX_SECONDS", default=30.0)
PRINTER_GIVE_UP = timedelta(minutes=env.float("PRINTER_GIVE_UP_MINUTES", default=30))
PRINTER_WORKER_THREADS = env.int("PRINTER_WORKER_THREADS", default=4)
PRINTER_POLL_INTERVAL = env.float("PRINTER_POLL_INTERVAL", default=0.5)
PRINTER_LEASE_SECONDS = env.float("PRINTER_LEASE_SECONDS", default=30.0)

# Kitchen operations (issue 15).
# Who-did-what history is kept this long, independent of EVENT_RETENTION;
# `manage.py prune_history` deletes older entries (the only deletion its trigger allows).
HISTORY_RETENTION_DAYS = env.int("HISTORY_RETENTION_DAYS", default=400)
# A kitchen screen with no socket for this long is offline; one with an unacknowledged event
# older than this is behind.
SCREEN_OFFLINE_SECONDS = env.float("SCREEN_OFFLINE_SECONDS", default=30.0)
# How often each worker looks for screens gone offline or behind (0: never, e.g. in tests
# that run no server).
SCREEN_SWEEP_INTERVAL = env.float("SCREEN_SWEEP_INTERVAL", default=0.5)
