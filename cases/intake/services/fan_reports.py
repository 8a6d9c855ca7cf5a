"""The public fan report: no login, no media shown, lands in the triage queue."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from cases.agency.models import Artist
from cases.intake.models import FanReport, FindingSource
from cases.intake.services.findings import finding_record
from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency


def fan_report_submit(
    *, agency: Agency, url: str, artist: Artist | None, description: str = "", contact: str = ""
) -> FanReport:
    """Record the URL (or find the existing finding) and keep the fan's report beside it.
    Raises InvalidURL for a URL that cannot be recorded."""
    with transaction.atomic():
        finding, _created = finding_record(
            agency=agency,
            url=url,
            actor=AnonymousUser(),
            source=FindingSource.FAN_REPORT,
            artists=[artist] if artist else [],
        )
        if artist is not None and artist.agency_id == agency.pk:
            finding.artists.add(artist)
        report = FanReport.objects.create(
            agency=agency,
            finding=finding,
            artist=artist if artist and artist.agency_id == agency.pk else None,
            description=description[:5000],
            contact=contact[:200],
        )
        audit_record(
            agency=agency,
            actor=AnonymousUser(),
            action="fan_report.received",
            obj=report,
            data={"finding": finding.pk},
        )
    return report
