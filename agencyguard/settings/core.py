"""Core Django: apps, middleware, database, authentication, i18n, storage, security, the API."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from agencyguard.settings.env import BASE_DIR, DEBUG, VAR_DIR, envbool, envint, envlist, envrate

# Public: with DEBUG off it (or a weak key) is a system check error (cases.kernel.checks).
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"
SECRET_KEY = os.getenv("SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.getenv("SITE_URL", "http://localhost:8000")

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
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "cases",
    "detection",
    "reports",
]

MIDDLEWARE = [
    # First: every other middleware logs under the request's id (docs/deploy.md "Logs").
    "agencyguard.middleware.RequestIdMiddleware",
    "agencyguard.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CsrfViewMiddleware, which reads the body of every POST (cases.kernel.bodylimit).
    "cases.kernel.bodylimit.BodyLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): did this session pass the second step (django-otp)?
    "django_otp.middleware.OTPMiddleware",
    # A session that passed only the password sees the second step (or enrolment) and nothing
    # else; API tokens never carry a session and are not concerned (docs/deploy.md).
    "cases.agency.middleware.TwoFactorMiddleware",
    "cases.agency.timezones.AgencyTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "agencyguard.middleware.SecurityHeadersMiddleware",
    "axes.middleware.AxesMiddleware",
    # Last, so its process_exception runs first: SQLite's lock timeout is a 503, not a 500.
    "cases.kernel.errors.DatabaseBusyMiddleware",
]

ROOT_URLCONF = "agencyguard.urls"
WSGI_APPLICATION = "agencyguard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # The one way to show a time (`when`...) and words for machine codes, in every template.
            "builtins": ["cases.templatetags.times", "cases.templatetags.labels"],
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

# The client's address behind TRUSTED_PROXY_COUNT reverse proxies that each append to
# X-Forwarded-For (0: no proxy, REMOTE_ADDR as is). One function (cases.kernel.net.clientip)
# answers for the login lockout, the per-address limit and the audit trail alike.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", "0")

# Login throttling (django-axes): an (username, client address) pair is locked after
# AXES_FAILURE_LIMIT failures for an hour, so one client's bad passwords never lock the user
# out for everyone; and one address is locked after LOGIN_ADDRESS_FAILURE_LIMIT failures over
# any user names (password spraying), counted by cases.agency.lockout.LoginLockoutHandler.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
LOGIN_ADDRESS_FAILURE_LIMIT = envint("LOGIN_ADDRESS_FAILURE_LIMIT", "20")
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "cases.agency.lockout.LoginLockoutHandler"
AXES_CLIENT_IP_CALLABLE = "cases.kernel.net.clientip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = envbool("AXES_ENABLED", "1")
AXES_VERBOSE = False

# Two-factor login (django-otp, TOTP plus single-use recovery codes): required for agency
# admins, and for everyone in an agency whose admin switched it on (docs/deploy.md).
OTP_TOTP_ISSUER = "AgencyGuard"
TWO_FACTOR_RECOVERY_CODES = 10

LANGUAGE_CODE = "en"
# The staff interface: English and Korean only (LocaleMiddleware and set_language read this).
LANGUAGES = [("en", _("English")), ("ko", _("Korean"))]
# The public fan report pages only (cases.intake.fan_languages): the languages of the
# fandoms that report, each named in itself for the language switch. They are activated by
# those views alone and never added to LANGUAGES, so a staff page asked for in Japanese
# still answers in English or Korean (docs/fan-reports.md).
FAN_LANGUAGES = [
    ("ko", "한국어"),
    ("en", "English"),
    ("ja", "日本語"),
    ("zh-hans", "简体中文"),
    ("zh-hant", "繁體中文"),
    ("es", "Español"),
    ("id", "Bahasa Indonesia"),
    ("th", "ไทย"),
    ("vi", "Tiếng Việt"),
]
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
    "DEFAULT_FILTER_BACKENDS": ["cases.kernel.api.StrictFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "cases.kernel.api_schema.AgencyAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "cases.kernel.api.StandardPagination",
    # Bodies are JSON (the one file upload, a notice's submission, adds multipart itself):
    # form encodings cannot say null, an empty list or a boolean apart from a string.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # DRF's JSON bytes through orjson where it writes them identically (cases/kernel/
    # renderers.py); the browsable API stays for people trying the API in a browser.
    "DEFAULT_RENDERER_CLASSES": [
        "cases.kernel.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "PAGE_SIZE": 50,
    # Throttles (cases/kernel/throttling.py): per user (session or any token), per token,
    # and per client address for anonymous callers; a refused call is a 429 + Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "cases.kernel.throttling.AnonThrottle",
        "cases.kernel.throttling.UserThrottle",
        "cases.kernel.throttling.TokenThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": envrate("API_THROTTLE_ANON", "30/min"),
        "user": envrate("API_THROTTLE_USER", "600/min"),
        "token": envrate("API_THROTTLE_TOKEN", "300/min"),
        # Each exchange partner's key on its own (cases.matching.api).
        "exchange": envrate("API_THROTTLE_EXCHANGE", "120/min"),
    },
    # X-Forwarded-For entries to trust for an anonymous caller's address: 0 (the default)
    # trusts none; 1 behind the compose reverse proxy.
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
