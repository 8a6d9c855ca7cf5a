"""HTML to PDF with WeasyPrint, through the locked-down fetcher (reports.fetcher).

The HTML comes from Django templates with autoescaping on: user-supplied text (URLs,
names, notes, headers) is text in the PDF, never markup, CSS or a resource to load."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from cases.kernel.gcpause import collections_paused
from cases.kernel.pdf import HTML
from reports.context import DossierContext
from reports.fetcher import LockedFetcher, PreviewSource
from reports.packet import PacketTrust

log = logging.getLogger(__name__)
# WeasyPrint logs every layout step at INFO; a 100-page dossier would flood worker logs.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
# A non-hierarchical base: relative URLs never turn into file paths or web addresses.
BASE_URL = "agstatic:"
# Whitespace with a line break between two tags: the template's indentation. Between blocks
# it is dropped by WeasyPrint anyway, after parsing it and building a box for it (about 2,000
# in a 60-item dossier); user text is escaped, so it never holds a literal "<" or ">".
_INDENT_BETWEEN_TAGS = re.compile(r">[ \t]*\n\s*<")


def dossier_html(
    context: DossierContext,
    *,
    kind: str,
    title: str,
    identifier: str,
    generated_by: str,
    language: str,
    reason: str = "",
    trust: PacketTrust | None = None,
) -> str:
    values: dict[str, Any] = {
        "kind": kind,
        "title": title,
        "dossier_identifier": identifier,
        "generated_by": generated_by,
        "language": language,
        "reason": reason,
        "case": context.case,
        "agency_name": context.agency_name,
        "artists": context.artists,
        "findings": context.findings,
        "items": context.items,
        "records": context.records,
        "capture_sections": context.capture_sections,
        "removals": context.removals,
        "trust": trust,
        "completeness": context.completeness,
        "incomplete_count": context.incomplete_count,
        "notices": context.notices,
        "timeline": context.timeline,
        "timeline_truncated": context.timeline_truncated,
        "detector_installed": context.detector_installed,
        "generated_utc": context.generated_utc,
        "generated_kst": context.generated_kst,
        "audit_anchor": context.audit_anchor,
    }
    with translation.override(language):
        html = render_to_string("reports/dossier.html", values)
    return _INDENT_BETWEEN_TAGS.sub("><", html)


def pdf_render(html: str, *, fetcher: LockedFetcher) -> bytes:
    """Render to PDF bytes. Fetch refusals are logged by WeasyPrint and leave the resource
    out; they never reach the network or the file system."""
    # WeasyPrint's box tree is some 10^5 objects that all live until the PDF is written,
    # built from millions of allocations: with the collector on, CPython walked the growing
    # heap again and again (5 to 6 full collections per 60-item dossier). Holding off only
    # the full ones took 0.7 to 0.9 s off a 5 s dossier; holding off all of them another
    # 15 % (5.9 / 6.0 s -> 5.1 / 4.7 s, alternating, docs/benchmarks.md, sixth session) for
    # 7 MB more at the peak. Reports render in single-threaded worker processes.
    with collections_paused():
        document = HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher)
        pdf: bytes = document.write_pdf()
    if fetcher.refused:
        log.warning(
            "dossier render refused %d resource(s): %s", len(fetcher.refused), fetcher.refused[:5]
        )
    return pdf


def fetcher_for(context: DossierContext, previews: PreviewSource) -> LockedFetcher:
    """A fetcher that serves previews of exactly this context's evidence items."""
    ids = {item.evidence.pk for item in context.items if item.has_preview}
    return LockedFetcher(previews=previews, evidence_ids=ids)
