"""NanoMon settings: every value comes from the environment (see ``.env.example``).

With no variables set this is the embedded shape: SQLite and an SQLite Celery broker in
``NANOMON_DATA_DIR`` (default ``./var``). ``DATABASE_URL`` switches to PostgreSQL and
``CELERY_BROKER_URL`` to Redis. Bad values stop the process with a message naming the variable.
"""

from __future__ import annotations

import secrets
from email.utils import parseaddr
from pathlib import Path

import dj_database_url

from monitors.netpolicy import network_policy
from nanomon.env import (
    ConfigError,
    data_dir,
    env_bool,
    env_int,
    env_list,
    env_retention,
    env_seconds,
    env_secrets_keys,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "0.1.0"
BUILD_INFO = env_str("NANOMON_BUILD_INFO", "development")

DATA_DIR = data_dir()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, or a random key kept in the data folder so sessions survive restarts."""
    configured = env_str("DJANGO_SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Secrets at rest (docs/security.md): NANOMON_SECRETS_KEY's Fernet keys, the first seals and
# every one opens; unset, one key derived from SECRET_KEY, so every shape works unconfigured.
NANOMON_SECRETS_KEYS, NANOMON_SECRETS_KEY_DERIVED = env_secrets_keys(
    "NANOMON_SECRETS_KEY", SECRET_KEY
)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# Behind a proxy that terminates TLS: trust its X-Forwarded-Proto, so absolute URLs (the
# single sign-on redirect URI, links) say https. Only when the proxy sets that header itself.
if env_bool("NANOMON_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "monitors",
    "results",
    "metrics",
    "alerts",
    "loop",
    "backups",
    "web",
    "accounts",
]

MIDDLEWARE = [
    # /ping/… and /api/push/…: push monitors' pings skip the page middleware (loop/middleware.py).
    "loop.middleware.PingShortcutMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Content-Security-Policy on every response, a nonce per request (web/csp.py).
    "web.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Single sign-on around /login and /logout (inert until a provider is set up).
    "accounts.middleware.SingleSignOnMiddleware",
    "web.middleware.ViewerTimezoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "nanomon.urls"
WSGI_APPLICATION = "nanomon.wsgi.application"

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
                "web.context_processors.nanomon",
            ],
        },
    },
]

# Database: SQLite in the data folder unless DATABASE_URL says otherwise.
_database_url = env_str("DATABASE_URL")
if _database_url:
    try:
        _default_db = dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)
    except ValueError as error:
        raise ConfigError(f"DATABASE_URL is not a database URL: {error}") from None
    if _default_db["ENGINE"] == "django.db.backends.postgresql":
        # A database host that stops answering must fail a request (and /api/health) quickly.
        _default_db.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
else:
    _default_db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "nanomon.sqlite3",
        "OPTIONS": {
            # IMMEDIATE: every transaction takes the write lock at BEGIN, so the dispatcher's
            # claim (read due rows, then advance them) is atomic across processes.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
DATABASES = {"default": _default_db}
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
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Serve static files straight from the app folders in the embedded shape (no collectstatic).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# The dashboard's own sign-in page (web/urls.py), for every page that needs a signed-in user.
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "monitors:list"
LOGOUT_REDIRECT_URL = "web:login"

# The API (docs/api.md). The first class's WWW-Authenticate header makes "not signed in" a
# 401: the bearer class answers "Token" while single sign-on is off, and "Bearer …, Token" once on.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.bearer.BearerTokenAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.DjangoModelPermissions"],
    "DEFAULT_PARSER_CLASSES": ["nanomon.api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "nanomon.api.problems.problem_exception_handler",
}
# Reads (GET) without signing in, as NanoMon allowed; secrets stay masked for anonymous readers.
NANOMON_PUBLIC_READ = env_bool("NANOMON_PUBLIC_READ", False)
SPECTACULAR_SETTINGS = {
    "TITLE": "NanoMon API",
    "DESCRIPTION": "NanoMon-compatible monitors and results API. Errors are RFC 7807 problems.",
    "VERSION": VERSION,
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "nanomon.api.schema.require_response_fields",
        "monitors.api.schema.describe_monitor_definitions",
    ],
    # Interactive docs from local files (drf-spectacular-sidecar): no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Single sign-on (docs/single-sign-on.md): people sign in with an OpenID provider
# (mozilla-django-oidc, accounts.views), programs call the API with its access tokens, checked
# locally (accounts.bearer). Off until a client id is set; AUTH_CLIENT_ID (+ AUTH_TENANT) alone
# is NanoMon's Entra ID setup (accounts.providers).
AUTH_CLIENT_ID = env_str("AUTH_CLIENT_ID")
AUTH_TENANT = env_str("AUTH_TENANT") or "common"
if not all(character.isalnum() or character in ".-" for character in AUTH_TENANT):
    raise ConfigError(f"AUTH_TENANT must be a tenant ID, a domain or common, got {AUTH_TENANT!r}")
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID") or AUTH_CLIENT_ID
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET")
OIDC_DISCOVERY_URL = env_str("OIDC_DISCOVERY_URL")
OIDC_OP_ISSUER = env_str("OIDC_OP_ISSUER")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT")
OIDC_OP_LOGOUT_ENDPOINT = env_str("OIDC_OP_LOGOUT_ENDPOINT")
_oidc_urls = {
    name: value
    for name, value in (
        ("OIDC_DISCOVERY_URL", OIDC_DISCOVERY_URL),
        ("OIDC_OP_ISSUER", OIDC_OP_ISSUER),
        ("OIDC_OP_AUTHORIZATION_ENDPOINT", OIDC_OP_AUTHORIZATION_ENDPOINT),
        ("OIDC_OP_TOKEN_ENDPOINT", OIDC_OP_TOKEN_ENDPOINT),
        ("OIDC_OP_USER_ENDPOINT", OIDC_OP_USER_ENDPOINT),
        ("OIDC_OP_JWKS_ENDPOINT", OIDC_OP_JWKS_ENDPOINT),
        ("OIDC_OP_LOGOUT_ENDPOINT", OIDC_OP_LOGOUT_ENDPOINT),
    )
    if value
}
for _name, _url in _oidc_urls.items():
    if not _url.startswith(("https://", "http://")):
        raise ConfigError(f"{_name} must be an http:// or https:// URL, got {_url!r}")
OIDC_PROVIDER_KIND = "entra" if AUTH_CLIENT_ID and not _oidc_urls else "generic"
_generic_without_issuer = not (OIDC_DISCOVERY_URL or OIDC_OP_ISSUER)
if OIDC_RP_CLIENT_ID and OIDC_PROVIDER_KIND == "generic" and _generic_without_issuer:
    raise ConfigError(
        "OIDC_RP_CLIENT_ID needs OIDC_DISCOVERY_URL or OIDC_OP_ISSUER (or AUTH_CLIENT_ID alone "
        "for Entra ID)"
    )
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile")
if "openid" not in OIDC_RP_SCOPES.split():
    raise ConfigError(f"OIDC_RP_SCOPES must include openid, got {OIDC_RP_SCOPES!r}")
OIDC_DEFAULT_ROLE = env_str("OIDC_DEFAULT_ROLE", "viewer").strip().lower()
if OIDC_DEFAULT_ROLE not in {"viewer", "editor", "admin", "none"}:
    raise ConfigError(
        f"OIDC_DEFAULT_ROLE must be viewer, editor, admin or none, got {OIDC_DEFAULT_ROLE!r}"
    )
OIDC_DEFAULT_ROLE = "" if OIDC_DEFAULT_ROLE == "none" else OIDC_DEFAULT_ROLE
OIDC_CREATE_USER = env_bool("OIDC_CREATE_USER", True)
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM").strip()
# "value=group" pairs (a bare "group" maps the value of the same name); default: the roles.
OIDC_GROUPS_MAP = {}
for _entry in env_list("OIDC_GROUPS_MAP"):
    _value, _, _group = (part.strip() for part in _entry.rpartition("="))
    if not _group:
        raise ConfigError(f"OIDC_GROUPS_MAP entries must be value=group, got {_entry!r}")
    OIDC_GROUPS_MAP[_value or _group] = _group
OIDC_LOCAL_LOGIN = env_bool("OIDC_LOCAL_LOGIN", True)
if not OIDC_LOCAL_LOGIN and not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
    raise ConfigError(
        "OIDC_LOCAL_LOGIN=false needs single sign-on in the browser: set OIDC_RP_CLIENT_ID "
        "(or AUTH_CLIENT_ID) and OIDC_RP_CLIENT_SECRET"
    )
OIDC_API_AUDIENCE = env_list("OIDC_API_AUDIENCE")
OIDC_WRITE_SCOPE = env_str("OIDC_WRITE_SCOPE", "system.admin").strip()
if not OIDC_WRITE_SCOPE or " " in OIDC_WRITE_SCOPE:
    raise ConfigError(f"OIDC_WRITE_SCOPE must be one scope, got {OIDC_WRITE_SCOPE!r}")
_asymmetric = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
OIDC_ALGORITHMS = env_list("OIDC_ALGORITHMS", ",".join(_asymmetric))
if not OIDC_ALGORITHMS or not set(OIDC_ALGORITHMS) <= {*_asymmetric, "EdDSA"}:
    raise ConfigError(
        "OIDC_ALGORITHMS must be asymmetric signing algorithms (RS256, PS256, ES256, EdDSA…), "
        f"got {OIDC_ALGORITHMS}"
    )
OIDC_LEEWAY = env_seconds("OIDC_LEEWAY", "60s", allow_zero=True)
OIDC_JWKS_CACHE_TTL = env_seconds("OIDC_JWKS_CACHE", "1h")
OIDC_JWKS_MIN_REFRESH = env_seconds("OIDC_JWKS_MIN_REFRESH", "30s")
OIDC_TIMEOUT = env_seconds("OIDC_TIMEOUT", "5s")
# mozilla-django-oidc: the code flow with PKCE, through accounts.views; the ID token is kept in
# the session for the provider's logout.
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True
OIDC_AUTHENTICATE_CLASS = "accounts.views.SignInStartView"
OIDC_CALLBACK_CLASS = "accounts.views.SignInCallbackView"
OIDC_OP_LOGOUT_URL_METHOD = "accounts.providers.logout_url"
# Passwords (ModelBackend) unless single sign-on replaces them. The OIDC backend is always
# there and asked first: it answers the permissions a bearer token's scope grants without a
# query (ModelBackend first cost two permission queries per bearer request); it ignores
# username/password sign-ins.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.OidcBackend",
    *(["django.contrib.auth.backends.ModelBackend"] if OIDC_LOCAL_LOGIN else []),
]

# Celery: Redis (or RabbitMQ) from CELERY_BROKER_URL; otherwise the embedded broker, one SQLite
# file in the data folder (nanomon/broker.py), which needs no server and is safe across the
# embedded shape's processes. kombu's file-system transport is refused: it loses messages and
# kills workers (celery/kombu#1551).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "sqlite://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    raise ConfigError(
        "CELERY_BROKER_URL=filesystem:// is not supported: kombu's file-system transport can "
        "hand a worker an empty message and kill it (celery/kombu#1551). Leave CELERY_BROKER_URL "
        "empty for the embedded SQLite broker, or use redis:// or amqp://."
    )
if CELERY_BROKER_URL == "sqlite://":
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "path": str(DATA_DIR / "broker.sqlite3"),
        "polling_interval": 0.1,
        # FULL: a queued message survives a power cut too, not only a crashed process.
        "synchronous": env_str("NANOMON_BROKER_SYNCHRONOUS", "FULL").upper(),
    }
    if CELERY_BROKER_TRANSPORT_OPTIONS["synchronous"] not in {"NORMAL", "FULL"}:
        raise ConfigError(
            "NANOMON_BROKER_SYNCHRONOUS must be NORMAL or FULL, got "
            f"{CELERY_BROKER_TRANSPORT_OPTIONS['synchronous']!r}"
        )
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://", "redis+socket://")):
    # Several NanoMon installations (or test runs) can share one Redis database when each
    # prefixes its keys.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "global_keyprefix": env_str("NANOMON_BROKER_KEY_PREFIX"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("NANOMON_WORKER_PREFETCH", 1, minimum=1)
# Probe batches wait on sockets in an asyncio loop: threads, not forked processes (one
# worker's peak RSS was 133 MB at 10,000 monitors, bench/README.md). `--pool` and
# `--concurrency` on the command line still win.
CELERY_WORKER_POOL = "threads"
CELERY_WORKER_CONCURRENCY = env_int("NANOMON_WORKER_CONCURRENCY", 8, minimum=1)
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker never gives up on a broker that is down (Celery's default exits after 100 attempts,
# about 45 minutes at its 30 s cap): it reconnects once the broker is back (bench/faults.py).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Workers keep their database connection from one task to the next: Celery's Django fixup
# otherwise closes it after every task, so every probe batch paid for a new PostgreSQL
# backend (bench/README.md). It is still recycled about every 100 tasks, and nanomon.celery
# drops an unusable or CONN_MAX_AGE-old one before each task, as Django does per request.
CELERY_DB_REUSE_MAX = 100
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    # loop/tasks.py; the loop's tasks kept their first names (monitors.tasks.*).
    "monitors.tasks.run_probe_batch": {"queue": "probes"},
    # "Test now": never behind the dispatcher's ticks or probe batches in a queue of theirs.
    "monitors.tasks.run_one_off_check": {"queue": "tests"},
    # Deliveries never wait behind probe batches, and a slow SMTP server never delays a probe.
    "alerts.tasks.*": {"queue": "alerts"},
}

# The monitoring loop (see docs/architecture.md).
NANOMON_DISPATCH_EVERY_SECONDS = 1.0
NANOMON_DISPATCH_LIMIT = env_int("NANOMON_DISPATCH_LIMIT", 5000, minimum=1)
NANOMON_DISPATCH_BATCH_SIZE = env_int("NANOMON_DISPATCH_BATCH_SIZE", 50, minimum=1, maximum=5000)
NANOMON_PROBE_CONCURRENCY = env_int("NANOMON_PROBE_CONCURRENCY", 200, minimum=1, maximum=10000)
NANOMON_LEASE_GRACE_SECONDS = env_seconds("NANOMON_LEASE_GRACE", "30s")
# Claim monitors whose slot comes within this time; the worker starts each on its slot, so
# schedule lag is not up to one dispatcher tick (bench/README.md, "schedule lag").
NANOMON_DISPATCH_LOOKAHEAD_SECONDS = env_seconds("NANOMON_DISPATCH_LOOKAHEAD", "2s")
# /api/health and /api/status report degraded when no worker has been seen for this long, or
# when an enabled monitor has been due this long without being claimed (docs/metrics.md, health).
# 0s turns that check off.
NANOMON_HEALTH_WORKER_STALE_SECONDS = env_seconds(
    "NANOMON_HEALTH_WORKER_STALE", "60s", allow_zero=True
)
if 0 < NANOMON_HEALTH_WORKER_STALE_SECONDS < 30:
    raise ConfigError(
        "NANOMON_HEALTH_WORKER_STALE must be 0s (off) or at least 30s: workers write their "
        f"heartbeat every 15s, got {NANOMON_HEALTH_WORKER_STALE_SECONDS:g}s"
    )
NANOMON_HEALTH_MAX_LAG_SECONDS = env_seconds("NANOMON_HEALTH_MAX_LAG", "60s", allow_zero=True)

# The web server (gunicorn.conf.py reads the same variables): threads per web process, so a
# request that waits (a "Test now") never holds a whole process, and gunicorn's timeout.
NANOMON_WEB_THREADS = env_int("NANOMON_WEB_THREADS", 8, minimum=3, maximum=256)
NANOMON_WEB_TIMEOUT_SECONDS = env_seconds("NANOMON_WEB_TIMEOUT", "30s")
# "Test now" (the pages' button, POST /api/monitors/test and /api/monitors/{id}/test) runs on
# a worker (monitors/oneoff.py); the request waits at most this long for its result,
# queueing included, and the check's own timeout is cut to it. It must answer before the web
# server's timeout, with room to spare.
NANOMON_TEST_TIMEOUT_SECONDS = env_seconds("NANOMON_TEST_TIMEOUT", "20s")
if NANOMON_TEST_TIMEOUT_SECONDS > NANOMON_WEB_TIMEOUT_SECONDS - 5:
    raise ConfigError(
        "NANOMON_TEST_TIMEOUT must be at least 5s below NANOMON_WEB_TIMEOUT (the web server's "
        f"timeout, {NANOMON_WEB_TIMEOUT_SECONDS:g}s): a test must answer before the web server "
        f"gives up, got {NANOMON_TEST_TIMEOUT_SECONDS:g}s"
    )
# Tests one user may have running at once (a third: 429).
NANOMON_TEST_PER_USER = env_int("NANOMON_TEST_PER_USER", 2, minimum=1, maximum=100)

# Pings one push token may send per second, on average, in each web process (loop/views.py);
# a burst of up to 4 seconds' worth passes; beyond that: 429 with Retry-After.
NANOMON_PUSH_RATE = env_int("NANOMON_PUSH_RATE", 5, minimum=1, maximum=10_000)

# Where probes, webhooks and "Test now" may connect (docs/monitor-types.md "Probe network policy",
# monitors/netpolicy.py): checked on the addresses actually connected to, every redirect too.
NANOMON_PROBE_ALLOW = env_list("NANOMON_PROBE_ALLOW")
NANOMON_PROBE_DENY = env_list("NANOMON_PROBE_DENY")
NANOMON_PROBE_ALLOW_LINK_LOCAL = env_bool("NANOMON_PROBE_ALLOW_LINK_LOCAL", False)
try:
    network_policy(tuple(NANOMON_PROBE_ALLOW), tuple(NANOMON_PROBE_DENY))
except ValueError as error:  # names the variable and the entry
    raise ConfigError(str(error)) from None

# Alerting (docs/alerting.md). The ALERT_SMTP_* variables configure the built-in email
# channel; it is active once ALERT_SMTP_FROM and ALERT_SMTP_TO are set.
ALERT_SMTP_HOST = env_str("ALERT_SMTP_HOST", "smtp.gmail.com")
ALERT_SMTP_PORT = env_int("ALERT_SMTP_PORT", 587, minimum=1, maximum=65535)
ALERT_SMTP_FROM = env_str("ALERT_SMTP_FROM")
ALERT_SMTP_USERNAME = env_str("ALERT_SMTP_USERNAME") or parseaddr(ALERT_SMTP_FROM)[1]
ALERT_SMTP_PASSWORD = env_str("ALERT_SMTP_PASSWORD")
ALERT_SMTP_TO = env_list("ALERT_SMTP_TO")
if any("@" not in address for address in ALERT_SMTP_TO):
    raise ConfigError(f"ALERT_SMTP_TO must be comma-separated email addresses, got {ALERT_SMTP_TO}")
ALERT_SMTP_SECURITY = env_str(
    "ALERT_SMTP_SECURITY", "tls" if ALERT_SMTP_PORT == 465 else "starttls"
).lower()
if ALERT_SMTP_SECURITY not in {"starttls", "tls", "none"}:
    raise ConfigError(
        f"ALERT_SMTP_SECURITY must be starttls, tls or none, got {ALERT_SMTP_SECURITY!r}"
    )
ALERT_SMTP_VERIFY_TLS = env_bool("ALERT_SMTP_VERIFY_TLS", True)
ALERT_SMTP_CA_BUNDLE = env_str("ALERT_SMTP_CA_BUNDLE")
ALERT_FAIL_COUNT = env_int("ALERT_FAIL_COUNT", 3, minimum=1)
ALERT_RECOVER_COUNT = env_int("ALERT_RECOVER_COUNT", 1, minimum=1)
ALERT_REMINDER_MINUTES = env_int("ALERT_REMINDER_MINUTES", 0, minimum=0)
ALERT_LINK_BASEURL = env_str("ALERT_LINK_BASEURL", "http://localhost:8000")
ALERT_DELIVERY_TIMEOUT = env_seconds("ALERT_DELIVERY_TIMEOUT", "10s")
ALERT_DELIVERY_ATTEMPTS = env_int("ALERT_DELIVERY_ATTEMPTS", 10, minimum=1, maximum=100)
ALERT_RETRY_BASE_SECONDS = env_seconds("ALERT_RETRY_BASE", "30s")
ALERT_SWEEP_INTERVAL_SECONDS = env_seconds("ALERT_SWEEP_INTERVAL", "30s")

# Retention (docs/data.md): raw results kept RESULTS_RETENTION (gosrvmon's Retention; whole
# day partitions dropped on PostgreSQL, batched deletes on SQLite), alert transitions,
# notifications and delivery attempts ALERT_HISTORY_RETENTION. "31d", "744h"; 0: for ever.
RESULTS_RETENTION_SECONDS = env_retention("RESULTS_RETENTION", "31d")
ALERT_HISTORY_RETENTION_SECONDS = env_retention("ALERT_HISTORY_RETENTION", "400d")

# Rollups (docs/rollups.md): day rows kept ROLLUP_RETENTION, hour rows ROLLUP_HOURLY_RETENTION
# (24 h uptime and hourly charts need 2 days at least). "400d", "744h"; 0: for ever.
ROLLUP_RETENTION_SECONDS = env_retention("ROLLUP_RETENTION", "400d")
ROLLUP_HOURLY_RETENTION_SECONDS = env_retention("ROLLUP_HOURLY_RETENTION", "31d")
if 0 < ROLLUP_HOURLY_RETENTION_SECONDS < 2 * 86400:
    raise ConfigError("ROLLUP_HOURLY_RETENTION must be 2d or more (or 0: for ever)")

# The one INFO line the loop writes (docs/deployment.md, "Logs"): runs by status, dispatcher lag
# and monitors down over the last interval, from a few indexed queries. 0s: off.
NANOMON_SUMMARY_INTERVAL_SECONDS = env_seconds("NANOMON_SUMMARY_INTERVAL", "60s", allow_zero=True)

# django_celery_beat's scheduler reads an entry's expiry from "expire_seconds" (whole seconds)
# and ignores Celery's "expires"; extra keys such as "enabled" are columns of its row.
CELERY_BEAT_SCHEDULE = {
    "nanomon-dispatch": {
        "task": "monitors.tasks.dispatch_due_monitors",
        "schedule": NANOMON_DISPATCH_EVERY_SECONDS,
        # A tick nobody took within a few seconds is stale: the next tick claims the same work.
        "options": {"expire_seconds": 5},
    },
    "nanomon-alerts-sweep": {
        "task": "alerts.tasks.sweep_alerts",
        "schedule": ALERT_SWEEP_INTERVAL_SECONDS,
        "options": {"expire_seconds": max(1, round(ALERT_SWEEP_INTERVAL_SECONDS))},
    },
    "nanomon-summary": {
        "task": "metrics.tasks.log_summary",
        # Off (0s) keeps the row but disables it: the scheduler never deletes a row it stored.
        "schedule": NANOMON_SUMMARY_INTERVAL_SECONDS or 60.0,
        "kwargs": {"window_seconds": NANOMON_SUMMARY_INTERVAL_SECONDS or 60.0},
        "options": {"expire_seconds": max(1, round(NANOMON_SUMMARY_INTERVAL_SECONDS or 60.0))},
        "enabled": NANOMON_SUMMARY_INTERVAL_SECONDS > 0,
    },
    # Hourly: day partitions created ahead, expired results dropped (results.partitions).
    "nanomon-results-retention": {
        "task": "results.tasks.results_retention",
        "schedule": 3600.0,
        "options": {"expire_seconds": 3600},
    },
    "nanomon-alert-history-retention": {
        "task": "alerts.tasks.alert_history_retention",
        "schedule": 3600.0,
        "options": {"expire_seconds": 3600},
    },
}

# Prometheus (docs/metrics.md): /metrics when PROMETHEUS_ENABLE (NanoMon's README
# name) or PROMETHEUS_ENABLED (NanoMon's code) is true; optionally behind a token or basic auth.
PROMETHEUS_ENABLED = env_bool("PROMETHEUS_ENABLE", env_bool("PROMETHEUS_ENABLED", False))
PROMETHEUS_BEARER_TOKEN = env_str("PROMETHEUS_BEARER_TOKEN")
PROMETHEUS_BASIC_AUTH = env_str("PROMETHEUS_BASIC_AUTH")
if PROMETHEUS_BASIC_AUTH and ":" not in PROMETHEUS_BASIC_AUTH:
    raise ConfigError("PROMETHEUS_BASIC_AUTH must be user:password")
PROMETHEUS_MULTIPROC_DIR = None
if PROMETHEUS_ENABLED:
    from metrics.multiprocess import multiprocess_dir

    # Decided before prometheus_client is first imported (by django_prometheus, below).
    PROMETHEUS_MULTIPROC_DIR = multiprocess_dir(DATA_DIR)
    INSTALLED_APPS.append("django_prometheus")
    MIDDLEWARE = [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        *MIDDLEWARE,
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ]
    # Query counts and latencies by database (django_db_* families).
    DATABASES["default"]["ENGINE"] = {
        "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
        "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
    }.get(DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])

LOG_LEVEL = env_str("NANOMON_LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ConfigError(f"NANOMON_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {LOG_LEVEL!r}")
# Every process, worker and beat included (nanomon.celery applies this over --loglevel).
# Celery's per-run INFO lines of the once-a-second tick and the other routine tasks are
# dropped (nanomon.logs); WARNING and ERROR lines always pass, and every line at DEBUG.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"routine_tasks": {"()": "nanomon.logs.RoutineTaskFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["routine_tasks"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Their DEBUG lines quote request URLs, which may hold webhook or Apprise tokens.
        "urllib3": {"level": "WARNING"},
        "apprise": {"level": "WARNING"},
    },
}
