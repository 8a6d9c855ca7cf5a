"""Capture throughput on the local test site: whole captures (fetch, HTML, headers, media,
WARC, and the WACZ for capture_with_wacz_per_min, Evidence ingest with custody and audit) through the real service, run in this
process as one worker would run them, with and without the Chromium screenshot. Follow-up
work that other workers do (previews, PDQ, detection) is not queued, so it is not counted.

The site (tests/capture/capture_site.py) is served on the loopback interface behind a fake
public address, so the numbers measure our pipeline, not the internet. One browser is kept
per worker process, as in production; the first capture pays for starting it."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from unittest import mock

# Evidence blobs of the bench go to a scratch directory, never to var/media; it goes away
# however the script ends (an import or set-up error included).
os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="ag-bench-capture-")
atexit.register(shutil.rmtree, os.environ["VAR_DIR"], ignore_errors=True)

from common import emit, note, percentile, setup_django  # noqa: E402

setup_django()

from django.conf import settings  # noqa: E402

from agencyguard.celery import app as celery_app  # noqa: E402
from cases.agency.services.tenancy import agency_create, membership_create  # noqa: E402
from cases.evidence.models import CaptureStatus, Evidence  # noqa: E402
from cases.evidence.services.captures import capture_request, capture_run  # noqa: E402
from cases.intake.services.findings import finding_record  # noqa: E402
from cases.kernel.models import Role  # noqa: E402
from tests.capture.capture_site import FakeNetwork, SuspectSite, site_url  # noqa: E402

WITH_SCREENSHOT = int(os.getenv("BENCH_CAPTURES", "12"))
WITHOUT_SCREENSHOT = int(os.getenv("BENCH_CAPTURES_NO_SCREENSHOT", "40"))


def capture_once(label: str, n: int, agency, user, network: FakeNetwork) -> float:  # type: ignore[no-untyped-def]
    finding, _ = finding_record(agency=agency, url=site_url(f"/page?{label}={n}"), actor=user)
    started = time.perf_counter()
    capture = capture_request(finding=finding, actor=user)
    capture = capture_run(capture_id=capture.pk, **network.kwargs)
    elapsed = time.perf_counter() - started
    assert capture is not None and capture.status == CaptureStatus.DONE, capture and capture.error
    has_wacz = Evidence.objects.filter(capture=capture, kind="wacz").exists()
    assert has_wacz == settings.CAPTURE_WACZ, f"capture {capture.pk}: WACZ {has_wacz}"
    return elapsed


def run(label: str, count: int, agency, user, network: FakeNetwork) -> list[float]:  # type: ignore[no-untyped-def]
    return [capture_once(label, n, agency, user, network) for n in range(count)]


def run_interleaved(
    count: int, agency, user, network: FakeNetwork
) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """Full captures with and without the WACZ step, alternating, so that both see the
    same machine load and the same warm browser."""
    without, with_wacz = [], []
    for n in range(count):
        for wacz, sink in ((False, without), (True, with_wacz)):
            settings.CAPTURE_WACZ = wacz
            sink.append(capture_once(f"full-wacz-{int(wacz)}", n, agency, user, network))
    return without, with_wacz


def report(suffix: str, seconds: list[float], name: str = "capture_per_min") -> None:
    per_min = 60 * len(seconds) / sum(seconds)
    emit(f"{name}{suffix}", per_min, "captures/min")
    emit(f"{name.removesuffix('_per_min')}_seconds_p50{suffix}", percentile(seconds, 50), "s")


def main() -> None:
    agency = agency_create(name="Bench Capture Agency", slug="bench-capture")
    user = membership_create(
        agency=agency, actor=None, username="bench.capture", email="capture@bench.example",
        password=None, role=Role.LEGAL,
    ).user  # fmt: skip
    site = SuspectSite().start()
    network = FakeNetwork(site.port)
    settings.CAPTURE_ALLOWED_PORTS = [80, 443]
    # This process is the worker: nothing goes to a broker (follow-up tasks such as
    # previews, PDQ or detection are other workers' work and are not measured).
    no_queue = mock.patch.object(celery_app, "send_task")
    no_queue.start()
    try:
        settings.CAPTURE_SCREENSHOT = False
        settings.CAPTURE_WACZ = False
        plain = run("plain", WITHOUT_SCREENSHOT, agency, user, network)
        note(f"without screenshot: {len(plain)} captures, p95 {percentile(plain, 95):.2f}s")
        report("_no_screenshot", plain)

        if shutil.which(settings.CAPTURE_CHROMIUM_PATH):
            settings.CAPTURE_SCREENSHOT = True
            # Starts the browser and loads the WACZ code, once per worker: not counted.
            settings.CAPTURE_WACZ = True
            capture_once("warm-up", 0, agency, user, network)
            full, with_wacz = run_interleaved(WITH_SCREENSHOT, agency, user, network)
            note(
                f"with screenshot: {len(full)} captures without and {len(with_wacz)} with the "
                f"WACZ step, interleaved; p95 {percentile(full, 95):.2f}s / "
                f"{percentile(with_wacz, 95):.2f}s"
            )
            # capture_per_min: the whole capture as before (screenshot, WARC, no WACZ);
            # capture_with_wacz_per_min: the same with the WACZ built and stored too.
            report("", full)
            report("", with_wacz, "capture_with_wacz_per_min")
        else:
            note(f"no Chromium at {settings.CAPTURE_CHROMIUM_PATH}: full captures not measured")
        stored = Evidence.objects.filter(agency=agency).count()
        note(f"evidence rows: {stored} (identical HTML and media are stored once)")
    finally:
        no_queue.stop()
        site.stop()


if __name__ == "__main__":
    main()
