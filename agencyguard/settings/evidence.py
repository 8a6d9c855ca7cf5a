"""Capture and detection."""

from __future__ import annotations

import os
from datetime import timedelta

from agencyguard.settings.env import envbool, envint, envlist

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

# Watched sources (cases/intake/monitor, docs/monitor.md): polled through the same safe
# fetcher and loopback switch as captures, with their own ports, caps and politeness.
MONITOR_ALLOWED_PORTS = [int(port) for port in envlist("MONITOR_ALLOWED_PORTS", "80,443")]
MONITOR_MAX_BYTES = envint("MONITOR_MAX_BYTES", str(10 * 1024 * 1024))
MONITOR_TIMEOUT_S = envint("MONITOR_TIMEOUT_S", "30")
# Per server (name and port), over every agency's sources: at least this long between two
# polls, and at most this many at once.
MONITOR_HOST_MIN_INTERVAL_S = envint("MONITOR_HOST_MIN_INTERVAL_S", "20")
MONITOR_HOST_CONCURRENCY = envint("MONITOR_HOST_CONCURRENCY", "2")
# A poll that started longer ago than this is taken as lost (its worker died).
MONITOR_POLL_LEASE_S = envint("MONITOR_POLL_LEASE_S", "600")
# After n errors in a row the next poll waits interval * 2**n, at most this long.
MONITOR_BACKOFF_MAX_S = envint("MONITOR_BACKOFF_MAX_S", str(24 * 3600))
# Item keys remembered per source (the newest), so an item is processed once.
MONITOR_SEEN_MAX = envint("MONITOR_SEEN_MAX", "5000")
# A sitemap index is followed one level down, to this many child sitemaps (newest first).
MONITOR_SITEMAP_CHILDREN = envint("MONITOR_SITEMAP_CHILDREN", "5")
# A URL template is filled with at most this many artist names per poll.
MONITOR_TEMPLATE_MAX_URLS = envint("MONITOR_TEMPLATE_MAX_URLS", "30")
# The shortest poll interval a source may have, in minutes.
MONITOR_MIN_INTERVAL_MIN = envint("MONITOR_MIN_INTERVAL_MIN", "5")
# A watched item whose media match reference media, a confirmed fake or a partner's signal
# at a PDQ distance of at most this (or as the same file) is a strong match: a source that
# asks for it requests a capture of the new finding (docs/monitor.md).
MONITOR_STRONG_DISTANCE = envint("MONITOR_STRONG_DISTANCE", "10")
# A watched item's video matched by vPDQ is a strong match when at least this share (percent)
# of each video's frames is found in the other (both sides, unlike the match rule, which asks
# it of either side): a whole copy, not a clip of a longer video or the video a clip is from.
MONITOR_STRONG_VPDQ_PERCENT = envint("MONITOR_STRONG_VPDQ_PERCENT", "80")
# Sources queued per sweep of the beat task (the rest wait for the next sweep).
MONITOR_SWEEP_BATCH = envint("MONITOR_SWEEP_BATCH", "200")
