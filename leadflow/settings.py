"""LeadFlow settings: every knob comes from the environment (or an optional .env).

Defaults run on one machine with nothing installed: SQLite in WAL mode, kombu's
filesystem broker and the built-in sandbox CRMs. DATABASE_URL and CELERY_BROKER_URL
switch to PostgreSQL and Redis/RabbitMQ. Production secrets fail loudly when missing.
"""

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Local state of the embedded setup: the SQLite database, the filesystem broker, mail.
VAR_DIR = Path(env.str("LEADFLOW_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Secrets stored in the database (CRM tokens, API keys) are encrypted with Fernet.
# FIELD_ENCRYPTION_KEYS is a comma-separated list: the first key encrypts, any key
# decrypts (rotate by prepending a new key, run `manage.py secrets_rotate`, then drop
# the old one). In DEBUG a key is derived from SECRET_KEY so a laptop needs nothing.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off.")
    FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
    ]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "reversion",  # versions of a step's configuration (integrations/studio/versions.py)
    "integrations",
]

# The built-in CRM emulators. Off by default in production; `make run` and the tests
# turn them on. Product code never imports them: they are reached over HTTP only.
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
if SANDBOX_ENABLED:
    # integrations.sandbox itself: the templates both sandboxes share.
    INSTALLED_APPS += [
        "integrations.sandbox",
        "integrations.sandbox.keap",
        "integrations.sandbox.highlevel",
    ]

MIDDLEWARE = [
    "integrations.intake.errors.ApiErrorsMiddleware",  # outermost: every API error is JSON
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "leadflow.urls"
WSGI_APPLICATION = "leadflow.wsgi.application"

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

# --- Database -----------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'leadflow.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions
    # take the write lock up front instead of failing half way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    # runserver opens a thread (so a connection) per request: persistent connections
    # are off by default. The Procfile's processes turn them on (DB_CONN_MAX_AGE): the
    # worker's processes and the web server's 16 threads are long-lived, and reopening
    # the file (and its PRAGMAs) for every task or request is wasted work.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The delivery engine's few hot statements are prepared once per PostgreSQL connection
# (SQL PREPARE, integrations.delivery.rows). Turn this off behind a connection pooler
# that hands one session's statements to another connection (PgBouncer in transaction
# mode).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (intake rate limits, sandbox rate windows; OAuth `state` is in the session) --
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://leadflow")}

# --- Auth: django-allauth for staff login (rate limits, TOTP MFA) --------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_ADAPTER = "integrations.auth.StaffOnlyAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "LeadFlow"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/admin/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))  # file backend

# --- I18N / static ------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production defaults; DEBUG relaxes the HTTPS-only ones) --------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
# Beat's record of when each periodic task last ran (the schedule itself is in code).
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Every file of the embedded broker lives under var/ (kombu would otherwise write its
    # exchange table to ./control). A worker polls the folder only while its queue is
    # empty, so a short interval costs little and keeps `make run` quick.
    _broker_dir = VAR_DIR / "broker"
    # The transport needs its folders to exist; they follow LEADFLOW_VAR_DIR.
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": env.float("BROKER_POLLING_INTERVAL", default=0.05),
    }
else:
    # Socket timeouts bound every publish: a broker that hangs (not just one that is
    # down) can delay a wake-up by seconds, never stall intake or a worker for good.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_timeout": 5,
        "socket_connect_timeout": 2,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each task
# unless this is set, and then only every this many tasks (celery.fixups.django;
# celery/celery#9824 explains why it stopped honouring CONN_MAX_AGE). The worker's tasks
# get Django's per-request handling instead (leadflow.celery), which keeps a connection
# for CONN_MAX_AGE and replaces one that failed.
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing happens after the lead is committed; if the broker is down, give up fast
# (the sweeper enqueues the delivery later) rather than hold the intake request.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="leadflow")
CELERY_BEAT_SCHEDULE = {
    # The outbox sweeper: anything due and unclaimed (a lost message, a dead worker)
    # is enqueued again. Safe to overlap: claiming is a conditional UPDATE.
    "sweep-deliveries": {"task": "integrations.tasks.sweep_deliveries", "schedule": 15.0},
    # Idempotency keys are honoured for 24 h; after that the key may be reused.
    "expire-idempotency-keys": {
        "task": "integrations.tasks.expire_idempotency_keys",
        "schedule": timedelta(hours=1),
    },
    # OAuth access tokens expiring within the hour are refreshed ahead of time; one
    # refresh per token generation however often this overlaps with a worker's own.
    "refresh-expiring-tokens": {
        "task": "integrations.tasks.refresh_expiring_tokens",
        "schedule": timedelta(minutes=10),
    },
    # Health: each step's last 24 h against its thresholds (one email per crossing).
    "check-health-alerts": {
        "task": "integrations.tasks.check_health_alerts",
        "schedule": timedelta(minutes=5),
    },
    # Health: yesterday's counters against the raw deliveries, repaired if they differ.
    "reconcile-health-counters": {
        "task": "integrations.tasks.reconcile_health_counters",
        "schedule": crontab(hour=0, minute=30),
    },
    # A replay is driven by a task that hands over to the next; this restarts one a
    # dead worker dropped.
    "resume-replays": {"task": "integrations.tasks.resume_replays", "schedule": 60.0},
    # Retention: payloads, fields and attempt bodies older than RETENTION_DAYS.
    "purge-expired-data": {
        "task": "integrations.tasks.purge_expired_data",
        "schedule": timedelta(hours=6),
    },
}

# --- Health reports -----------------------------------------------------------------------
# Alerts compare each step's last HEALTH_ALERT_WINDOW_HOURS with its thresholds, once it
# has at least HEALTH_ALERT_MIN_DELIVERIES deliveries that reached the CRM in that window.
HEALTH_ALERT_WINDOW_HOURS = env.int("HEALTH_ALERT_WINDOW_HOURS", default=24)
HEALTH_ALERT_MIN_DELIVERIES = env.int("HEALTH_ALERT_MIN_DELIVERIES", default=10)
# Alert emails go to these ("Name <email>, ..."), and to users who may see the dashboard.
ADMINS = [
    (name.strip(), email.strip(" >"))
    for name, _, email in (a.rpartition("<") for a in env.list("ADMINS", default=[]))
]
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="LeadFlow <leadflow@localhost>")

