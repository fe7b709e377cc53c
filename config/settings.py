"""Settings for the annotation platform, read from environment variables.

Defaults are the embedded set-up for a laptop (`make run`): SQLite and a file-system Celery broker
under var/. DATABASE_URL and CELERY_BROKER_URL switch to PostgreSQL and Redis.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url

from config.env import (
    ImproperlyConfiguredEnv,
    env_bool,
    env_choice,
    env_email_url,
    env_int,
    env_list,
    env_networks,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfiguredEnv("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# HTTPS=1 when users reach the site over TLS (a proxy in front, or gunicorn's own certificate):
# secure cookies, a redirect from http and HSTS, all that `manage.py check --deploy` asks for.
HTTPS = env_bool("HTTPS", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    # Only behind a proxy that sets X-Forwarded-Proto itself, replacing the client's: otherwise a
    # client could claim https.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
# A year, as check --deploy wants; start lower (SECURE_HSTS_SECONDS=300) while trying HTTPS out:
# browsers remember it. Preload only matters once the domain is submitted to the preload list.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 60 * 60 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)

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
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as static files: the docs page needs no CDN
    "axes",  # one failed-login limit for the login page, the API login and the admin
    # The project's apps, lowest layer first (docs/development.md; contracts in .importlinter):
    "core",
    "accounts",
    "annotation",
    "scoring",
    "reading",
    "backup",
]

MIDDLEWARE = [
    "config.health.health_middleware",  # first: /healthz answers plain http from any host
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.csp.SitePolicyCSPMiddleware",  # django-csp's; after whitenoise, as is the next: not on static files
    "core.headers.security_headers_middleware",  # Permissions-Policy; Cache-Control: no-store
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.uploads.RequestBoundsMiddleware",  # before the first reader of a form body (CSRF)
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the lockout answer
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except ValueError as exc:
    raise ImproperlyConfiguredEnv(f"DATABASE_URL is not a database URL: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, also under test, so that a Celery worker process can open the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    # A page cache of 64 MB a connection instead of SQLite's 2 MB: a study of 100,000 cases does not
    # fit in 2 MB, and every reading page then read its index pages from the file again
    # (bench/reading_next_case.py).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA cache_size = -65536;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The statements of every rater request (core/prepared.py) are prepared once a connection, so
    # PostgreSQL no longer parses and plans them for each request. The ORM's other statements are
    # never prepared. Off (DATABASE_PREPARED_STATEMENTS=0) behind a proxy that pools by transaction
    # (PgBouncer before 1.21), where the next statement may reach another server session.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        0 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Failed logins, counted by django-axes in the database for every entry point (the login page, the
# API's auth/login/, the admin): a username, or a client address, with this many failures locks
# further tries out for the window (seconds); the window does not restart while locked out.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
LOGIN_FAILURE_WINDOW_S = env_int("LOGIN_FAILURE_WINDOW_S", 15 * 60, minimum=1)
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_FAILURE_WINDOW_S)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching the limit locks
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "accounts.network.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.locked_out"
AXES_VERBOSE = False
# Proxies whose X-Forwarded-For is believed (addresses or networks, e.g. 10.0.0.0/8): the client's
# address for the login limit and the API throttles is then the one they forwarded.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES", [])
# Invitations and password resets: a link valid this long (Django's token generator, single use).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 60 * 60, minimum=60)
# Links in e-mails (invitations, resets from the command line) start with this.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# E-mail: EMAIL_URL=smtp://user:password@host:587?tls=1 (or smtps://, console://, locmem://).
# The console backend by default, so `make run` prints invitation and reset e-mails.
_email = env_email_url("EMAIL_URL", "console://")
EMAIL_BACKEND = _email.backend
EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = _email.host, _email.port, _email.user, _email.password
EMAIL_USE_TLS, EMAIL_USE_SSL = _email.use_tls, _email.use_ssl
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "CXR severity <noreply@localhost>")
# A session ends after a working day, and when the browser closes: reading rooms are shared machines.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 60 * 60, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", True)
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The image collects static files into its own folder, outside any volume that could hide them.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG  # serve static/ directly in development; `collectstatic` for production
# Media is never served by URL: images reach users only through views that check blinding.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Production serves hashed, compressed static files (whitenoise); they exist only after
# `manage.py collectstatic`, which the Docker image runs at build time.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
# Media on a local folder (a shared volume or NFS mount when workers run on other machines), or in
# an S3-compatible bucket (django-storages), private: files are read only through the views.
MEDIA_STORAGE = env_str("MEDIA_STORAGE", "filesystem")
if MEDIA_STORAGE == "filesystem":
    _media_storage: dict = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif MEDIA_STORAGE == "s3":
    import importlib.util

    if importlib.util.find_spec("storages") is None:
        raise ImproperlyConfiguredEnv("MEDIA_STORAGE=s3 needs django-storages and boto3 installed")
    if not env_str("AWS_STORAGE_BUCKET_NAME", ""):
        raise ImproperlyConfiguredEnv("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME", ""),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,  # e.g. MinIO, Ceph
            "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
            # Unset: boto3's own chain (instance role, ~/.aws); never written into settings files.
            "access_key": env_str("AWS_ACCESS_KEY_ID", "") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY", "") or None,
            "default_acl": None,  # the bucket's policy: private
            "querystring_auth": True,
            "file_overwrite": False,  # a second upload of the same name gets a new name, as on disk
        },
    }
else:
    raise ImproperlyConfiguredEnv(f"MEDIA_STORAGE={MEDIA_STORAGE!r} is not one of filesystem, s3")
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# The default cache holds the API's login and token throttles: with several gunicorn processes or
# machines it must be shared (CACHE_URL=redis://...), or each process counts on its own.
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL:
    raise ImproperlyConfiguredEnv(f"CACHE_URL={CACHE_URL!r} is not a redis:// URL")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Request bounds (core/uploads.py): refused with 413 while the body is read, before anything is
# stored. Many images travel best as one .zip; `manage.py import_images` has no request limits.
UPLOAD_MAX_REQUEST_BYTES = env_int("UPLOAD_MAX_REQUEST_BYTES", 2 * 1024 * 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("DATA_UPLOAD_MAX_NUMBER_FILES", 100, minimum=1)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "core.uploads.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# A JSON body to the API, at most (core.parsers.BoundedJSONParser); forms use DATA_UPLOAD_MAX_MEMORY_SIZE.
API_MAX_JSON_BYTES = env_int("API_MAX_JSON_BYTES", 1024 * 1024, minimum=1024)
API_MAX_JSON_DEPTH = 32
# The original images a study may hold, in bytes (0: no quota). Checked when an upload arrives and
# again for each image a worker imports (archives grow when unpacked).
STUDY_STORAGE_QUOTA_BYTES = env_int("STUDY_STORAGE_QUOTA_BYTES", 50 * 1024**3, minimum=0)

# Ingest limits: a file or archive above them is rejected with a reason, never decoded.
IMPORT_MAX_IMAGE_PIXELS = env_int("IMPORT_MAX_IMAGE_PIXELS", 60_000_000, minimum=1)
IMPORT_MAX_FILE_BYTES = env_int("IMPORT_MAX_FILE_BYTES", 200 * 1024 * 1024, minimum=1)
IMPORT_MAX_ARCHIVE_BYTES = env_int("IMPORT_MAX_ARCHIVE_BYTES", 4 * 1024 * 1024 * 1024, minimum=1)
IMPORT_MAX_ARCHIVE_MEMBERS = env_int("IMPORT_MAX_ARCHIVE_MEMBERS", 20_000, minimum=1)
DISPLAY_MAX_SIDE = env_int("DISPLAY_MAX_SIDE", 2048, minimum=64)
# The memory one image may take to decode, above what the process holds (core/memory.py); 0: no ceiling.
IMPORT_DECODE_MEMORY_BYTES = env_int("IMPORT_DECODE_MEMORY_MB", 1536, minimum=0) * 1024 * 1024
# A DICOMweb archive (Orthanc, a PACS) to import cases from and send score reports to (docs/dicom.md):
# its base URL (".../dicom-web"), HTTP basic credentials, and how long one request may take.
DICOMWEB_URL = env_str("DICOMWEB_URL", "")
DICOMWEB_USERNAME = env_str("DICOMWEB_USERNAME", "")
DICOMWEB_PASSWORD = env_str("DICOMWEB_PASSWORD", "")
DICOMWEB_TIMEOUT_S = env_int("DICOMWEB_TIMEOUT_S", 30, minimum=1)

# Celery. The default broker is kombu's file-system transport: no server needed on a laptop.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_DIR = VAR_DIR / "celery" / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR),
        "data_folder_out": str(CELERY_BROKER_DIR),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
    # kombu's file-system transport expects its folders to exist, in the web process and workers.
    for _folder in ("data_folder_in", "processed_folder", "control_folder"):
        Path(CELERY_BROKER_TRANSPORT_OPTIONS[_folder]).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A worker child that ends a task holding more than this (resident, in KiB) is replaced by a fresh
# one: memory a decoder or torch kept does not pile up. Each image's decoding has its own ceiling too.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("WORKER_MAX_MEMORY_MB", 4096, minimum=64) * 1024
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Time limits in seconds: the soft one raises SoftTimeLimitExceeded in the task, the hard one, 5
# minutes later, kills the process. Model tasks (pre-scoring a large study, retraining) get longer ones.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("TASK_SOFT_TIME_LIMIT", 60 * 60, minimum=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 5 * 60
MODEL_TASK_SOFT_TIME_LIMIT = env_int("MODEL_TASK_SOFT_TIME_LIMIT", 6 * 60 * 60, minimum=1)
MODEL_TASK_TIME_LIMIT = MODEL_TASK_SOFT_TIME_LIMIT + 5 * 60
# A worker that loses the broker cancels its acks_late tasks: Redis hands them out again anyway.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# On SIGQUIT (compose's stop_signal) a worker lets running tasks finish for this long, then cancels
# them and puts them back on the queue, instead of leaving them invisible until visibility_timeout.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 60.0
# Model work runs on its own queue so that a long retrain never delays imports or reports.
CELERY_TASK_ROUTES = {
    "scoring.tasks.prescore_study": {"queue": "model"},
    "scoring.tasks.retrain_study": {"queue": "model"},
}
CELERY_TASK_ANNOTATIONS = {
    name: {"soft_time_limit": MODEL_TASK_SOFT_TIME_LIMIT, "time_limit": MODEL_TASK_TIME_LIMIT}
    for name, route in CELERY_TASK_ROUTES.items()
    if route["queue"] == "model"
}
if not CELERY_BROKER_URL.startswith("filesystem://"):
    # Redis redelivers a task not acknowledged within visibility_timeout; with acks_late that is a
    # running one. 1.1x the longest hard time limit, so a task is killed before it is redelivered.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(1.1 * max(CELERY_TASK_TIME_LIMIT, MODEL_TASK_TIME_LIMIT))
    }

# The torchxrayvision backbone: a weights name and the folder its file is read from (None:
# torchxrayvision's own, ~/.torchxrayvision/models_data/). Nothing is downloaded at run time.
SCORING_XRV_WEIGHTS = env_str("SCORING_XRV_WEIGHTS", "densenet121-res224-all")
SCORING_XRV_CACHE_DIR = env_str("SCORING_XRV_CACHE_DIR", "") or None
SCORING_BATCH_SIZE = env_int("SCORING_BATCH_SIZE", 4, minimum=1)
# Where the backbone runs: "auto" (a GPU when torch sees one), "cpu" or "cuda[:N]".
SCORING_DEVICE = env_str("SCORING_DEVICE", "auto")
SCORING_PREPROCESS_THREADS = env_int("SCORING_PREPROCESS_THREADS", 2, minimum=1)
# Images preprocessed (in threads) before each backbone pass; outputs are stored per chunk.
SCORING_CHUNK_SIZE = env_int("SCORING_CHUNK_SIZE", 256, minimum=1)
# Saliency maps, drawn by the pre-score job (a backward pass per case and target) and served as
# files: "assisted" for model-assisted studies, whose aided reads show them; "all"; or "off".
SCORING_SALIENCY = env_choice("SCORING_SALIENCY", "assisted", ["assisted", "all", "off"])
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A job still QUEUED this long after it was created is sent to the broker again (core/jobs.py): by
# Celery beat's periodic task in a worker (`celery worker --beat`, as `make run` and the compose
# file start it), or by `manage.py requeue_jobs`. Never by a page view.
JOB_REQUEUE_AFTER_S = env_int("JOB_REQUEUE_AFTER_S", 5 * 60, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-jobs": {"task": "core.tasks.jobs_requeue_stale", "schedule": max(10.0, JOB_REQUEUE_AFTER_S / 5)},
}
(VAR_DIR / "celery").mkdir(parents=True, exist_ok=True)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")

# REST API under /api/v1/ (config/api_urls.py). Token auth first, so that a request
# without credentials gets 401 with a WWW-Authenticate header rather than 403.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.BoundedJSONParser", "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.api.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    # Password login and token changes; counted in the default cache (per process unless CACHES is shared).
    "DEFAULT_THROTTLE_RATES": {"login": "10/minute", "token": "30/minute"},
    # Counted per client address (accounts.network), never per X-Forwarded-For a client made up.
    "NUM_PROXIES": 0,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CXR severity API",
    "DESCRIPTION": "Blinded chest X-ray severity reader studies. Raters only ever see their own opaque "
    "assignment ids and scores; anything not yours is a 404.",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "StudyStatusEnum": "annotation.models.Study.Status",
        "JobStatusEnum": "core.models.Job.Status",
        "ModelJobKindEnum": "scoring.models.ModelJob.Kind",
        "ImportRowStatusEnum": ["imported", "duplicate", "rejected", "metadata"],
        # Every role a membership has, and the roles one may be given (a removed rater comes only
        # from removing one).
        "MembershipRoleEnum": "annotation.models.StudyMembership.Role",
        "GivenRoleEnum": "annotation.permissions.GIVEN_ROLES",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # pydicom's warnings can quote tag values, patient names included: keep them out of the logs.
    "loggers": {
        "pydicom": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
        # One INFO line per DICOMweb request and per attribute module copied, naming UIDs: not for the logs.
        "dicomweb_client": {"level": "WARNING"},
        "highdicom": {"level": "WARNING"},
    },
}

# Headers on every page, image and API answer (docs/deploying.md, "Headers"). Content Security
# Policy (django-csp): scripts, styles, fonts and fetches from this site's own files only, never
# inline (tests/test_security_headers_on_every_response.py scans the templates for inline script
# and handlers), no plugins, no <base>, no framing, forms sent here only. Images may also be data:
# URLs: the report's figures are SVG images inlined that way, and so are Swagger UI's icons.
# core/headers.py adds Permissions-Policy (every browser feature off) and Cache-Control: no-store.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
