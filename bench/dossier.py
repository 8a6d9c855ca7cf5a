"""Dossier and evidence packet of a 60-item case (tests.reports.builders: Hangul and Latin
text, long URLs, items with missing fields): seconds to build each, and the process's peak
resident memory (getrusage; tracemalloc would slow WeasyPrint several-fold).

Beside it, in the same run, a bare WeasyPrint baseline: the dossier's own text (every line
pypdf extracts from the PDF) as plain paragraphs, in the same font and size on the same page
size, no other styling, no tables, no images. Its time is measured right before and right
after the timed dossier and averaged, so the ratio holds on a loaded machine too.

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

BASELINE_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 18mm 14mm; }}
html {{ font-family: "Noto Sans CJK KR", sans-serif; font-size: 9pt; line-height: 1.35; }}
p {{ margin: 0; }}
</style></head><body>
{paragraphs}
</body></html>"""


def dossier_lines(dossier) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    """Every text line of the dossier's PDF, as pypdf extracts it; and its page count."""
    import io

    from django.core.files.storage import default_storage
    from pypdf import PdfReader

    with default_storage.open(dossier.pdf_name, "rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    lines = []
    for page in reader.pages:
        lines.extend(line.strip() for line in page.extract_text().splitlines())
    return [line for line in lines if line], len(reader.pages)


def baseline_render(lines: list[str]) -> tuple[float, int]:
    """Seconds for bare WeasyPrint to lay out and write the same text; and its page count."""
    from html import escape

    from cases.kernel.pdf import HTML

    source = BASELINE_HTML.format(paragraphs="\n".join(f"<p>{escape(line)}</p>" for line in lines))
    started = time.perf_counter()
    document = HTML(string=source).render()
    document.write_pdf()
    return time.perf_counter() - started, len(document.pages)


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
            first, dossier = timed_build(case, user, "dossier")
            note(f"first dossier (also builds {ITEMS} blurred previews): {first:.1f} s")
            lines, pages = dossier_lines(dossier)
            before, baseline_pages = baseline_render(lines)
            seconds, dossier = timed_build(case, user, "dossier")
            after, _ = baseline_render(lines)
            baseline = (before + after) / 2
            emit("dossier_60_seconds", seconds, "s")
            emit("weasyprint_baseline_60_seconds", baseline, "s")
            emit("dossier_vs_weasyprint_baseline", seconds / baseline, "ratio")
            note(
                f"{dossier.pdf_size / 1e6:.1f} MB PDF, {pages} pages; baseline: {len(lines)} "
                f"lines of the same text, {baseline_pages} pages, {before:.1f} s before and "
                f"{after:.1f} s after the dossier"
            )
            seconds, packet = timed_build(case, user, "packet")
            emit("packet_60_seconds", seconds, "s")
            note(f"{packet.zip_size / 1e6:.1f} MB ZIP (PDF, {ITEMS} originals, manifest, sums)")
            peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            emit("dossier_peak_rss_mb", peak_kb / 1024, "MB")
            note("target: dossier under 5 s, beside the bare WeasyPrint baseline")
    finally:
        shutil.rmtree(media_root, ignore_errors=True)


if __name__ == "__main__":
    main()
