"""E-mail, takedown notices and reports."""

from __future__ import annotations

import os
from datetime import timedelta

from agencyguard.settings.env import DEBUG, VAR_DIR, envbool, envint, envlist

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
# Admin-edited notice templates render within these limits (cases.notices.services.
# template_limits): characters of output (each piece counted as it is produced, filter
# results too) and milliseconds. A notice is a few kilobytes and renders in milliseconds.
NOTICE_TEMPLATE_MAX_CHARS = envint("NOTICE_TEMPLATE_MAX_CHARS", "1000000")
NOTICE_TEMPLATE_TIMEOUT_MS = envint("NOTICE_TEMPLATE_TIMEOUT_MS", "1000")
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

# Abuse contacts of a finding's host (cases.agency.rdap): RDAP lookups through the capture
# network policy, cached per host and looked up again when older than the maximum age.
# RDAP_BOOTSTRAP_DIR holds the IANA bootstrap files written by `manage.py
# rdap_bootstrap_refresh`; without them the bundled partial copy is used.
RDAP_LOOKUP_MAX_AGE = timedelta(hours=envint("RDAP_LOOKUP_MAX_AGE_H", str(7 * 24)))
RDAP_TIMEOUT_S = envint("RDAP_TIMEOUT_S", "10")
RDAP_ALLOWED_PORTS = [int(port) for port in envlist("RDAP_ALLOWED_PORTS", "443,80")]
RDAP_BOOTSTRAP_DIR = VAR_DIR / "rdap"
# Queue the lookup when a finding is recorded one at a time (staff, API, fan report; not
# bulk imports); the finding page has a button for the others.
RDAP_LOOKUP_ON_RECORD = envbool("RDAP_LOOKUP_ON_RECORD", "1")
# The cross-agency hash exchange (docs/exchange.md): ports a partner's feed may be on, how
# often the beat sweep fetches each subscription, and how many pages one fetch reads.
EXCHANGE_ALLOWED_PORTS = [int(port) for port in envlist("EXCHANGE_ALLOWED_PORTS", "443,80")]
EXCHANGE_FETCH_INTERVAL_S = envint("EXCHANGE_FETCH_INTERVAL_S", "900")
EXCHANGE_MAX_PAGES_PER_FETCH = envint("EXCHANGE_MAX_PAGES_PER_FETCH", "50")
