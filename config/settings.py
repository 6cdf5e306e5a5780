"""Django settings for the Aisha back office and bot worker.

Every value comes from the environment (or an optional ``.env`` file beside ``manage.py``) through
django-environ; ``.env.example`` documents each variable.
"""

from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment or .env (or DEBUG=true for local development)."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS in production: cookies only over TLS unless told otherwise; behind a TLS-terminating proxy set
# SECURE_PROXY_SSL_HEADER=true (the proxy must set X-Forwarded-Proto) and gunicorn's FORWARDED_ALLOW_IPS.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "config.apps.TasksDatabaseConfig",  # django_tasks_db, under a translated name
    "accounts",
    "billing",
    "promocodes",
    "payments",
    "generations",
    "broadcasts",
    "botworker",
    "adoption",
    "backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files from the web process itself (no separate file server needed).
    "config.static_files.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

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

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# SQLite in the project folder unless DATABASE_URL points elsewhere (postgres://... uses psycopg 3).
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Web processes: a connection per request (or the pool below). The bot worker (runbot) keeps its connection
# between updates instead, up to BOT_CONN_MAX_AGE seconds; after a database restart the update that meets the dead
# connection is retried on a new one (botworker.orm). BOT_CONN_HEALTH_CHECKS: a SELECT 1 before each update instead.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
BOT_CONN_MAX_AGE = env.int("BOT_CONN_MAX_AGE", default=600)
BOT_CONN_HEALTH_CHECKS = env.bool("BOT_CONN_HEALTH_CHECKS", default=False)
# A PostgreSQL connection pool per process (Django's psycopg pool), at most this many connections; 0: no pool.
# Meant for the web processes in webhook mode, where every request runs on its own thread and would otherwise
# open (and close) a connection for each ORM call. Keep CONN_MAX_AGE=0 with it.
DATABASE_POOL_MAX = env.int("DATABASE_POOL_MAX", default=0)
if DATABASE_POOL_MAX and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DATABASE_POOL_MAX}
    # Django gives the pool a connection check only with health checks on: without it, after a PostgreSQL
    # restart the pool hands out its dead connections and the first request(s) of each process fail.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The ledger's one-statement write (billing.services) binds its parameters on the server, so psycopg prepares it