# --- Delivery engine --------------------------------------------------------------------
# Waits before each retry after an error (integrations.delivery.retry): 8 attempts over
# about a day, each wait ±20 %. A step may have its own schedule.
DELIVERY_RETRY_SCHEDULE = env.str("DELIVERY_RETRY_SCHEDULE", default="1m,5m,15m,1h,3h,6h,12h")
# A retry due within this many seconds gets a timed wake-up; later ones are found by the
# sweeper when due (the schedule lives in the database, not in broker countdowns).
DELIVERY_WAKEUP_MAX_COUNTDOWN_SECONDS = env.float(
    "DELIVERY_WAKEUP_MAX_COUNTDOWN_SECONDS", default=60.0
)
# The sweeper re-sends a due delivery only when its last wake-up is older than this:
# a wake-up merely waiting in a busy queue is not lost.
DELIVERY_WAKEUP_LOST_AFTER_SECONDS = env.float("DELIVERY_WAKEUP_LOST_AFTER_SECONDS", default=120.0)
# Auto-pause: an account (or a step) whose deliveries have only failed or errored for
# this long is paused until someone presses Resume. 0 turns auto-pause off.
DELIVERY_AUTOPAUSE_AFTER_SECONDS = env.float("DELIVERY_AUTOPAUSE_AFTER_SECONDS", default=3600.0)
DELIVERY_LEASE_SECONDS = env.int("DELIVERY_LEASE_SECONDS", default=120)
# Deliveries committed within this window in one process share one wake-up message.
DELIVERY_WAKEUP_WINDOW_SECONDS = env.float("DELIVERY_WAKEUP_WINDOW_SECONDS", default=0.02)

