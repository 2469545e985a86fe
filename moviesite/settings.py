"""Settings for moviesite, read from the environment (see .env.example)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# A checkout's local settings: `make install` writes .env (DEBUG on, a fresh SECRET_KEY) once, so `python
# manage.py ...` works without exporting anything. Variables already in the environment win over the file.
# Docker and deploys set MOVIESITE_ENV_FILE to an empty value (the Dockerfile does), so they never read one.
ENV_FILE = os.environ.get("MOVIESITE_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)

# Django's own check (security.W009) asks production keys for 50 characters or more.
MIN_SECRET_KEY_LENGTH = 50


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not DEBUG and len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
    raise ImproperlyConfigured(
        f"Set SECRET_KEY to a random string of at least {MIN_SECRET_KEY_LENGTH} characters "
        "(or DEBUG=1 for local development; `make install` writes both to .env)."
    )
if not SECRET_KEY:
    SECRET_KEY = "django-insecure-local-development-only"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "catalog",
    "recommender",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "moviesite.urls"
WSGI_APPLICATION = "moviesite.wsgi.application"

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

# Database: DATABASE_URL when given; otherwise the embedded PostgreSQL in MOVIESITE_PGDATA (default .pgdata/),
# started by our backend on the first connection.
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.config(conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "moviesite.db_backends.embedded",
            "NAME": os.environ.get("MOVIESITE_DB_NAME", "moviesite"),
            "USER": "postgres",
            "PGDATA": str(Path(os.environ.get("MOVIESITE_PGDATA", BASE_DIR / ".pgdata")).resolve()),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            # One test database per test run, so two runs can share the embedded server at once.
            "TEST": {"NAME": f"test_moviesite_{os.getpid()}"},
        }
    }

# Streaming replicas (moviesite/replicas.py): DATABASE_REPLICA_URLS adds one alias per replica; the public's
# catalog reads go to a healthy one, writes and a client's reads right after its own write to the primary.
# Migrations, management commands and tests use the primary only (a replica mirrors it in tests).
for index, url in enumerate(env_list("DATABASE_REPLICA_URLS"), start=1):
    DATABASES[f"replica{index}"] = {
        **dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True),
        "TEST": {"MIRROR": "default"},
    }
if len(DATABASES) > 1:
    DATABASE_ROUTERS = ["moviesite.replicas.ReplicaRouter"]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.common.CommonMiddleware") + 1, "moviesite.replicas.ReadYourWritesMiddleware"
    )
REPLICA_MAX_LAG_SECONDS = float(os.environ.get("REPLICA_MAX_LAG_SECONDS", "10"))
REPLICA_CHECK_SECONDS = float(os.environ.get("REPLICA_CHECK_SECONDS", "5"))
READ_YOUR_WRITES_SECONDS = int(os.environ.get("READ_YOUR_WRITES_SECONDS", "15"))

# Behind PgBouncer in transaction mode (DATABASE_POOLER=transaction) a connection is shared between clients
# from one transaction to the next: no server-side cursors (they outlive a transaction), no prepared statements
# (psycopg prepares a statement after 5 runs; PgBouncer before 1.21 cannot route them), and every per-query
# setting as SET LOCAL inside the transaction that needs it (moviesite/db.py), never a session SET.
DATABASE_POOLER = os.environ.get("DATABASE_POOLER", "").strip().lower()
if DATABASE_POOLER not in {"", "session", "transaction"}:
    raise ImproperlyConfigured("DATABASE_POOLER is 'transaction' (PgBouncer's transaction mode), 'session' or unset.")
if DATABASE_POOLER == "transaction":
    for database in DATABASES.values():
        database["DISABLE_SERVER_SIDE_CURSORS"] = True
        database.setdefault("OPTIONS", {})["prepare_threshold"] = None
else:
    # Elsewhere a connection is one client's, and the statements moviesite.db.fetch_prepared runs are prepared:
    # parsed and planned once per connection. psycopg prepares nothing while the threshold is None (Django's
    # default), and no other statement at this one: Django's cursors bind parameters client-side, which never
    # prepares, and fetch_prepared asks for its own.
    for database in DATABASES.values():
        database.setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)

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
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Production safety when DEBUG is off (`manage.py check --deploy` is clean). Behind a TLS-terminating proxy
# set SECURE_PROXY_SSL_HEADER through the environment of the proxy's choice.
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # `make serve` on plain-HTTP loopback turns these off, or a browser would never send the cookies back.
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Joining the browsers' preload list is a one-way decision for the operator, not a default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_CONTENT_TYPE_NOSNIFF = True
    if env_bool("BEHIND_TLS_PROXY"):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "catalog.api.schema.MovieSiteAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "catalog.api.pagination.MoviePagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Tokens for integrators (`manage.py create_api_token`), the session for the browsable API. Token first, so a
    # request without credentials that needs them is answered 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": os.environ.get("API_ANON_RATE", "600/minute")},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "moviesite API",
    "DESCRIPTION": (
        "Search films, browse the catalog and get similar films. Reading needs no account; anonymous clients are "
        "throttled (429 with Retry-After). Staff create, change and delete films with a token "
        "(`Authorization: Token <key>`, from `manage.py create_api_token USERNAME` or the admin). A write "
        "refreshes the film's search text at once; its vector goes stale until `manage.py embed_movies` runs."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response shapes of a write differ (read-only fields, relations by name).
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "catalog.api.schema.describe_text_rules",
    ],
    # Swagger UI from our own static files: the docs page must work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Embeddings: "local" (all-MiniLM-L6-v2, offline), "openai", or "fake" (deterministic, for plumbing tests).
EMBEDDING_BACKEND = os.environ.get("EMBEDDING_BACKEND", "local")
OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "")
OPENAI_EMBEDDING_MODEL = os.environ.get("OPENAI_EMBEDDING_MODEL", "text-embedding-3-small")
# With the local backend, how search queries are encoded: "onnx" (the same model under ONNX Runtime, fp32: the
# default, the same vectors as torch at a fraction of the time and memory), "onnx-int8" (int8 weights: faster
# still, but it moved one semantic-search figure by 0.007, past the 0.005 bar) or "torch". Chosen by
# benchmarks/encoder_bench.py and search_quality.py (RESULTS.md, issue 16). Film vectors always come from torch.
# The ONNX files are built from the packaged weights by `manage.py build_query_encoder` (run by `make install`)
# into ONNX_CACHE_DIR, outside git, or on first use; ONNX_THREADS is ONNX Runtime's intra-op thread count
# (0: one per core; gunicorn.conf.py sets 2 per worker).
QUERY_ENCODER = os.environ.get("QUERY_ENCODER", "onnx")
ONNX_CACHE_DIR = Path(os.environ.get("ONNX_CACHE_DIR") or BASE_DIR / ".cache" / "onnx")
ONNX_THREADS = int(os.environ.get("ONNX_THREADS", "0"))

# Similar films: how much the quality prior (votes, rating, popularity; 0..1) weighs against similarity
# scaled to 0..1 over the candidates. Tuned by benchmarks/similar_quality.py (see RESULTS.md).
SIMILAR_PRIOR_WEIGHT = float(os.environ.get("SIMILAR_PRIOR_WEIGHT", "0.3"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# -- Hardening (issue 17): bounded cost per request, throttles that hold, graceful database failure ----------
INSTALLED_APPS += ["moviesite"]  # owns the throttles' count table
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "moviesite.middleware.SecurityHeadersMiddleware",
    "moviesite.middleware.DatabaseUnavailableMiddleware",
    "moviesite.middleware.StatementTimeoutMiddleware",
    "moviesite.middleware.ApiBodyLimitsMiddleware",
    *MIDDLEWARE[1:],
]
# Every statement of a web request is stopped after this long (SET LOCAL, so PgBouncer-safe); the admin's
# bulk actions get longer; management commands (imports, embedding) run without a limit.
REQUEST_STATEMENT_TIMEOUT_MS = int(os.environ.get("REQUEST_STATEMENT_TIMEOUT_MS", "5000"))
ADMIN_STATEMENT_TIMEOUT_MS = int(os.environ.get("ADMIN_STATEMENT_TIMEOUT_MS", "60000"))
# In a web server's process (moviesite/wsgi.py sets MOVIESITE_WEB_SERVER) with no pooler in front, every
# connection starts with the public requests' limit, a libpq startup option: no statement of its own, nothing
# per request (a SET LOCAL wrapping each statement in its own transaction was 4 round trips instead of 1).
# Requests that want another limit (the admin, a test) still get it as SET LOCAL; management commands never
# load wsgi.py and run without a limit. Behind PgBouncer a server connection is shared (transaction mode)
# or refuses startup options (session mode), so there every statement keeps its SET LOCAL.
# The same way (a web server, no pooler), the HNSW settings of a search's semantic signal on its first pages
# (catalog.querysets.MIN_EF_SEARCH): moviesite.db.local_settings leaves out what a connection started with,
# so a search needs no transaction and SET LOCAL of its own (BEGIN, set_config, COMMIT: three round trips).
# Other values (similar films' wider pool, deep pages, benchmarks) still come as SET LOCAL. pgvector's
# settings are kept as placeholders until the extension loads in the session, which then takes their values.
CONNECTION_STATEMENT_TIMEOUT_MS = 0
CONNECTION_SETTINGS: dict[str, str] = {}
if env_bool("MOVIESITE_WEB_SERVER") and not DATABASE_POOLER:
    CONNECTION_STATEMENT_TIMEOUT_MS = REQUEST_STATEMENT_TIMEOUT_MS
    CONNECTION_SETTINGS = {"hnsw.ef_search": "200", "hnsw.iterative_scan": "relaxed_order"}
    startup = {"statement_timeout": str(CONNECTION_STATEMENT_TIMEOUT_MS)} if CONNECTION_STATEMENT_TIMEOUT_MS else {}
    startup.update(CONNECTION_SETTINGS)
    for database in DATABASES.values():
        options = database.setdefault("OPTIONS", {})
        given = options.get("options", "")
        options["options"] = " ".join([given, *(f"-c {name}={value}" for name, value in startup.items())]).strip()
# What a 503 (database down, or a statement stopped by the timeout) tells the client to wait, in seconds.
DATABASE_RETRY_AFTER = int(os.environ.get("DATABASE_RETRY_AFTER", "5"))
# Proxies in front that append to X-Forwarded-For (nginx, a load balancer): the client's address is the
# entry the outermost one added. 0 = no proxy, X-Forwarded-For is ignored (anyone can write it).
NUM_PROXIES = int(os.environ.get("NUM_PROXIES", "0"))
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["moviesite.throttling.SharedAnonRateThrottle"]
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "catalog.api.parsers.BoundedJSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]
REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"] = ["catalog.api.permissions.ModelPermissionsOrReadOnly"]
# The site's own throttles, per client address, counted in the same shared table as the API's.
SITE_THROTTLE_RATES = {
    "search": os.environ.get("SITE_SEARCH_RATE", "120/minute"),
    "favourite": os.environ.get("SITE_FAVOURITE_RATE", "60/minute"),
}
# Sessions (a visitor's favourites, a staff login) live in a signed cookie: an anonymous POST cannot grow a
# table, and there is nothing for clearsessions to clean.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_HTTPONLY = True
# Bodies and forms: the largest legitimate body is a ratings export upload; the API's JSON bodies are small.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440))
API_JSON_MAX_BYTES = int(os.environ.get("API_JSON_MAX_BYTES", 2_097_152))
API_JSON_MAX_DEPTH = 32
# Content-Security-Policy: scripts and styles from the app only (style attributes allowed: the posters' hue),
# images from the app and any https: host (dataset posters). The API docs (Swagger UI from our own static
# files) need inline styles and data: images.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' https:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
CONTENT_SECURITY_POLICY_API_DOCS = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
API_DOCS_PATHS = ("/api/docs/",)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)

# Accounts on the site (catalog/account_views.py): where log-in sends a user, and where log-out lands.
LOGIN_URL = "catalog:login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "catalog:home"
