"""Settings, read from the environment (twelve-factor); see docs/configuration.md."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

_INSECURE_KEY_PREFIX = "django-insecure-"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and os.environ.get("SECRET_KEY_FILE"):
    SECRET_KEY = Path(os.environ["SECRET_KEY_FILE"]).read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off; "
            "bin/run generates one in var/secret_key for local use."
        )
    SECRET_KEY = _INSECURE_KEY_PREFIX + "development-only-key-never-use-in-production"
elif not DEBUG and (
    SECRET_KEY.startswith(_INSECURE_KEY_PREFIX) or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5
):
    raise ImproperlyConfigured("SECRET_KEY is too weak for DEBUG off: use 50+ random characters.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if not DEBUG else "*")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Web apps on other origins call the token-authenticated APIs (/api/, and /1/ as ListenBrainz
# allows); no cookies cross, so the admin's session is never exposed.
CORS_URLS_REGEX = r"^/(api|1)/"
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", "")
CORS_ALLOW_ALL_ORIGINS = not CORS_ALLOWED_ORIGINS
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset-In",
    "X-RateLimit-Reset",
    "Retry-After",
    "Location",
    "ETag",
    "Content-Range",
    "Idempotent-Replayed",
]
# Besides the defaults: conditional playlist changes, retries, byte ranges of audio.
CORS_ALLOW_HEADERS = (*default_headers, "if-match", "if-none-match", "idempotency-key", "range")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "jobs",
    "artifacts",
    "catalog",
    "profiles",
    "recommender",
    "generation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "musicsite.middleware.OptionalTrailingSlashMiddleware",
    "musicsite.middleware.AdminLoginThrottleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "musicsite.urls"
WSGI_APPLICATION = "musicsite.wsgi.application"
ASGI_APPLICATION = "musicsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "musicsite" / "templates"],
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

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL and IMMEDIATE transactions let the web process and a db_worker share the file
    # without "database is locked" errors under normal load.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that worker processes started by tests see the test database;
    # one per test run, so that runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

# Where trained model artifacts live (versioned files; the active version is in the database).
MODEL_ROOT = Path(os.environ.get("MODEL_ROOT", VAR_DIR / "models"))
# Artifacts shipped in the repository (the generator checkpoint), read-only.
SHIPPED_MODEL_ROOT = BASE_DIR / "models"

# Rate-limit counters live in the cache: several web processes must share one (CACHE_DIR on
# one machine, REDIS_CACHE_URL on several), or each process allows the whole rate.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("CACHE_DIR"):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": os.environ["CACHE_DIR"],
        # Past MAX_ENTRIES files it deletes a random third, live counters included.
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
if os.environ.get("REDIS_CACHE_URL"):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_CACHE_URL"],
    }

# Tasks: the database queue by default; TASK_BACKEND=rq for Redis Queue workers on many machines.
TASK_BACKEND = os.environ.get("TASK_BACKEND", "database")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
if TASK_BACKEND == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
elif TASK_BACKEND == "rq":
    INSTALLED_APPS += ["django_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
elif TASK_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
else:
    raise ImproperlyConfigured(
        f"TASK_BACKEND must be 'database', 'rq' or 'immediate', not {TASK_BACKEND!r}"
    )

# A running job refreshes its heartbeat this often; a job whose heartbeat is older than
# JOBS_STALE_AFTER_S is taken to have lost its worker and is re-queued or failed.
JOBS_HEARTBEAT_S = float(os.environ.get("JOBS_HEARTBEAT_S", "5"))
JOBS_STALE_AFTER_S = float(os.environ.get("JOBS_STALE_AFTER_S", "60"))
JOBS_MAX_ATTEMPTS = int(os.environ.get("JOBS_MAX_ATTEMPTS", "3"))
# The worker refits the taste model when listens, feedback or tracks arrived since the last
# fit, at most once per this many seconds; 0 turns it off.
TASTE_RETRAIN_INTERVAL_S = float(os.environ.get("TASTE_RETRAIN_INTERVAL_S", "3600"))
# Taste versions kept on disk: the active one and the newest others as fallbacks (each
# retrain adds one; a served model can take 200 MB).
MODEL_VERSIONS_KEPT = int(os.environ.get("MODEL_VERSIONS_KEPT", "5"))

# Reverse proxies in front of the app: only then is X-Forwarded-For (the client address that
# throttles count) or X-Forwarded-Proto believed; a client could send either itself.
NUM_PROXIES = int(os.environ.get("NUM_PROXIES", "0"))

REST_FRAMEWORK = {
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "musicsite.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "musicsite.api.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("THROTTLE_ANON_RATE", "60/min"),
        "user": os.environ.get("THROTTLE_USER_RATE", "1200/min"),
        "auth": os.environ.get("THROTTLE_AUTH_RATE", "20/min"),
        # MIDI uploads, refused ones too: checking a file can take seconds of CPU.
        "upload": os.environ.get("THROTTLE_UPLOAD_RATE", "60/hour"),
    },
    "EXCEPTION_HANDLER": "musicsite.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "musicsite.schema.ApiAutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Wrong passwords per account and hour from all addresses together (profiles.sign_in).
SIGN_IN_FAILURES_PER_ACCOUNT = int(os.environ.get("SIGN_IN_FAILURES_PER_ACCOUNT", "30"))

SPECTACULAR_SETTINGS = {
    "TITLE": "Musicsite API",
    "DESCRIPTION": (
        "Personalized music recommendation and generation. Authenticate with "
        "`Authorization: Token <key>` (get a key from /api/v1/auth/token/)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public: a stale token a client sends along must not 401 them.
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI assets ship in a package: the docs page works with no network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"StyleEnum": "catalog.midi.style_space.STYLES"},
}

if not DEBUG:
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
    SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
    if NUM_PROXIES:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Generation quotas per user: jobs queued or running at once, and jobs started per day.
# Rendered audio and piano rolls are a cache: the worker trims it to this size, least
# recently used first (an hour of WAV is 317 MB), checking every so often.
RENDER_CACHE_MAX_BYTES = int(os.environ.get("RENDER_CACHE_MAX_BYTES", str(5 * 2**30)))
RENDER_CACHE_PRUNE_INTERVAL_S = float(os.environ.get("RENDER_CACHE_PRUNE_INTERVAL_S", "600"))
UPLOAD_MAX_DAILY = int(os.environ.get("UPLOAD_MAX_DAILY", "100"))
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", str(512 * 2**20)))
IMPORT_MAX_CONCURRENT = int(os.environ.get("IMPORT_MAX_CONCURRENT", "2"))
GENERATION_MAX_CONCURRENT = int(os.environ.get("GENERATION_MAX_CONCURRENT", "2"))
GENERATION_MAX_DAILY = int(os.environ.get("GENERATION_MAX_DAILY", "50"))
# The novelty check re-samples a generated piece this many times at most before failing it.
GENERATION_MAX_RESAMPLES = int(os.environ.get("GENERATION_MAX_RESAMPLES", "5"))
# Candidates sampled per generated piece; the style classifier keeps the most in-style one.
GENERATION_STYLE_CANDIDATES = int(os.environ.get("GENERATION_STYLE_CANDIDATES", "4"))