# after a few runs on a connection and PostgreSQL stops parsing and planning it every time (3-4x its cost to
# execute). The ORM binds on the client and never prepares, so nothing else changes. Turn it off behind a
# transaction-mode pgbouncer older than 1.21 (no prepared statements there).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
if DATABASE_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (bot, tests) write at once: wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    # A file (not memory) so that subprocesses started by tests (runbot, db_worker) see the same database.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str("SQLITE_TEST_NAME", default=str(BASE_DIR / "test-db.sqlite3"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="ru")
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Times are stored in UTC (USE_TZ) and shown, in the admin and by the bot, in this zone; the admin names it on
# every page. Days of the stats and of "top-ups today" are days of this zone too.
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = env.str("MEDIA_URL", default="media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# The web process serves MEDIA_URL to logged-in staff only (config.media: users' photos are personal data), unless
# MEDIA_URL is a full URL (a CDN or object store, FILE_STORAGE_BACKEND) or SERVE_MEDIA=false. Behind nginx set
# MEDIA_ACCEL_REDIRECT=/protected-media/: Django checks the login, nginx sends the file (deploy/nginx-aisha.conf).
SERVE_MEDIA = env.bool("SERVE_MEDIA", default="://" not in MEDIA_URL)
MEDIA_ACCEL_REDIRECT = env.str("MEDIA_ACCEL_REDIRECT", default="")

STORAGES = {
    "default": {"BACKEND": env.str("FILE_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Background jobs: Django's Tasks API (django-tasks backport) on the database backend; run `manage.py db_worker`.
TASKS = {
    "default": {
        "BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
# A RUNNING task whose worker is gone is re-queued by the periodic sweep. On PostgreSQL "gone" means the worker's
# session lock is free (for a task that was already running when the server restarted, also older than this many
# seconds, since a restart frees every lock); elsewhere a task running longer than this counts as abandoned.
TASKS_ABANDONED_AFTER = env.int("TASKS_ABANDONED_AFTER", default=3600)
# Never judge a task claimed less than this many seconds ago (its worker takes the lock just after the claim).
TASKS_ABANDONED_GRACE = env.int("TASKS_ABANDONED_GRACE", default=30)

# --- Back office -------------------------------------------------------------------------------------------
# "Adjust balance" for more coins than this (either way) asks a second time, showing the new balance.
ADMIN_ADJUST_CONFIRM_ABOVE = Decimal(env.str("ADMIN_ADJUST_CONFIRM_ABOVE", default="10000"))
# CSV exports: "," writes amounts with a decimal comma (Excel with Russian settings reads them as numbers).
CSV_DECIMAL_SEPARATOR = env.str("CSV_DECIMAL_SEPARATOR", default=",")

# --- Telegram bot -------------------------------------------------------------------------------------------
BOT_TOKEN = env.str("BOT_TOKEN", default="")
BOT_API_URL = env.str("BOT_API_URL", default="https://api.telegram.org")
ADMIN_IDS = [int(x) for x in env.list("ADMIN_IDS", default=[]) if str(x).strip()]
BOT_SUPPORT_CONTACT = env.str("BOT_SUPPORT_CONTACT", default="")
# Webhook mode: Telegram sends this in X-Telegram-Bot-Api-Secret-Token; the endpoint's path derives from it.
# Empty: no webhook endpoint (polling with runbot). 1-256 characters of A-Z, a-z, 0-9, _ and -.
BOT_WEBHOOK_SECRET = env.str("BOT_WEBHOOK_SECRET", default="")
# An update is handled inside its webhook request; past this many seconds the handling is cut off (logged).
BOT_WEBHOOK_TIMEOUT = env.float("BOT_WEBHOOK_TIMEOUT", default=30.0)
# Handled update ids are kept this long for de-duplication (Telegram re-sends for at most ~24 hours).
BOT_PROCESSED_UPDATES_KEEP_HOURS = env.int("BOT_PROCESSED_UPDATES_KEEP_HOURS", default=48)
# Polling: an update whose handling meets an infrastructure failure (the database is down) is tried this many times,
# waiting BOT_UPDATE_RETRY_DELAY seconds after the first failure and twice as long after each next one (at most
# BOT_UPDATE_RETRY_MAX_DELAY), before it is recorded as a failed update for an operator.
BOT_UPDATE_ATTEMPTS = env.int("BOT_UPDATE_ATTEMPTS", default=5)
BOT_UPDATE_RETRY_DELAY = env.float("BOT_UPDATE_RETRY_DELAY", default=1.0)
BOT_UPDATE_RETRY_MAX_DELAY = env.float("BOT_UPDATE_RETRY_MAX_DELAY", default=30.0)
# Broadcasts: messages per second over all workers (Telegram allows about 30), rows claimed per batch, seconds
# one delivery task runs before chaining the next, and after how long a row left "sending" counts as interrupted.
BROADCAST_RATE_PER_SECOND = env.float("BROADCAST_RATE_PER_SECOND", default=30.0)
BROADCAST_BATCH_SIZE = env.int("BROADCAST_BATCH_SIZE", default=50)
BROADCAST_TASK_SECONDS = env.int("BROADCAST_TASK_SECONDS", default=60)
BROADCAST_STALE_SENDING_SECONDS = env.int("BROADCAST_STALE_SENDING_SECONDS", default=600)

# Operator alerts (common.alerts): a Telegram message through the bot to every id in ADMIN_IDS when a broadcast
# pauses on an error, a payment is flagged, the task queue backs up or the provider fails jobs. The same alert is
# not sent again within OPERATOR_ALERTS_DEDUP_SECONDS, and at most OPERATOR_ALERTS_PER_HOUR go out in an hour.
OPERATOR_ALERTS_ENABLED = env.bool("OPERATOR_ALERTS_ENABLED", default=True)
OPERATOR_ALERTS_DEDUP_SECONDS = env.int("OPERATOR_ALERTS_DEDUP_SECONDS", default=3600)
OPERATOR_ALERTS_PER_HOUR = env.int("OPERATOR_ALERTS_PER_HOUR", default=20)
# The periodic queue check alerts when more than this many tasks have waited longer than this many minutes.
TASK_QUEUE_BACKLOG_MINUTES = env.int("TASK_QUEUE_BACKLOG_MINUTES", default=10)
TASK_QUEUE_BACKLOG_THRESHOLD = env.int("TASK_QUEUE_BACKLOG_THRESHOLD", default=50)

# --- FAL AI provider ----------------------------------------------------------------------------------------
FAL_KEY = env.str("FAL_KEY", default="")
FAL_QUEUE_URL = env.str("FAL_QUEUE_URL", default="https://queue.fal.run")
FAL_REST_URL = env.str("FAL_REST_URL", default="https://rest.fal.ai")
FAL_CDN_URL = env.str("FAL_CDN_URL", default="https://v3.fal.media")
FAL_WEBHOOK_BASE_URL = env.str("FAL_WEBHOOK_BASE_URL", default="")
# Turns webhooks on (with the base URL); the endpoint's path derives from it. FAL's Ed25519 signature, checked
# with the keys published at FAL_JWKS_URL, is what authenticates a webhook (generations.fal_signature).
FAL_WEBHOOK_SECRET = env.str("FAL_WEBHOOK_SECRET", default="")
FAL_JWKS_URL = env.str("FAL_JWKS_URL", default="https://rest.alpha.fal.ai/.well-known/jwks.json")
# Result files are fetched only from these hosts ("*.example.com" matches its subdomains) and from the FAL_* URLs
# above, over https (plain http only where a FAL_* URL says so), never from a loopback, private, link-local or
# reserved address unless it lies in FAL_DOWNLOAD_ALLOWED_NETWORKS (CIDRs; empty in production).
FAL_DOWNLOAD_HOSTS = env.list("FAL_DOWNLOAD_HOSTS", default=["fal.media", "*.fal.media"])
FAL_DOWNLOAD_ALLOWED_NETWORKS = env.list("FAL_DOWNLOAD_ALLOWED_NETWORKS", default=[])
# Per-call timeout (s), retries with backoff on 429/5xx/connection errors, and the job poll chain.
FAL_TIMEOUT = env.float("FAL_TIMEOUT", default=30.0)
FAL_RETRIES = env.int("FAL_RETRIES", default=4)
FAL_RETRY_BACKOFF = env.float("FAL_RETRY_BACKOFF", default=0.5)
FAL_POLL_INTERVAL = env.int("FAL_POLL_INTERVAL", default=15)
FAL_TRAINING_FIRST_POLL = env.int("FAL_TRAINING_FIRST_POLL", default=90)
FAL_TRAINING_POLL_INTERVAL = env.int("FAL_TRAINING_POLL_INTERVAL", default=60)
FAL_TRAINING_TIMEOUT = env.int("FAL_TRAINING_TIMEOUT", default=3 * 3600)
FAL_GENERATION_TIMEOUT = env.int("FAL_GENERATION_TIMEOUT", default=15 * 60)
# A job not checked for this long lost its poll chain (a worker restart): sweep_stuck_jobs resumes it.
# Transient provider errors (transport, or answers FAL marks retryable) tolerated in a row before a job fails.
FAL_MAX_TRANSIENT_FAILURES = env.int("FAL_MAX_TRANSIENT_FAILURES", default=10)
FAL_STUCK_AFTER = env.int("FAL_STUCK_AFTER", default=10 * 60)
# Training preset (upstream: fast = 1000 steps at 0.0002).
FAL_TRAINING_STEPS = env.int("FAL_TRAINING_STEPS", default=1000)
FAL_TRAINING_LEARNING_RATE = env.float("FAL_TRAINING_LEARNING_RATE", default=0.0002)

# --- Prices and limits (coins) ------------------------------------------------------------------------------
AVATAR_CREATION_COST = Decimal(env.str("AVATAR_CREATION_COST", default="150"))
IMAGE_GENERATION_COST = Decimal(env.str("IMAGE_GENERATION_COST", default="5"))
# Imagen 4 "by description" (no avatar): the price of one image.
IMAGEN4_GENERATION_COST = Decimal(env.str("IMAGEN4_GENERATION_COST", default="5"))
AVATAR_MIN_PHOTOS = env.int("AVATAR_MIN_PHOTOS", default=10)
AVATAR_MAX_PHOTOS = env.int("AVATAR_MAX_PHOTOS", default=20)
PHOTO_MAX_SIZE = env.int("PHOTO_MAX_SIZE", default=20 * 1024 * 1024)
PHOTO_MIN_RESOLUTION = env.int("PHOTO_MIN_RESOLUTION", default=512)
PHOTO_MAX_RESOLUTION = env.int("PHOTO_MAX_RESOLUTION", default=4096)
MAX_IMAGES_PER_GENERATION = env.int("MAX_IMAGES_PER_GENERATION", default=4)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
