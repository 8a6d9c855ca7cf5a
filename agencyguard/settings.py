"""AgencyGuard settings: one file, read from environment variables with safe dev defaults.

Dev defaults (no variable set): SQLite, files under ./var, a Celery broker on the local
filesystem (no Redis). Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY,
ALLOWED_HOSTS and DEBUG=0.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    return os.getenv(name, default).lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(os.getenv(name, default))


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "1")
# Public: with DEBUG off it (or a weak key) is a system check error (cases.kernel.checks).
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"
SECRET_KEY = os.getenv("SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.getenv("SITE_URL", "http://localhost:8000")
VAR_DIR = Path(os.getenv("VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "template_partials",
    "axes",
    "cases",
    "detection",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "agencyguard.middleware.SecurityHeadersMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "agencyguard.urls"
WSGI_APPLICATION = "agencyguard.wsgi.application"

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
                "cases.kernel.context_processors.membership",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", f"sqlite:///{VAR_DIR / 'agencyguard.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", "0"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web process read while the worker writes; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: lock an (username, IP) pair after 5 failures for an hour.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = envbool("AXES_ENABLED", "1")
AXES_VERBOSE = False

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ko", _("Korean"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.getenv("TIME_ZONE", "Asia/Seoul")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"
# No MEDIA_URL on purpose: nothing stored is ever served from a public URL.
# Evidence originals and derived previews go to the default storage: a directory under
# MEDIA_ROOT, or an S3-compatible bucket when AWS_STORAGE_BUCKET_NAME is set (needs the `s3`
# extra: django-storages[s3]). Objects are private and never overwritten (cases.kernel.storage).
AWS_STORAGE_BUCKET_NAME = os.getenv("AWS_STORAGE_BUCKET_NAME", "")
DEFAULT_STORAGE: dict[str, object] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if AWS_STORAGE_BUCKET_NAME:
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": os.getenv("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.getenv("AWS_S3_REGION_NAME") or None,
            "access_key": os.getenv("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.getenv("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "location": os.getenv("AWS_LOCATION", ""),
        },
    }
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["CACHE_URL"],
    }
    if os.getenv("CACHE_URL")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Sessions expire after 8 working hours and when the browser closes.
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", str(8 * 3600))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "0" if DEBUG else "1")
# Probes from inside the container speak plain HTTP to gunicorn (docs/deploy.md).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["cases.kernel.api.IsAgencyMember"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "cases.kernel.api.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {"anon": "30/min", "user": "600/min"},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AgencyGuard API",
    "DESCRIPTION": "Findings, roster and cases of your agency. Every call is scoped to the caller's agency.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Findings and cases both have a `status`: name their enums instead of hashing them.
    "ENUM_NAME_OVERRIDES": {
        "FindingStatusEnum": "cases.intake.models.FindingStatus",
        "CaseStatusEnum": "cases.legal.models.CaseStatus",
        "NoticeStatusEnum": "cases.notices.models.NoticeStatus",
    },
}

# Celery. Dev: a filesystem broker under var/ that needs no server. Prod: redis://...
CELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL", "filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL == "filesystem://":
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Without this kombu writes its exchange files into the current directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
# Progress and results live in our own rows, so no result backend is needed.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "0")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queues by module (the per-task `queue=` attribute is deprecated in Celery 5.5+).
CELERY_TASK_ROUTES = {
    # Before "cases.*": the first match wins.
    "cases.evidence.tasks.capture_*": {"queue": "capture"},
    "cases.evidence.tasks.recheck_*": {"queue": "capture"},
    "detection.*": {"queue": "detection"},
    "reports.*": {"queue": "reports"},
    "cases.*": {"queue": "default"},
}
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 660
CELERY_BEAT_SCHEDULE = {
    "audit-chain-verify": {
        "task": "cases.kernel.audit.tasks.audit_chain_verify_all",
        "schedule": 6 * 3600.0,
    },
    # Every agency's chain head goes to write-once storage (cases.kernel.audit.anchors).
    "audit-anchor": {
        "task": "cases.kernel.audit.tasks.audit_anchor_all_task",
        "schedule": 60.0 * envint("AUDIT_ANCHOR_INTERVAL_MIN", "60"),
    },
    # Queues the re-checks that are due (CAPTURE_RECHECK_INTERVALS); cheap when none are.
    "capture-recheck-due": {
        "task": "cases.evidence.tasks.recheck_due_task",
        "schedule": float(envint("CAPTURE_RECHECK_SWEEP_S", "600")),
    },
    # Re-hash every evidence original once a day; problems go to the log and the audit trail.
    "evidence-verify": {
        "task": "cases.evidence.tasks.evidence_verify_all",
        "schedule": 24 * 3600.0,
    },
    # Jobs whose worker or message was lost are requeued or failed (cases.kernel.jobs):
    # captures, detection runs, dossiers, imports.
    "job-reap-stale": {"task": "cases.kernel.tasks.job_reap_stale_task", "schedule": 300.0},
    # Notice deadlines: reminders before, escalations after (cases.notices.services.deadlines).
    "notice-deadlines-check": {
        "task": "cases.notices.tasks.notice_deadlines_check",
        "schedule": 900.0,
    },
}
# When each periodic task last ran, kept across restarts (`celery beat` defaults to a file
# in the current directory).
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The cases app keeps its tasks per context (autodiscovery finds only `<app>.tasks`).
CELERY_IMPORTS = [
    "cases.kernel.audit.tasks",
    "cases.kernel.tasks",
    "cases.intake.tasks",
    "cases.evidence.tasks",
    "cases.matching.tasks",
    "cases.notices.tasks",
]
# Redis redelivers a message that was taken but not acknowledged (acks_late: a worker that
# died mid-task) after this many seconds. Keep it above the longest task's time limit.
CELERY_BROKER_VISIBILITY_TIMEOUT = envint("CELERY_BROKER_VISIBILITY_TIMEOUT", "3600")
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}

# Intake limits. A bulk import is a CSV or pasted lines, one URL per row.
IMPORT_MAX_BYTES = envint("IMPORT_MAX_BYTES", str(25 * 1024 * 1024))
IMPORT_MAX_ROWS = envint("IMPORT_MAX_ROWS", "200000")
# Background jobs (cases.kernel.jobs): the stale limit of a type that names no setting.
JOB_STALE_AFTER = timedelta(minutes=envint("JOB_STALE_AFTER_MIN", "30"))
# Rows an import processes and commits together (its checkpoint).
IMPORT_CHUNK_SIZE = envint("IMPORT_CHUNK_SIZE", "5000")
# An import commits a chunk (and a heartbeat) every second or so; silent for this long,
# its worker is gone and a redelivered task or the sweep resumes it (cases.kernel.jobs).
IMPORT_STALE_AFTER = timedelta(seconds=envint("IMPORT_STALE_AFTER_S", "120"))
FAN_REPORT_RATE = os.getenv("FAN_REPORT_RATE", "10/h")
# Evidence uploads by staff: largest file, and most pixels an image may claim (Pillow's
# default bomb threshold, enforced explicitly).
EVIDENCE_UPLOAD_MAX_BYTES = envint("EVIDENCE_UPLOAD_MAX_BYTES", str(200 * 1024 * 1024))
EVIDENCE_IMAGE_MAX_PIXELS = envint("EVIDENCE_IMAGE_MAX_PIXELS", "89478485")
# How long an unblurred preview stays reachable after a logged reveal.
EVIDENCE_REVEAL_SECONDS = envint("EVIDENCE_REVEAL_SECONDS", "300")
# Behind a reverse proxy the client address is in a header (e.g. HTTP_X_FORWARDED_FOR);
# without this every fan would share the proxy's rate limit.
if os.getenv("RATELIMIT_IP_META_KEY"):
    RATELIMIT_IP_META_KEY = os.environ["RATELIMIT_IP_META_KEY"]
# Pasted import lists arrive as form fields, not files: allow them up to the import cap.
DATA_UPLOAD_MAX_MEMORY_SIZE = IMPORT_MAX_BYTES + 1024 * 1024

# Capture (cases.capture). The network policy of every visit to a suspect URL; loopback is
# for tests only (a check error with DEBUG off) and never reaches another non-global address.
CAPTURE_ALLOWED_PORTS = [int(port) for port in envlist("CAPTURE_ALLOWED_PORTS", "80,443")]
CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = envbool("CAPTURE_ALLOW_LOOPBACK_FOR_TESTS", "0")
CAPTURE_MAX_PAGE_BYTES = envint("CAPTURE_MAX_PAGE_BYTES", str(25 * 1024 * 1024))
CAPTURE_PAGE_DEADLINE_S = envint("CAPTURE_PAGE_DEADLINE_S", "60")
CAPTURE_CHROMIUM_PATH = os.getenv("CHROMIUM_PATH", "/usr/bin/chromium")
CAPTURE_SCREENSHOT = envbool("CAPTURE_SCREENSHOT", "1")
CAPTURE_VIEWPORT = (
    envint("CAPTURE_VIEWPORT_WIDTH", "1366"),
    envint("CAPTURE_VIEWPORT_HEIGHT", "900"),
)
CAPTURE_SCREENSHOT_MAX_HEIGHT = envint("CAPTURE_SCREENSHOT_MAX_HEIGHT", "16000")
CAPTURE_BROWSER_TIMEOUT_S = envint("CAPTURE_BROWSER_TIMEOUT_S", "30")
CAPTURE_MEDIA_MAX_ITEMS = envint("CAPTURE_MEDIA_MAX_ITEMS", "10")
CAPTURE_MEDIA_MAX_BYTES = envint("CAPTURE_MEDIA_MAX_BYTES", str(50 * 1024 * 1024))
CAPTURE_MEDIA_TOTAL_BYTES = envint("CAPTURE_MEDIA_TOTAL_BYTES", str(200 * 1024 * 1024))
# Each capture's WARC is also packaged as a WACZ (docs/capture.md). With an ECDSA private
# key (PEM file) the WACZ is signed per the WACZ signing recommendation; without, it is not.
CAPTURE_WACZ = envbool("CAPTURE_WACZ", "1")
CAPTURE_WACZ_SIGNING_KEY_FILE = os.getenv("CAPTURE_WACZ_SIGNING_KEY_FILE", "")
# The collecting machine's public address as the operator knows it (behind NAT the socket
# only knows its private one); recorded next to it on every capture when set.
CAPTURE_COLLECTOR_PUBLIC_IP = os.getenv("CAPTURE_COLLECTOR_PUBLIC_IP", "")
# How often a finding in each status is visited again; statuses not listed are not.
CAPTURE_RECHECK_INTERVALS = {
    "captured": timedelta(hours=envint("CAPTURE_RECHECK_CAPTURED_H", "12")),
    "notice_sent": timedelta(hours=envint("CAPTURE_RECHECK_NOTICE_SENT_H", "6")),
    "reappeared": timedelta(hours=envint("CAPTURE_RECHECK_REAPPEARED_H", "6")),
    "removed": timedelta(hours=envint("CAPTURE_RECHECK_REMOVED_H", "24")),
}
CAPTURE_RECHECK_BATCH = envint("CAPTURE_RECHECK_BATCH", "500")
# A removal (404/410/451 or a platform's removal page) moves a finding to "removed" only
# when a second observation at least this many minutes after the first agrees, with no
# live observation between; a return online likewise. The confirming re-check is queued
# by the re-check beat once this time has passed.
CAPTURE_REMOVAL_CONFIRM_MINUTES = envint("CAPTURE_REMOVAL_CONFIRM_MINUTES", "30")
# A running capture whose heartbeat (its progress) is older than this lost its worker: a
# redelivered task resumes it, the sweep requeues or fails it (cases.kernel.jobs). The
# task's hard time limit (330 s) kills any capture long before.
CAPTURE_STALE_AFTER = timedelta(minutes=envint("CAPTURE_STALE_AFTER_MIN", "10"))

# Detection (detection/). C2PA signers are trusted only when they chain to an anchor in this
# PEM bundle (for example the C2PA trust list, downloaded by the operator); without it every
# manifest shows as "signer not on the configured trust list". Nothing is fetched at run time.
C2PA_TRUST_ANCHORS_PEM = os.getenv("C2PA_TRUST_ANCHORS_PEM", "")
# Which registered detector key new runs use ("" = the most recently registered active one).
DETECTION_DETECTOR_KEY = os.getenv("DETECTION_DETECTOR_KEY", "")
DETECTION_MAX_BYTES = envint("DETECTION_MAX_BYTES", str(1024 * 1024 * 1024))
# A running detection run whose heartbeat is older than this lost its worker and is failed
# (not resumed: a file that kills a worker would kill the next; cases.kernel.jobs). Keep it
# above the task's hard time limit (CELERY_TASK_TIME_LIMIT, 660 s) and below the broker's
# visibility timeout.
DETECTION_STALE_AFTER = timedelta(minutes=envint("DETECTION_STALE_AFTER_MIN", "15"))
# Quality gates a detector must pass to become active (detection/gates.py, docs/detection.md):
# held-out items per class, the AUC interval's lower bound, the spread of raw scores (a
# constant model fails) and the slope of the Platt calibration fitted on held-out data.
DETECTION_GATE_MIN_PER_CLASS = envint("DETECTION_GATE_MIN_PER_CLASS", "50")
DETECTION_GATE_AUC_CI_FLOOR = float(os.getenv("DETECTION_GATE_AUC_CI_FLOOR", "0.7"))
DETECTION_GATE_MIN_SCORE_STD = float(os.getenv("DETECTION_GATE_MIN_SCORE_STD", "0.01"))
DETECTION_GATE_SLOPE_MIN = float(os.getenv("DETECTION_GATE_SLOPE_MIN", "0.05"))
DETECTION_GATE_SLOPE_MAX = float(os.getenv("DETECTION_GATE_SLOPE_MAX", "20"))

# E-mail. Dev: each message is written as a file under var/mail (nothing leaves the
# machine). Production: SMTP from EMAIL_HOST etc. (docs/deploy.md).
EMAIL_BACKEND = os.getenv(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = os.getenv("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = os.getenv("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.getenv("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "0")
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", "0")
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", "30")
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "AgencyGuard <noreply@localhost>")

# Takedown notices (cases.notices.services, cases.notices.bases).
NOTICE_FROM_EMAIL = os.getenv("NOTICE_FROM_EMAIL", "")  # "" = DEFAULT_FROM_EMAIL
NOTICE_MESSAGE_ID_DOMAIN = os.getenv("NOTICE_MESSAGE_ID_DOMAIN", "")  # "" = this host's name
# Hours a platform has per legal basis, over the defaults in cases/notices/bases.py, e.g.
# NOTICE_DUE_HOURS="dmca_512c3=48,eu_dsa_16=120". TAKE IT DOWN never exceeds 48.
NOTICE_DUE_HOURS = {
    key.strip(): int(value)
    for key, value in (item.split("=", 1) for item in envlist("NOTICE_DUE_HOURS", ""))
}
NOTICE_REMINDER_BEFORE = timedelta(hours=envint("NOTICE_REMINDER_BEFORE_H", "24"))
NOTICE_NO_RESPONSE_AFTER = timedelta(hours=envint("NOTICE_NO_RESPONSE_AFTER_H", str(14 * 24)))
# Partner webhooks go through the capture network policy (no internal addresses).
WEBHOOK_ALLOWED_PORTS = [int(port) for port in envlist("WEBHOOK_ALLOWED_PORTS", "443,80")]
WEBHOOK_TIMEOUT_S = envint("WEBHOOK_TIMEOUT_S", "15")

# Reports (reports/): dossiers, evidence packets, unblurred annexes. Rendering runs in the
# `reports` queue under these limits; the memory cap is on the address space while one
# dossier builds (restored afterwards). TSA_URL names an RFC 3161 Time-Stamp Authority
# (empty: packets say "not timestamped"); PACKET_SIGNING_KEY is the path of an Ed25519
# private key in PEM (empty: packets are not signed).
REPORTS_SOFT_TIME_LIMIT_S = envint("REPORTS_SOFT_TIME_LIMIT_S", "300")
REPORTS_TIME_LIMIT_S = envint("REPORTS_TIME_LIMIT_S", "330")
REPORTS_MEMORY_LIMIT_MB = envint("REPORTS_MEMORY_LIMIT_MB", "2048")
REPORTS_MAX_ITEMS = envint("REPORTS_MAX_ITEMS", "2000")
# A running dossier whose heartbeat is older than this lost its worker: the redelivered
# task or the sweep builds it again, up to three times (cases.kernel.jobs). Keep it above
# REPORTS_TIME_LIMIT_S and below the broker's visibility timeout.
DOSSIER_STALE_AFTER = timedelta(minutes=envint("DOSSIER_STALE_AFTER_MIN", "15"))
TSA_URL = os.getenv("TSA_URL", "")
TSA_TIMEOUT_S = envint("TSA_TIMEOUT_S", "20")
PACKET_SIGNING_KEY = os.getenv("PACKET_SIGNING_KEY", "")


# Audit chain keys (cases.kernel.audit.keys): AUDIT_HMAC_KEYS="id=secret,id2=secret2" lists every key
# whose events must still verify; new events use AUDIT_HMAC_KEY_ID (default: the last listed).
# Never stored in the database. With DEBUG on and no key, a public development key (id "dev")
# is used; with DEBUG off a missing, short or "dev" key is a system check error.
def _audit_keys(items: list[str]) -> dict[str, str]:
    keys = {}
    for number, item in enumerate(items, start=1):
        key_id, sep, secret = item.partition("=")
        if not sep or not key_id.strip() or not secret.strip():
            # Said at start-up, without echoing the secret: a malformed entry is fatal.
            raise ImproperlyConfigured(
                "AUDIT_HMAC_KEYS must be a comma-separated list of id=secret entries; "
                f"entry {number} has no id or no secret"
            )
        keys[key_id.strip()] = secret.strip()
    return keys


AUDIT_HMAC_KEYS = _audit_keys(envlist("AUDIT_HMAC_KEYS", ""))
if not AUDIT_HMAC_KEYS and DEBUG:
    AUDIT_HMAC_KEYS = {"dev": "agencyguard-development-audit-key-not-a-secret"}
AUDIT_HMAC_KEY_ID = os.getenv("AUDIT_HMAC_KEY_ID", "") or next(reversed(AUDIT_HMAC_KEYS), "")
# Chain-head anchors go to the STORAGES alias "audit_anchors" when a bucket is named for them
# (best: its own bucket with S3 Object Lock, credentials the database host does not hold);
# otherwise to the default storage under audit/anchors/.
AUDIT_ANCHOR_BUCKET = os.getenv("AUDIT_ANCHOR_BUCKET", "")
if AUDIT_ANCHOR_BUCKET:
    STORAGES["audit_anchors"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AUDIT_ANCHOR_BUCKET,
            "endpoint_url": os.getenv("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.getenv("AWS_S3_REGION_NAME") or None,
            "access_key": os.getenv("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.getenv("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "file_overwrite": False,
        },
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
