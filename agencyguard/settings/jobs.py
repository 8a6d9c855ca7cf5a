"""Background work: Celery, beat, job limits, intake limits."""

from __future__ import annotations

import os
from datetime import timedelta

from agencyguard.settings.env import VAR_DIR, envbool, envint

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
    # Polls of watched sources are network-bound too.
    "cases.intake.tasks.watched_source*": {"queue": "capture"},
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
    # Queues a poll of each watched source that is due (cases/intake/monitor).
    "monitor-poll-due": {
        "task": "cases.intake.tasks.watched_sources_poll_due_task",
        "schedule": float(envint("MONITOR_SWEEP_S", "60")),
    },
    # Re-hash every evidence original once a day; problems go to the log and the audit trail.
    "evidence-verify": {
        "task": "cases.evidence.tasks.evidence_verify_all",
        "schedule": 24 * 3600.0,
    },
    # Jobs whose worker or message was lost are requeued or failed (cases.kernel.jobs):
    # captures, detection runs, dossiers, imports.
    "job-reap-stale": {
        "task": "cases.kernel.tasks.job_reap_stale_task",
        "schedule": float(envint("JOB_REAP_INTERVAL_S", "60")),
    },
    # Messages written while the broker was unreachable are published when it is back
    # (cases.kernel.outbox); sent ones are pruned after OUTBOX_RETENTION_H.
    "outbox-sweep": {
        "task": "cases.kernel.tasks.outbox_sweep_task",
        "schedule": float(envint("OUTBOX_SWEEP_S", "30")),
    },
    # The cross-agency exchange: fetch partners' banks that are due (docs/exchange.md).
    "exchange-fetch-due": {
        "task": "cases.matching.tasks.exchange_fetch_due_task",
        "schedule": float(envint("EXCHANGE_SWEEP_S", "300")),
    },
    # Notice deadlines: reminders before, escalations after (cases.notices.services.deadlines).
    "notice-deadlines-check": {
        "task": "cases.notices.tasks.notice_deadlines_check",
        "schedule": 900.0,
    },
    # The optional daily e-mail digest (cases.work.services.digest): hourly, each opted-in
    # member is queued once a day from DIGEST_HOUR; a re-run the same day sends nothing.
    "work-digest-due": {
        "task": "cases.work.tasks.digest_due_task",
        "schedule": 3600.0,
    },
}
# The local hour (TIME_ZONE) from which the day's digests go out.
DIGEST_HOUR = envint("DIGEST_HOUR", "8")
# When each periodic task last ran, kept across restarts (`celery beat` defaults to a file
# in the current directory).
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The cases app keeps its tasks per context (autodiscovery finds only `<app>.tasks`).
CELERY_IMPORTS = [
    "cases.agency.tasks",
    "cases.kernel.audit.tasks",
    "cases.kernel.tasks",
    "cases.intake.tasks",
    "cases.evidence.tasks",
    "cases.matching.tasks",
    "cases.notices.tasks",
    "cases.work.tasks",
]
# Redis redelivers a message that was taken but not acknowledged (acks_late: a worker that
# died mid-task) after this many seconds. It must stay above the longest hard time limit
# (CELERY_TASK_TIME_LIMIT, 660 s) and the longest countdown a job task is sent with (a busy
# job comes back when its heartbeat would be stale: at most 15 min + 1 s), or a message
# still being worked on or waiting for its ETA is delivered a second time. 1,200 s is both;
# a whole-worker crash does not wait for it (docs/jobs.md).
CELERY_BROKER_VISIBILITY_TIMEOUT = envint("CELERY_BROKER_VISIBILITY_TIMEOUT", "1200")
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
        # A request that publishes while Redis is unreachable fails at once (the outbox
        # keeps the message; its sweep sends it) instead of retrying the connect for
        # seconds. The worker's consumer reconnects under its own retry settings.
        "socket_connect_timeout": 3,
        "max_retries": 0,
    }
