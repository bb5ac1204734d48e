"""Settings, read from the environment with embedded defaults.

Production differs only by environment variables (see `.env.example`).
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dj_database_url
import django_stubs_ext
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue as KombuQueue

from aigc_platform.embedded import socket_path
from aigc_platform.queues import TASK_ROUTES, Queue

# Django's generic classes are subscriptable at runtime (ModelAdmin[ContentBrief] as a base
# class), as the type checker wants them written.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """The variable as a flag; unset or empty (`NAME=` in a .env file) is the default. A value
    that is no flag stops the process with its name: a typo must not quietly pick one."""
    value = (os.environ.get(name) or "").strip().lower()
    if not value:
        return default
    if value not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        raise ImproperlyConfigured(
            f"{name} is a flag (on/off, true/false, yes/no, 1/0), not {value!r}.")
    return value in {"1", "true", "yes", "on"}


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """The variable as one of `choices`; unset or empty is the default. Any other value stops
    the process with its name, as `env_bool` does."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    if value not in choices:
        raise ImproperlyConfigured(
            f"{name} is {' or '.join(repr(c) for c in choices)}, not {value!r}.")
    return value


VAR_DIR = Path(os.environ.get("AIGC_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)
MODELS_DIR = Path(os.environ.get("AIGC_MODELS_DIR", BASE_DIR / "models")).resolve()

# Off unless asked for: `manage.py demo` turns it on for itself, a developer sets DJANGO_DEBUG=true.
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
                           "(see .env.example; `manage.py demo` and DJANGO_DEBUG=true need none).")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "channels",
    "apps.core",
    "apps.accounts",
    "apps.briefs",
    "apps.generation",
    "apps.evaluation",
    "apps.reviews",
    "apps.publishing",
    "apps.workflow",
    "apps.dashboard",
    "apps.integrations",
    "apps.apikeys",
    "apps.notifications",
    "apps.datasets",
    "axes",
    "csp",
]

