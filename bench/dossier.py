"""Dossier and evidence packet of a 60-item case (tests.reports.builders: Hangul and Latin
text, long URLs, items with missing fields): seconds to build each, and the process's peak
resident memory (getrusage; tracemalloc would slow WeasyPrint several-fold).

The dossier is built twice and the second run is reported (the first also builds the
blurred previews, which ingest normally prepares ahead in the background). Files go to a
temporary MEDIA_ROOT, removed afterwards."""

from __future__ import annotations

import resource
import shutil
import tempfile
import time

from common import emit, note, setup_django

setup_django()

from django.db import transaction  # noqa: E402
from django.test import override_settings  # noqa: E402

from cases.agency.services.tenancy import agency_create, membership_create  # noqa: E402
from cases.kernel.models import Role  # noqa: E402
from reports.models import DossierStatus  # noqa: E402
from reports.services import dossier_build, dossier_request  # noqa: E402
from tests.factories import ArtistFactory  # noqa: E402
from tests.reports.builders import build_case  # noqa: E402

ITEMS = 60


def timed_build(case, user, kind):  # type: ignore[no-untyped-def]
    with transaction.atomic():
        dossier = dossier_request(case=case, kind=kind, actor=user)
    # Build in this process (no worker), like the worker would.
    started = time.perf_counter()
    dossier_build(dossier_id=dossier.pk)
    elapsed = time.perf_counter() - started
    dossier.refresh_from_db()
    if dossier.status != DossierStatus.DONE:
        raise SystemExit(f"{kind} failed: {dossier.error}")
    return elapsed, dossier


def main() -> None:
    media_root = tempfile.mkdtemp(prefix="bench-dossier-")
    try:
        with override_settings(MEDIA_ROOT=media_root, CELERY_TASK_ALWAYS_EAGER=False):
            from agencyguard.celery import app

            app.conf.task_always_eager = False
            # No broker in a bench: the request's enqueue is replaced by the direct build.
            import reports.services as services

            services._enqueue = lambda dossier_id: None
            agency = agency_create(name="Bench Dossier Agency", slug="bench-dossier")
            user = membership_create(
                agency=agency, actor=None, username="bench-dossier", email="d@example.test",
                password=None, role=Role.LEGAL,
            ).user  # fmt: skip
            artist = ArtistFactory(agency=agency, stage_name="Yuna", name_hangul="유나")
            case = build_case(agency=agency, actor=user, artists=[artist], items=ITEMS)
            first, _ = timed_build(case, user, "dossier")
            note(f"first dossier (also builds {ITEMS} blurred previews): {first:.1f} s")
            seconds, dossier = timed_build(case, user, "dossier")
            emit("dossier_60_seconds", seconds, "s")
            note(f"{dossier.pdf_size / 1e6:.1f} MB PDF")
            seconds, packet = timed_build(case, user, "packet")
            emit("packet_60_seconds", seconds, "s")
            note(f"{packet.zip_size / 1e6:.1f} MB ZIP (PDF, {ITEMS} originals, manifest, sums)")
            peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            emit("dossier_peak_rss_mb", peak_kb / 1024, "MB")
            note("target: dossier under 10 s")
    finally:
        shutil.rmtree(media_root, ignore_errors=True)


if __name__ == "__main__":
    main()
