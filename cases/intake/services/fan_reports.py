"""The public fan report: no login, no media shown, lands in the triage queue.

Repeats are counted, not stored twice: a report of a URL whose finding already has a report
from the same reporter within FAN_REPORT_REPEAT_WINDOW adds to that report's `repeat_count`
(and keeps any new words or screenshot on it). The same reporter means:
- both gave a contact: the same contact (case and spaces ignored);
- otherwise: the same client address (cases.kernel.net.clientip, behind the trusted proxies).
Both are kept only as keyed hashes (HMAC-SHA256 with a key derived from SECRET_KEY, per
agency): they can be compared, not read back, and an address cannot be found by hashing
all 2^32 IPv4 addresses without the key. Two fans behind one address who each leave a
contact stay two reports; one fan who reports from home and from a phone without a contact
is two reports (we cannot know better without tracking, which we do not do).

The fan sees the same thank-you page whatever happened."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from cases.agency.models import Artist
from cases.intake.fan_screenshots import FanScreenshotFile
from cases.intake.models import FanReport, FanScreenshot, Finding, FindingSource
from cases.intake.services.findings import finding_record
from cases.intake.signals import fan_screenshot_stored
from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency
from cases.kernel.storage import blob_put, blob_spool

DESCRIPTION_MAX = 5000
REPEAT_SEPARATOR = "\n\n---\n"


@dataclass(frozen=True)
class ReporterKeys:
    contact: str
    address: str


def _key(agency: Agency, kind: str, value: str) -> str:
    return salted_hmac(
        "agencyguard.fan_report.reporter", f"{agency.pk}:{kind}:{value}", algorithm="sha256"
    ).hexdigest()


def reporter_keys(*, agency: Agency, contact: str, client_address: str | None) -> ReporterKeys:
    """Keyed hashes of the contact and of the client address ("" for what is missing)."""
    normalised = " ".join(contact.split()).casefold()
    return ReporterKeys(
        contact=_key(agency, "contact", normalised) if normalised else "",
        address=_key(agency, "address", client_address) if client_address else "",
    )


def _same_reporter(report: FanReport, keys: ReporterKeys) -> bool:
    if keys.contact and report.contact_key:
        return report.contact_key == keys.contact
    return bool(keys.address) and report.address_key == keys.address


def _earlier_report(*, finding: Finding, keys: ReporterKeys) -> FanReport | None:
    """The first report of this finding by the same reporter within the window, locked."""
    since = timezone.now() - settings.FAN_REPORT_REPEAT_WINDOW
    candidates = (
        FanReport.objects.select_for_update()
        .filter(finding=finding, created_at__gte=since)
        .order_by("created_at", "id")
    )
    return next((report for report in candidates if _same_reporter(report, keys)), None)


def _repeat(*, report: FanReport, description: str, contact: str, keys: ReporterKeys) -> None:
    """Count a repeat on the earlier report, keeping new words and a contact it lacked."""
    matched_on = "contact" if keys.contact and report.contact_key else "address"
    report.repeat_count += 1
    report.last_repeated_at = timezone.now()
    added = bool(description) and description not in report.description
    if added:
        joined = (
            f"{report.description}{REPEAT_SEPARATOR}{description}"
            if report.description
            else description
        )
        report.description = joined[:DESCRIPTION_MAX]
    if contact and not report.contact:
        report.contact, report.contact_key = contact[:200], keys.contact
    report.save(
        update_fields=[
            "repeat_count",
            "last_repeated_at",
            "description",
            "contact",
            "contact_key",
        ]
    )
    audit_record(
        agency=report.agency,
        actor=AnonymousUser(),
        action="fan_report.repeated",
        obj=report,
        data={
            "finding": report.finding_id,
            "repeat_count": report.repeat_count,
            "description_added": added,
            "matched_on": matched_on,
        },
    )


def _screenshot_store(*, report: FanReport, screenshot: FanScreenshotFile) -> FanScreenshot:
    """Keep the screenshot write-once under its SHA-256; a second copy of the same bytes on
    the same report is the row already there."""
    with blob_spool(screenshot.data) as spooled:
        blob_put(spooled)
    shot, created = FanScreenshot.objects.get_or_create(
        report=report,
        sha256=spooled.sha256,
        defaults={
            "agency": report.agency,
            "size": spooled.size,
            "media_type": screenshot.media_type,
            "width": screenshot.width,
            "height": screenshot.height,
        },
    )
    if created:
        audit_record(
            agency=report.agency,
            actor=AnonymousUser(),
            action="fan_screenshot.stored",
            obj=shot,
            data={"report": report.pk, "sha256": shot.sha256, "size": shot.size},
        )
        fan_screenshot_stored.send(sender=FanScreenshot, screenshot_id=shot.pk)
    return shot


def fan_report_submit(
    *,
    agency: Agency,
    url: str,
    artist: Artist | None,
    description: str = "",
    contact: str = "",
    client_address: str | None = None,
    screenshot: FanScreenshotFile | None = None,
) -> FanReport:
    """Record the URL (or find the existing finding) and keep the fan's report beside it,
    or count a repeat on the reporter's earlier report (module docstring). Raises
    InvalidURL for a URL that cannot be recorded."""
    artist = artist if artist is not None and artist.agency_id == agency.pk else None
    description = description[:DESCRIPTION_MAX]
    keys = reporter_keys(agency=agency, contact=contact, client_address=client_address)
    with transaction.atomic():
        finding, _created = finding_record(
            agency=agency,
            url=url,
            actor=AnonymousUser(),
            source=FindingSource.FAN_REPORT,
            artists=[artist] if artist else [],
        )
        if artist is not None:
            finding.artists.add(artist)
        report = _earlier_report(finding=finding, keys=keys)
        if report is not None:
            _repeat(report=report, description=description, contact=contact, keys=keys)
        else:
            report = FanReport.objects.create(
                agency=agency,
                finding=finding,
                artist=artist,
                description=description,
                contact=contact[:200],
                contact_key=keys.contact,
                address_key=keys.address,
            )
            audit_record(
                agency=agency,
                actor=AnonymousUser(),
                action="fan_report.received",
                obj=report,
                data={"finding": finding.pk},
            )
        if screenshot is not None:
            _screenshot_store(report=report, screenshot=screenshot)
    return report