# The transactional outbox (cases.kernel.outbox): rows published per batch, and how long a
# sent row is kept (what was sent, when, for which request) before the sweep deletes it.
OUTBOX_BATCH = envint("OUTBOX_BATCH", "200")
OUTBOX_RETENTION = timedelta(hours=envint("OUTBOX_RETENTION_H", "72"))

# Intake limits. A bulk import is a CSV or pasted lines, one URL per row. An uploaded file
# is streamed (spooled to disk past FILE_UPLOAD_MAX_MEMORY_SIZE, decoded, counted and stored
# in chunks: cases.intake.services.import_files), so its limit fits 1,000,000 rows of URLs
# up to about 130 bytes; pasted lines are a form field held in memory, limited apart.
IMPORT_MAX_BYTES = envint("IMPORT_MAX_BYTES", str(128 * 1024 * 1024))
IMPORT_MAX_PASTE_BYTES = envint("IMPORT_MAX_PASTE_BYTES", str(25 * 1024 * 1024))
IMPORT_MAX_ROWS = envint("IMPORT_MAX_ROWS", "1000000")
# Background jobs (cases.kernel.jobs): the stale limit of a type that names no setting.
JOB_STALE_AFTER = timedelta(minutes=envint("JOB_STALE_AFTER_MIN", "30"))
# Rows an import processes and commits together (its checkpoint).
IMPORT_CHUNK_SIZE = envint("IMPORT_CHUNK_SIZE", "5000")
# An import commits a chunk (and a heartbeat) every second or so; silent for this long,
# its worker is gone and a redelivered task or the sweep resumes it (cases.kernel.jobs).
IMPORT_STALE_AFTER = timedelta(seconds=envint("IMPORT_STALE_AFTER_S", "120"))
# The public fan report page: reports per client address in any moving window of the period
# (cases.kernel.ratelimit), and the largest request body it reads (checked before reading,
# cases.kernel.bodylimit): the text fields (about 60 KB at most) plus one optional screenshot
# of at most FAN_SCREENSHOT_MAX_BYTES, with room for the multipart framing.
FAN_REPORT_RATE = os.getenv("FAN_REPORT_RATE", "10/h")
FAN_SCREENSHOT_MAX_BYTES = envint("FAN_SCREENSHOT_MAX_BYTES", str(4 * 1024 * 1024))
FAN_REPORT_MAX_BYTES = envint("FAN_REPORT_MAX_BYTES", str(4 * 1024 * 1024 + 128 * 1024))
# A second report of the same URL by the same reporter (same contact, or without contacts the
# same keyed hash of the client address) within this window is counted on the first report
# instead of creating another (cases.intake.services.fan_reports).
FAN_REPORT_REPEAT_WINDOW = timedelta(hours=envint("FAN_REPORT_REPEAT_WINDOW_H", "168"))
# Where rate limits count: shared by every web process (Redis); memory:// counts per process.
RATE_LIMIT_STORAGE_URL = os.getenv("RATE_LIMIT_STORAGE_URL", "") or (
    os.getenv("CACHE_URL", "") or "memory://"
)
# Evidence uploads by staff: largest file, and most pixels an image may claim (Pillow's
# default bomb threshold, enforced explicitly).
EVIDENCE_UPLOAD_MAX_BYTES = envint("EVIDENCE_UPLOAD_MAX_BYTES", str(200 * 1024 * 1024))
EVIDENCE_IMAGE_MAX_PIXELS = envint("EVIDENCE_IMAGE_MAX_PIXELS", "89478485")
# How long an unblurred preview stays reachable after a logged reveal.
EVIDENCE_REVEAL_SECONDS = envint("EVIDENCE_REVEAL_SECONDS", "300")
# The client's address of every rate limit is cases.kernel.net.clientip's (behind
# TRUSTED_PROXY_COUNT trusted proxies), also for django-ratelimit (password reset).
RATELIMIT_IP_META_KEY = "cases.kernel.net.clientip.client_ip_for_ratelimit"
# Pasted import lists arrive as form fields, not files: allow them up to their cap.
DATA_UPLOAD_MAX_MEMORY_SIZE = IMPORT_MAX_PASTE_BYTES + 1024 * 1024