MIDDLEWARE = [
    # First: orchestrator probes answer before the host and HTTPS checks (a probe sends
    # neither an allowed Host nor HTTPS).
    "apps.core.health.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # API answers are JSON, errors included: 413, 503 with Retry-After, 404 on any path.
    "apps.core.http_errors.ApiErrorMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages show and read times in the user's zone (the API keeps to offsets).
    "apps.accounts.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "aigc_platform.urls"
ASGI_APPLICATION = "aigc_platform.asgi.application"
WSGI_APPLICATION = None

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

# --- Database: PostgreSQL via DATABASE_URL, else SQLite in the var folder.
DATABASES = {
    "default": dj_database_url.config(default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
}
# PostgreSQL connections come from a pool of at most AIGC_DB_POOL_MAX per process (web or
# worker), returned at the end of each request or task: under ASGI every request runs in
# a thread of its own, and persistent connections kept one open per thread until the
# server ran out. A request that waits longer than AIGC_DB_POOL_TIMEOUT_S for one gets a
# 503 with Retry-After, never a database error. So the server needs at least
# (web processes + worker processes) x AIGC_DB_POOL_MAX connections.
DB_POOL_MAX = int(os.environ.get("AIGC_DB_POOL_MAX", "10"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django must not
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_MAX,
        "timeout": float(os.environ.get("AIGC_DB_POOL_TIMEOUT_S", "10")),
        # Connections idle this long are closed, so a quiet process holds only min_size.
        "max_idle": 60.0,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Workers write while the web tier reads: WAL lets them, IMMEDIATE avoids
    # lock-upgrade deadlocks, and the test database is a file a worker process can open.
    # A connection is kept a minute: opening one runs the PRAGMAs and Django's function
    # registrations, and the websocket consumers' one database thread opened one per call
    # (1,000 sockets connecting at once were served in 84 s instead of 6:
    # bench/websocket_fanout.py --database sqlite). A thread that ends takes its own along.
    DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: REDIS_URL, else the embedded Valkey on a Unix socket.
EMBEDDED_VALKEY = not os.environ.get("REDIS_URL")
VALKEY_SOCKET = socket_path(VAR_DIR)
REDIS_URL = os.environ.get("REDIS_URL") or f"unix://{VALKEY_SOCKET}"

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or (
    f"redis+socket://{VALKEY_SOCKET}" if EMBEDDED_VALKEY else REDIS_URL
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = Queue.DEFAULT.value
CELERY_TASK_ROUTES = TASK_ROUTES
CELERY_TASK_QUEUES = [KombuQueue(q.value, routing_key=q.value) for q in Queue]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("AIGC_TASK_SOFT_TIME_LIMIT", "900"))
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
# A message unacknowledged for longer than this is redelivered: keep it above
# the hard time limit so a long generation is never run twice while alive.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 300}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often beat sends due publications (and re-sends those of dead workers).
PUBLISH_DISPATCH_INTERVAL_S = float(os.environ.get("AIGC_PUBLISH_DISPATCH_INTERVAL_S", "15"))
# A message sent for a waiting job or delivery that has not been taken this long is taken
# for lost (a broker restarted empty, a worker killed holding it) and sent again; a
# duplicate is harmless, claims being atomic. Above the longest an evaluation runs.
RESEND_AFTER_S = int(os.environ.get("AIGC_RESEND_AFTER_S", "120"))
RECONCILE_INTERVAL_S = float(os.environ.get("AIGC_RECONCILE_INTERVAL_S", "30"))
# Outbound webhooks: how often beat sends due deliveries, how long a receiver may take to
# answer, and the per-subscription circuit breaker (this many failed tries in a row pause
# the subscription's deliveries for WEBHOOK_BREAKER_PAUSE_S).
WEBHOOK_DISPATCH_INTERVAL_S = float(os.environ.get("AIGC_WEBHOOK_DISPATCH_INTERVAL_S", "30"))
WEBHOOK_TIMEOUT_S = float(os.environ.get("AIGC_WEBHOOK_TIMEOUT_S", "15"))
WEBHOOK_BREAKER_FAILURES = int(os.environ.get("AIGC_WEBHOOK_BREAKER_FAILURES", "5"))
WEBHOOK_BREAKER_PAUSE_S = int(os.environ.get("AIGC_WEBHOOK_BREAKER_PAUSE_S", "600"))
CELERY_BEAT_SCHEDULE = {
    # Every state has a finisher (workers/tasks/reconcile.py, README "Recovery"): relays
    # left undone, running jobs whose heartbeat stopped, queued and evaluating jobs whose
    # message was lost.
    "reconcile": {"task": "platform.reconcile", "schedule": RECONCILE_INTERVAL_S},
    # Publishes what has come due (scheduled posts and retries after backoff).
    "dispatch-due-publications": {"task": "publishing.dispatch_due",
                                  "schedule": PUBLISH_DISPATCH_INTERVAL_S},
    # Likes, boosts, replies and comment counts of recent posts, for the report and fine-tuning.
    "pull-engagement": {"task": "publishing.pull_engagement", "schedule": 3600.0},
    # Reminds reviewers of overdue reviews, then escalates.
    "review-slas": {"task": "reviews.sweep_slas", "schedule": 300.0},
    # Outbound webhook retries that came due, RSS/Atom feeds, cron-scheduled briefs.
    "dispatch-due-webhooks": {"task": "webhooks.dispatch_due",
                              "schedule": WEBHOOK_DISPATCH_INTERVAL_S},
    "poll-feeds": {"task": "integrations.poll_feeds", "schedule": 300.0},
    "run-recurring-briefs": {"task": "integrations.run_recurring", "schedule": 60.0},
    # Workspaces' retrain policies: import and build once N approved pieces arrived, then
    # start the candidate run once the build is done (a tick each).
    "retrain-policies": {"task": "datasets.retrain_tick", "schedule": 300.0},
}



def _next_database(url: str) -> str:
    """`url` with the Redis database after its own (0 -> 1): the cache's own database,
    since clearing a Django Redis cache flushes its whole database."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(int(query.get("db", "0")) + 1)
        return f"unix://{parts.path}?{urlencode(query)}"
    database = int(parts.path.strip("/") or "0")
    return urlunsplit(parts._replace(path=f"/{database + 1}"))


# Shared by every web and worker process, so API throttles count each key once, not
# once per process (Django's default cache is per process).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("AIGC_CACHE_URL") or _next_database(REDIS_URL),
        "KEY_PREFIX": "aigc",
        # A cache that is down or hung fails fast: the throttles then let requests through.
        # More requests at once than the pool's connections wait up to a second for one
        # (redis-py's own pool raises, and every throttle and lease of the burst failed open).
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1,
                    "pool_class": "redis.BlockingConnectionPool", "max_connections": 100,
                    "timeout": 1},
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "apps.core.channel_layer.RedisChannelLayer",
        # redis-py 8 times reads out after 5 s by default, the same as the layer's
        # blocking BZPOPMIN, which then kills idle websockets: give reads room.
        # Its own server when AIGC_CHANNEL_LAYER_URL says so (live events only: losing it
        # loses no work), else the broker's. A burst of sockets waits up to `timeout` s
        # for one of the pool's connections.
        "CONFIG": {"hosts": [{"address": os.environ.get("AIGC_CHANNEL_LAYER_URL") or REDIS_URL,
                              "socket_timeout": 30, "max_connections": 100, "timeout": 10}],
                   "capacity": 500, "expiry": 30},
    }
}

# --- Email (notifications): the console by default, SMTP when configured.
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "aigc-platform@localhost")
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)

# --- Auth
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Login throttle (django-axes) on the dashboard and admin logins and API Basic auth: after
# AIGC_LOGIN_FAILURE_LIMIT failed logins of a username, each within AIGC_LOGIN_COOLOFF_S of the
# last, every login of it is refused (429), the right password too, until the cool-off ends.
# Counted in the shared cache, so every web process sees the same count; while the cache is
# unreachable logins go unthrottled, with a warning (apps.core.login_throttle).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "apps.core.login_throttle.FailOpenCacheHandler"
AXES_FAILURE_LIMIT = int(os.environ.get("AIGC_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(seconds=int(os.environ.get("AIGC_LOGIN_COOLOFF_S", "900")))
# By username, not IP: behind the TLS proxy every client has the proxy's address (and an
# office shares one), so an IP lockout would let anyone lock everyone out. axes warns of
# that choice (W006); it is deliberate.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
# Attempts while locked out neither count nor extend the cool-off.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLE_ADMIN = False  # nothing stored in the database to show

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.apikeys.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "apps.apikeys.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "apps.apikeys.authentication.HasScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.apikeys.authentication.ApiKeyRateThrottle",
        "apps.apikeys.authentication.UserRateThrottle",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.api_errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.json_input.CheckedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# Names of the schema's enums shared by several fields (the served schema and the
# schema check of `check --deploy` alike; the rest is aigc_platform/api_urls.SCHEMA_SETTINGS).
SPECTACULAR_SETTINGS = {
    "GET_LIB_DOC_EXCLUDES": "apps.accounts.api_auth.schema_doc_stops",
    "ENUM_NAME_OVERRIDES": {
        "BriefStateEnum": "apps.briefs.models.BriefState",
        "JobStateEnum": "apps.generation.models.JobState",
        "TrainingStateEnum": "apps.generation.models.TrainingState",
        "TrainingKindEnum": "apps.generation.models.TrainingKind",
        "PublicationStateEnum": "apps.publishing.models.PublicationState",
        "DeliveryStateEnum": "apps.integrations.models.DeliveryState",
        "ReviewDecisionEnum": "apps.reviews.models.Decision",
        "GateOutcomeEnum": "apps.evaluation.models.GateOutcome",
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000_000  # briefs are text; a megabyte is plenty
# Deeper JSON is refused with a 400 (Python's parser recurses per level); briefs nest 3 deep.
JSON_MAX_DEPTH = int(os.environ.get("AIGC_JSON_MAX_DEPTH", "32"))
# What a 503 (database or broker unreachable) tells the client to wait, in seconds.
UNAVAILABLE_RETRY_AFTER_S = int(os.environ.get("AIGC_UNAVAILABLE_RETRY_AFTER_S", "5"))

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TZ_NAME", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request without it
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Platform
# Fernet keys, comma separated, newest first: old ones still decrypt (rotation).
ENCRYPTION_KEYS = [k for k in os.environ.get("AIGC_ENCRYPTION_KEYS", "").split(",") if k]
if not ENCRYPTION_KEYS and not DEBUG:
    raise RuntimeError("AIGC_ENCRYPTION_KEYS must be set when DJANGO_DEBUG is off.")
EMBEDDING_MODEL_DIR = os.environ.get("AIGC_EMBEDDING_MODEL_DIR", "")
# What an evaluation worker process keeps of workspaces' published pieces between jobs
# (about 2 KB a piece with MiniLM); the least recently used go first.
EVALUATION_INDEX_CACHE_MB = int(os.environ.get("AIGC_EVALUATION_INDEX_CACHE_MB", "256"))
GENERATION_MODEL = os.environ.get("AIGC_GENERATION_MODEL", "builtin")
# On the CPU, each local-model text is bit for bit the one its job writes alone: attention
# row by row and matrix products in 16-row blocks (workers.generation.rowwise). Off trades
# that for speed: bench/blocked_products.py shows what the blocks cost per layer shape.
GENERATION_BATCH_INVARIANT = env_bool("AIGC_GENERATION_BATCH_INVARIANT", True)
# How a generation worker batches local models (apps.generation.running): rows join a running
# batch at the next step, or micro-batches run to their end; at most this many rows a batch.
# 32 rows of the built-in model take ~30 ms a step on 2 CPU cores (bench/generation_batching.py);
# a GPU takes far more: set it to what its memory holds.
GENERATION_BATCHING = env_choice("AIGC_GENERATION_BATCHING", ("continuous", "static"),
                                 "continuous")
GENERATION_BATCH_ROWS = int(os.environ.get("AIGC_GENERATION_BATCH_ROWS", "32"))
PUBLISH_FILES_DIR = Path(os.environ.get("AIGC_PUBLISH_DIR", VAR_DIR / "published")).resolve()
# Datasets' documents (imports and built versions, JSONL), per workspace.
DATASETS_DIR = Path(os.environ.get("AIGC_DATASETS_DIR", VAR_DIR / "datasets")).resolve()
JOB_HEARTBEAT_TIMEOUT_S = int(os.environ.get("AIGC_JOB_HEARTBEAT_TIMEOUT_S", "120"))
# One publish attempt's hard time limit (the soft one is 3/4 of it). A publication left
# `publishing` longer than PUBLISH_STALE_AFTER_S is taken for a dead worker's and sent
# again, so that must exceed the longest a live attempt can take, or a slow attempt
# still running is posted a second time. Celery enforces the limit under the prefork
# pool only; on any pool an attempt's requests also end within 2/3 of it
# (apps.publishing.connectors.http.attempt_deadline).
PUBLISH_TIME_LIMIT_S = int(os.environ.get("AIGC_PUBLISH_TIME_LIMIT_S", "120"))
PUBLISH_STALE_AFTER_S = int(os.environ.get("AIGC_PUBLISH_STALE_AFTER_S", "600"))
if PUBLISH_STALE_AFTER_S <= PUBLISH_TIME_LIMIT_S:
    raise RuntimeError(
        f"AIGC_PUBLISH_STALE_AFTER_S ({PUBLISH_STALE_AFTER_S}) must exceed "
        f"AIGC_PUBLISH_TIME_LIMIT_S ({PUBLISH_TIME_LIMIT_S}): an attempt still running "
        "would be taken for a dead worker's and posted twice."
    )
PROGRESS_MAX_PER_SECOND = 10


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


# Outbound HTTP from workers (workers/egress.py): loopback, private ranges and anything in
# the listed CIDR networks are refused unless allowed here. The demo and the tests allow
# loopback, where their local servers listen.
EGRESS_ALLOW_LOOPBACK = env_bool("AIGC_EGRESS_ALLOW_LOOPBACK", False)
EGRESS_ALLOW_PRIVATE = env_bool("AIGC_EGRESS_ALLOW_PRIVATE", False)
EGRESS_ALLOW_NETWORKS = env_list("AIGC_EGRESS_ALLOW_NETWORKS")
for _network in EGRESS_ALLOW_NETWORKS:
    ipaddress.ip_network(_network, strict=False)  # a typo fails at start, not at first send
# The worker environment variables an openai model profile may name for its API key.
MODEL_KEY_ENVS = env_list("AIGC_MODEL_KEY_ENVS")
# Generation queues besides `generation` that this deployment runs workers for (gpu-a100…).
GENERATION_QUEUES = env_list("AIGC_GENERATION_QUEUES")
if set(GENERATION_QUEUES) & {q.value for q in Queue}:
    raise RuntimeError("AIGC_GENERATION_QUEUES lists extra generation queues; the platform's "
                       f"own queues ({', '.join(q.value for q in Queue)}) cannot be among them.")
# A read-only folder of models every workspace may use (besides MODELS_DIR/builtin).
SHARED_MODELS_DIR = (Path(os.environ["AIGC_SHARED_MODELS_DIR"]).resolve()
                     if os.environ.get("AIGC_SHARED_MODELS_DIR") else None)

# --- HTTP security. Production is HTTPS (behind a proxy that sets X-Forwarded-Proto);
# plain-http local use sets DJANGO_SECURE_SSL_REDIRECT=false, and the cookies follow it
# (DJANGO_SECURE_COOKIES) unless told otherwise.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # pages and scripts read the token from the form, never the cookie
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", SECURE_SSL_REDIRECT)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Scripts and styles come only from our static files: no inline script, handler or style.
# Images may come from anywhere over https (a draft's preview shows the post's images).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "https:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