# --- CRM rate limits (integrations.delivery.ratelimit) ----------------------------------
# Shared by every worker. Redis when the broker is Redis (or RATELIMIT_REDIS_URL is set),
# else the database (the embedded setup).
RATELIMIT_REDIS_URL = env.str(
    "RATELIMIT_REDIS_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
RATELIMIT_KEY_PREFIX = env.str("RATELIMIT_KEY_PREFIX", default="leadflow:rl:")
# A call whose slot is further away than this does not wait: its delivery is rescheduled.
RATELIMIT_MAX_WAIT_SECONDS = env.float("RATELIMIT_MAX_WAIT_SECONDS", default=1.0)
# Added to each rolling window, so the jitter between reserving a slot and the call
# reaching the CRM never puts one call too many into the CRM's window. Each 0.01 s costs
# 1 % of a 10/s quota; a call held up longer than the guard (a busy machine, a slow
# network) may still meet a 429, which pauses the credential and slows it (README).
RATELIMIT_GUARD_SECONDS = env.float("RATELIMIT_GUARD_SECONDS", default=0.07)
# After a 429 the rate halves (not below RATELIMIT_MIN_FACTOR) and grows back by this
# share of the quota per second; without Retry-After the pause is BACKOFF / rate share.
RATELIMIT_RECOVERY_PER_SECOND = env.float("RATELIMIT_RECOVERY_PER_SECOND", default=0.01)
RATELIMIT_MIN_FACTOR = env.float("RATELIMIT_MIN_FACTOR", default=0.05)
RATELIMIT_BACKOFF_SECONDS = env.float("RATELIMIT_BACKOFF_SECONDS", default=1.0)
RATELIMIT_BACKOFF_MAX_SECONDS = env.float("RATELIMIT_BACKOFF_MAX_SECONDS", default=60.0)

# Replays release deliveries every tick at this share of the account's rate (the rest
# is headroom for live leads); see integrations/replay/pacing.py.
REPLAY_RATE_SHARE = env.float("REPLAY_RATE_SHARE", default=0.8)
REPLAY_TICK_SECONDS = env.float("REPLAY_TICK_SECONDS", default=0.25)
# One task ticks a replay for this long, then hands over to a fresh one.
REPLAY_DRIVE_SECONDS = env.float("REPLAY_DRIVE_SECONDS", default=30.0)
REPLAY_UNPACED_PER_SECOND = 20  # steps without an account: skipped at once, no CRM call

# --- Retention ----------------------------------------------------------------------------
# Lead payloads, normalised fields and attempt bodies are purged after this many days;
# outcomes, reasons, contact ids and the health counters stay.
RETENTION_DAYS = env.int("RETENTION_DAYS", default=90)
RETENTION_BATCH = env.int("RETENTION_BATCH", default=1000)
CRM_CONNECT_TIMEOUT = env.float("CRM_CONNECT_TIMEOUT", default=5.0)
CRM_READ_TIMEOUT = env.float("CRM_READ_TIMEOUT", default=20.0)

# --- Intake -------------------------------------------------------------------------------
INTAKE_MAX_BODY_BYTES = env.int("INTAKE_MAX_BODY_BYTES", default=64 * 1024)
INTAKE_MAX_FIELD_CHARS = env.int("INTAKE_MAX_FIELD_CHARS", default=10_000)
# Checked on the body's text before it is decoded, so no input can exhaust the stack.
INTAKE_MAX_DEPTH = env.int("INTAKE_MAX_DEPTH", default=16)
INTAKE_MAX_VALUES = env.int("INTAKE_MAX_VALUES", default=5_000)
INTAKE_MAX_FIELDS = env.int("INTAKE_MAX_FIELDS", default=500)
INTAKE_MAX_WAIT_SECONDS = 30
DATA_UPLOAD_MAX_MEMORY_SIZE = max(INTAKE_MAX_BODY_BYTES, 2_621_440)

# --- CRM endpoints (DESIGN.md): production by default, the sandbox under `make run` ---
# The sandbox's own fixed credentials (development fakes, not secrets): the demo
# accounts use them when no real CRM credentials are configured.
SANDBOX_KEAP_API_KEY = "KeapAK-sandbox-demo-key"
SANDBOX_KEAP_CLIENT_ID = "leadflow-sandbox-client"
SANDBOX_KEAP_CLIENT_SECRET = "leadflow-sandbox-secret"
SANDBOX_HIGHLEVEL_TOKEN = "pit-sandbox-demo-token"
SANDBOX_HIGHLEVEL_LOCATION_ID = "sandboxLocation00001"
SANDBOX_HIGHLEVEL_CLIENT_ID = "leadflow-sandbox-hl-client"
SANDBOX_HIGHLEVEL_CLIENT_SECRET = "leadflow-sandbox-hl-secret"

PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# With the sandbox on, every CRM endpoint defaults to it; an explicit setting wins, so the
# same demo can point at a real Keap sandbox account or another emulator.
_SANDBOX = f"{PUBLIC_BASE_URL}/sandbox" if SANDBOX_ENABLED else ""
KEAP_AUTHORIZE_URL = env.str(
    "KEAP_AUTHORIZE_URL",
    default=f"{_SANDBOX}/keap/app/oauth/authorize"
    if _SANDBOX
    else "https://accounts.infusionsoft.com/app/oauth/authorize",
)
KEAP_TOKEN_URL = env.str(
    "KEAP_TOKEN_URL",
    default=f"{_SANDBOX}/keap/token" if _SANDBOX else "https://api.infusionsoft.com/token",
)
KEAP_API_BASE_URL = env.str(
    "KEAP_API_BASE_URL",
    default=f"{_SANDBOX}/keap/crm" if _SANDBOX else "https://api.infusionsoft.com/crm",
)
KEAP_CLIENT_ID = env.str("KEAP_CLIENT_ID", default=SANDBOX_KEAP_CLIENT_ID if _SANDBOX else "")
KEAP_CLIENT_SECRET = env.str(
    "KEAP_CLIENT_SECRET", default=SANDBOX_KEAP_CLIENT_SECRET if _SANDBOX else ""
)
HIGHLEVEL_AUTHORIZE_URL = env.str(
    "HIGHLEVEL_AUTHORIZE_URL",
    default=f"{_SANDBOX}/highlevel/oauth/chooselocation"
    if _SANDBOX
    else "https://marketplace.gohighlevel.com/v2/oauth/chooselocation",
)
HIGHLEVEL_TOKEN_URL = env.str(
    "HIGHLEVEL_TOKEN_URL",
    default=f"{_SANDBOX}/highlevel/oauth/token"
    if _SANDBOX
    else "https://services.leadconnectorhq.com/oauth/token",
)
HIGHLEVEL_API_BASE_URL = env.str(
    "HIGHLEVEL_API_BASE_URL",
    default=f"{_SANDBOX}/highlevel" if _SANDBOX else "https://services.leadconnectorhq.com",
)
HIGHLEVEL_CLIENT_ID = env.str(
    "HIGHLEVEL_CLIENT_ID", default=SANDBOX_HIGHLEVEL_CLIENT_ID if _SANDBOX else ""
)
HIGHLEVEL_CLIENT_SECRET = env.str(
    "HIGHLEVEL_CLIENT_SECRET", default=SANDBOX_HIGHLEVEL_CLIENT_SECRET if _SANDBOX else ""
)

# --- Demo data (`manage.py demo_seed`) ----------------------------------------------------
DEMO_API_KEY = env.str("DEMO_API_KEY", default="")
DEMO_KEAP_API_KEY = env.str("DEMO_KEAP_API_KEY", default="")
DEMO_HIGHLEVEL_TOKEN = env.str("DEMO_HIGHLEVEL_TOKEN", default="")
DEMO_HIGHLEVEL_LOCATION_ID = env.str("DEMO_HIGHLEVEL_LOCATION_ID", default="")
# The benchmark's reference views (a bare JSON view and a raw INSERT). Off normally.
BENCH_REFERENCE_VIEWS = env.bool("BENCH_REFERENCE_VIEWS", default=False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # They log request bodies, client secrets and tokens at DEBUG: never below INFO,
        # so turning on debug logging cannot write a secret.
        "requests_oauthlib": {"level": "INFO"},
        "oauthlib": {"level": "INFO"},
    },
}
